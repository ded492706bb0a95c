"""``/v2/jobs``: create jobs, read them, list and cancel the running ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mjapi.api import validation
from mjapi.api.body import read_body
from mjapi.api.deps import CallerDep, EngineDep
from mjapi.api.schemas import (
    BlendBody,
    ButtonBody,
    DescribeBody,
    ImagineBody,
    JobOptionsBody,
    SeedBody,
    body_doc,
    error_docs,
)
from mjapi.domain.jobs import Job, JobStatus
from mjapi.domain.model import job_model
from mjapi.engine.requests import SettingRequest
from mjapi.transports.base import Setting

router = APIRouter(prefix="/v2/jobs", tags=["jobs"])

JOB_ERRORS = error_docs(400, 401, 404, 422, 429, 502, 504, 596)


def job_response(job: Job) -> JSONResponse:
    """200 with the job, or 422 when Midjourney moderated it (useapi's semantics)."""
    status = 422 if job.status is JobStatus.MODERATED else 200
    return JSONResponse(job_model(job, status), status_code=status)


@router.post(
    "/imagine",
    openapi_extra=body_doc(ImagineBody),
    responses=JOB_ERRORS,
    summary="Run /imagine; answers once Midjourney has acknowledged the job",
)
async def imagine(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    parsed = validation.imagine_request(await read_body(request))
    return job_response(await engine.imagine(caller, parsed))


@router.post(
    "/button",
    openapi_extra=body_doc(ButtonBody),
    responses=error_docs(400, 401, 404, 409, 422, 429, 502, 504, 596),
    summary="Click a button (U1-U4, V1-V4, 🔄, Vary, Zoom, pans, upscalers, video) of a job",
)
async def button(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    parsed = validation.button_request(await read_body(request))
    return job_response(await engine.button(caller, parsed))


@router.post(
    "/blend",
    openapi_extra=body_doc(BlendBody),
    responses=JOB_ERRORS,
    summary="Blend 2-5 images (downloaded by the server, uploaded to Discord)",
)
async def blend(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    parsed = validation.blend_request(await read_body(request))
    return job_response(await engine.blend(caller, parsed))


@router.post(
    "/describe",
    openapi_extra=body_doc(DescribeBody),
    responses=JOB_ERRORS,
    summary="Describe an image: four prompt suggestions arrive in embeds",
)
async def describe(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    parsed = validation.describe_request(await read_body(request))
    return job_response(await engine.describe(caller, parsed))


@router.post(
    "/seed_async",
    openapi_extra=body_doc(SeedBody),
    responses=JOB_ERRORS,
    summary="Retrieve the seed and the four images of a completed image job",
)
async def seed_async(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    parsed = validation.seed_request(await read_body(request))
    return job_response(await engine.seed(caller, parsed))


@router.post(
    "/seed",
    openapi_extra=body_doc(SeedBody),
    responses=JOB_ERRORS,
    summary="Deprecated by useapi (routed to seed_async since 2024-11-01)",
    deprecated=True,
)
async def seed(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    return await seed_async(request, caller, engine)


def _setting_route(setting: Setting) -> None:
    async def run(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
        options = validation.job_options(await read_body(request))
        return job_response(await engine.setting(caller, SettingRequest(setting, options)))

    router.add_api_route(
        f"/{setting.value}",
        run,
        methods=["POST"],
        openapi_extra=body_doc(JobOptionsBody, required=False),
        responses=error_docs(400, 401, 404, 502, 596),
        summary=f"Run Midjourney's {SETTING_COMMANDS[setting]} and answer with its reply",
        name=f"jobs_{setting.value}",
    )


SETTING_COMMANDS = {
    Setting.INFO: "/info",
    Setting.FAST: "/fast",
    Setting.RELAX: "/relax",
    Setting.TURBO: "/turbo",
    Setting.VARIABILITY: "/prefer variability",
    Setting.REMIX: "/prefer remix",
}
for _setting in Setting:
    _setting_route(_setting)


@router.get("/cancel/", responses=error_docs(400, 401, 404), summary="Cancel a job by ?jobid=")
async def cancel(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> JSONResponse:
    job = await engine.cancel(caller, validation.jobid(jobid))
    return JSONResponse({"jobid": job.jobid, "status": job.status.value, "code": 200})


@router.get("/", responses=error_docs(400, 401, 404), summary="One job by ?jobid=")
async def get_job(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> JSONResponse:
    job = await engine.job(caller, validation.jobid(jobid))
    return JSONResponse(job_model(job))


@router.get("", responses=error_docs(401), summary="Ids of the caller's running jobs")
async def list_jobs(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> Any:
    if jobid is not None:
        return JSONResponse(job_model(await engine.job(caller, validation.jobid(jobid))))
    return engine.running(caller)
