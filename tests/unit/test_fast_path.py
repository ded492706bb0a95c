"""MjapiApp's fast path: when it answers a job read itself and when it leaves it to FastAPI.

What it answers is compared with the route's answer in tests/integration/test_fast_path.py; here
are the conditions, with the app's state made by hand (no server, no store).
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Message

from mjapi.api.fast_path import MjapiApp
from mjapi.api.ratelimit import RequestLimiter
from mjapi.api.routes.jobs import BODIES
from mjapi.api.token_cache import TokenCache
from mjapi.domain.jobs import Job
from mjapi.domain.tokens import hash_token, new_token
from mjapi.errors import NotFound
from tests.factories import make_job

TOKEN = new_token(7)
JOB = make_job(owner=7)


class Jobs:
    """The engine's ``job`` read, over one job; ``failure`` makes it raise."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.reads = 0

    async def job(self, owner: int, jobid: str) -> Job:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        if owner != JOB.owner or jobid != JOB.jobid:
            raise NotFound(f"Unable to locate job {jobid}")
        return JOB


def app_with(jobs: Jobs, **fastapi: Any) -> MjapiApp:
    app = MjapiApp(**fastapi)
    cache = TokenCache(lambda: 0.0)
    cache.remember(hash_token(TOKEN), 7)
    app.state.token_cache = cache
    app.state.limiter = RequestLimiter(rate=0, burst=1, monotonic=lambda: 0.0)
    app.state.engine = jobs
    return app


def read(query: str = f"jobid={JOB.jobid}", method: str = "GET") -> Any:
    headers = [(b"authorization", f"Bearer {TOKEN}".encode())]
    return {
        "type": "http",
        "method": method,
        "path": "/v2/jobs/",
        "query_string": query.encode(),
        "headers": headers,
    }


async def test_a_read_it_can_answer_is_answered_with_the_jobs_body() -> None:
    app = app_with(Jobs())
    assert await app._fast_job_read(read()) == BODIES.body(JOB)


async def test_an_error_of_the_read_leaves_the_request_to_the_route() -> None:
    for failure in (NotFound("Unable to locate job"), RuntimeError("the store is gone")):
        jobs = Jobs(failure)
        assert await app_with(jobs)._fast_job_read(read()) is None
        assert jobs.reads == 1


async def test_with_a_middleware_every_request_goes_through_fastapi() -> None:
    jobs = Jobs()
    app = app_with(jobs)
    app.add_middleware(GZipMiddleware)
    assert await app._fast_job_read(read()) is None
    assert jobs.reads == 0


async def test_with_fastapi_tracing_on_every_request_goes_through_fastapi() -> None:
    pytest.importorskip("fastapi.telemetry")
    from opentelemetry.trace import NoOpTracerProvider

    jobs = Jobs()
    app = app_with(jobs, telemetry={"tracer_provider": NoOpTracerProvider()})
    assert await app._fast_job_read(read()) is None
    assert jobs.reads == 0


@pytest.mark.parametrize("method", ["HEAD", "POST", "DELETE"])
async def test_only_a_get_is_answered_by_the_fast_path(method: str) -> None:
    jobs = Jobs()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app_with(jobs)(read(method=method), receive, send)
    assert jobs.reads == 0
    assert sent[0]["status"] == 404  # this app has no routes: FastAPI answered
