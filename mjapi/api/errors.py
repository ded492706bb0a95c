"""The one place where errors become useapi's envelope ``{"error": ..., "code": N}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mjapi.domain.model import job_model
from mjapi.engine.rules import AlreadyExecuted
from mjapi.engine.verdicts import JobAnswered
from mjapi.errors import Busy, MjapiError, RateLimited, TooManyRequests

log = logging.getLogger(__name__)


def envelope(
    status: int,
    error: str,
    details: str | None = None,
    *,
    retry_after: float | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"error": _printable(error)}
    if details:
        body["errorDetails"] = _printable(details)
    body.update(extra)
    body["code"] = status
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def _printable(text: str) -> str:
    """Error texts quote client input, which may hold lone surrogates JSON cannot carry."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


async def _mjapi_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MjapiError)
    if isinstance(exc, JobAnswered):
        return _job_answer(exc)
    if isinstance(exc, AlreadyExecuted):
        return envelope(exc.status, exc.message, button=exc.button, jobid=exc.child_jobid)
    if isinstance(exc, Busy):
        return envelope(
            exc.status,
            exc.message,
            exc.details,
            retry_after=exc.retry_after,
            executingJobs=exc.executing_jobs,
        )
    if isinstance(exc, RateLimited | TooManyRequests):
        return envelope(exc.status, exc.message, exc.details, retry_after=exc.retry_after)
    return envelope(exc.status, exc.message, exc.details)


def _job_answer(exc: JobAnswered) -> JSONResponse:
    """useapi answers 429 (Queue full), 504 (Job queued) and 596 with the job itself."""
    body = job_model(exc.job, exc.status)
    body["error"] = _printable(exc.message)
    if exc.details:
        body["errorDetails"] = _printable(exc.details)
    return JSONResponse(body, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    text = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    return envelope(exc.status_code, text)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    return envelope(400, f"Invalid param {where}: {first.get('msg', 'invalid value')}")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return envelope(500, "Internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(MjapiError, _mjapi_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
