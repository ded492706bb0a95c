"""``/v2/jobs``: create jobs, read them, list the running ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mjapi.api import validation
from mjapi.api.body import read_body
from mjapi.api.deps import CallerDep, EngineDep
from mjapi.api.schemas import ImagineBody, body_doc, error_docs
from mjapi.domain.jobs import Job, JobStatus
from mjapi.domain.model import job_model

router = APIRouter(prefix="/v2/jobs", tags=["jobs"])


def job_response(job: Job) -> JSONResponse:
    """200 with the job, or 422 when Midjourney moderated it (useapi's imagine semantics)."""
    status = 422 if job.status is JobStatus.MODERATED else 200
    return JSONResponse(job_model(job, status), status_code=status)


@router.post(
    "/imagine",
    openapi_extra=body_doc(ImagineBody),
    responses=error_docs(400, 401, 404, 422, 429, 502, 596),
    summary="Run /imagine; answers once Midjourney has acknowledged the job",
)
async def imagine(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    parsed = validation.imagine_request(await read_body(request))
    return job_response(await engine.imagine(caller, parsed))


@router.get("/", responses=error_docs(400, 401, 404), summary="One job by ?jobid=")
async def get_job(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> JSONResponse:
    job = await engine.job(caller, validation.jobid(jobid))
    return JSONResponse(job_model(job))


@router.get("", responses=error_docs(401), summary="Ids of the caller's running jobs")
async def list_jobs(caller: CallerDep, engine: EngineDep, jobid: str | None = None) -> Any:
    if jobid is not None:
        return JSONResponse(job_model(await engine.job(caller, validation.jobid(jobid))))
    return engine.running(caller)
