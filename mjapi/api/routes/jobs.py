"""``/v2/jobs``: create jobs, read them, list and cancel the running ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from mjapi.api import validation
from mjapi.api.body import read_body
from mjapi.api.deps import REPLY_URL_CHECKED, CallerDep, EngineDep, app_engine, get_caller
from mjapi.api.job_bodies import JobBodies, json_response
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
from mjapi.engine.requests import SettingRequest
from mjapi.transports.base import Setting

router = APIRouter(prefix="/v2/jobs", tags=["jobs"])

JOB_ERRORS = error_docs(400, 401, 404, 422, 429, 502, 504, 596)

#: ``?jobid=`` as FastAPI documents a ``jobid: str | None = None`` parameter.
JOBID_PARAMETER = {
    "name": "jobid",
    "in": "query",
    "required": False,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Jobid"},
}

#: Encoded job bodies, shared by every app in the process (a memo of a pure function).
BODIES = JobBodies()


def job_response(job: Job) -> Response:
    """200 with the job, or 422 when Midjourney moderated it (useapi's semantics)."""
    status = 422 if job.status is JobStatus.MODERATED else 200
    return json_response(BODIES.body(job, status), status)


# The reads come first: routes are matched in order, and these are polled the most.
@router.get(
    "/",
    responses=error_docs(400, 401, 404),
    summary="One job by ?jobid=",
    openapi_extra={"parameters": [JOBID_PARAMETER]},
)
async def get_job(request: Request) -> Response:
    # The most frequent request of all, so no declared dependency or parameter: FastAPI spends
    # about 10 us solving each (py-spy, bench.api_overhead), as much as this whole function.
    # The same checks, in the same order: caller (401, 429), jobid (400), job (404).
    caller = await get_caller(request)
    jobid = validation.jobid(request.query_params.get("jobid"))
    job = await app_engine(request).job(caller, jobid)
    return json_response(BODIES.body(job))


@router.get("", responses=error_docs(401), summary="Ids of the caller's running jobs")
async def list_jobs(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> Any:
    if jobid is not None:
        return json_response(BODIES.body(await engine.job(caller, validation.jobid(jobid))))
    return engine.running(caller)


@router.get("/cancel/", responses=error_docs(400, 401, 404), summary="Cancel a job by ?jobid=")
async def cancel(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> JSONResponse:
    job = await engine.cancel(caller, validation.jobid(jobid))
    return JSONResponse({"jobid": job.jobid, "status": job.status.value, "code": 200})


@router.post(
    "/imagine",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(ImagineBody),
    responses=JOB_ERRORS,
    summary="Run /imagine; answers once Midjourney has acknowledged the job",
)
async def imagine(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    parsed = validation.imagine_request(await read_body(request))
    return job_response(await engine.imagine(caller, parsed))


@router.post(
    "/button",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(ButtonBody),
    responses=error_docs(400, 401, 404, 409, 422, 429, 502, 504, 596),
    summary="Click a button (U1-U4, V1-V4, 🔄, Vary, Zoom, pans, upscalers, video) of a job",
)
async def button(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    parsed = validation.button_request(await read_body(request))
    return job_response(await engine.button(caller, parsed))


@router.post(
    "/blend",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(BlendBody),
    responses=JOB_ERRORS,
    summary="Blend 2-5 images (downloaded by the server, uploaded to Discord)",
)
async def blend(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    parsed = validation.blend_request(await read_body(request))
    return job_response(await engine.blend(caller, parsed))


@router.post(
    "/describe",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(DescribeBody),
    responses=JOB_ERRORS,
    summary="Describe an image: four prompt suggestions arrive in embeds",
)
async def describe(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    parsed = validation.describe_request(await read_body(request))
    return job_response(await engine.describe(caller, parsed))


@router.post(
    "/seed_async",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(SeedBody),
    responses=JOB_ERRORS,
    summary="Retrieve the seed and the four images of a completed image job",
)
async def seed_async(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    parsed = validation.seed_request(await read_body(request))
    return job_response(await engine.seed(caller, parsed))


@router.post(
    "/seed",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(SeedBody),
    responses=JOB_ERRORS,
    summary="Deprecated by useapi (routed to seed_async since 2024-11-01)",
    deprecated=True,
)
async def seed(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    return await seed_async(request, caller, engine)


def _setting_route(setting: Setting) -> None:
    async def run(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
        options = validation.job_options(await read_body(request))
        return job_response(await engine.setting(caller, SettingRequest(setting, options)))

    router.add_api_route(
        f"/{setting.value}",
        run,
        methods=["POST"],
        dependencies=REPLY_URL_CHECKED,
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
