"""The fast path of GET /v2/jobs/?jobid= answers byte for byte what the route answers.

Each request is sent twice, straight to the app's ASGI callable: once as served (``MjapiApp``, the
fast path first) and once through FastAPI's own ``__call__`` (middleware, routing, the route).
The two exchanges must be equal, and for reads the fast path can answer, it must have answered.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from mjapi.api.fast_path import MjapiApp, job_read
from mjapi.domain.jobs import Job, JobStatus
from tests.factories import make_job
from tests.integration.api_rig import OWNER, ApiRig, api_rig

OTHER = 2

AsgiCall = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


Served = ApiRig


def app_of(served: Served) -> MjapiApp:
    assert isinstance(served.app, MjapiApp)
    return served.app


def auth(served: Served) -> list[tuple[bytes, bytes]]:
    """The user's token as an ASGI header."""
    return [(b"authorization", f"Bearer {served.token}".encode())]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with api_rig(tmp_path, rate_limit=0) as each:
        yield each


def scope_of(query: bytes, headers: list[tuple[bytes, bytes]], path: str = "/v2/jobs/") -> Any:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


async def exchange(call: AsgiCall, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await call(dict(scope), receive, send)
    return sent


async def both_ways(served: Served, query: bytes, headers: list[tuple[bytes, bytes]]) -> Any:
    """The exchange as served and through the route; asserts they are equal; the served one."""
    scope = scope_of(query, headers)
    fast = await exchange(app_of(served), scope)

    async def route_only(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await FastAPI.__call__(app_of(served), scope, receive, send)

    routed = await exchange(route_only, scope)
    assert fast == routed
    return fast


def status_of(messages: list[dict[str, Any]]) -> int:
    status: int = messages[0]["status"]
    return status


async def stored(served: Served, jobid_tail: str, **changes: Any) -> Job:
    job = make_job(
        jobid=f"job:20250102030405678-user:{changes.get('owner', OWNER)}-channel:{jobid_tail}",
        channel=served.channel,
        **changes,
    )
    await served.store.insert_job(job)
    return job


async def cache_the_token(served: Served) -> None:
    """A token's first request is checked by the route, which caches it for the fast path."""
    reply = await served.client.get("/v2/jobs/", params={"jobid": "warm-up"})
    assert reply.status_code == 404


async def test_reads_the_fast_path_answers_equal_the_routes(served: Served) -> None:
    await cache_the_token(served)
    done = await stored(served, "10", status=JobStatus.COMPLETED, prompt="a café 🌙")
    moderated = await stored(served, "11", status=JobStatus.MODERATED)
    started = await served.client.post("/v2/jobs/imagine", json={"prompt": "a running job"})
    running = started.json()["jobid"]
    for jobid in (done.jobid, moderated.jobid, running):
        for query in (f"jobid={jobid}", "jobid=" + jobid.replace(":", "%3A"), f"jobid=+{jobid}"):
            scope = scope_of(query.encode(), auth(served))
            assert await job_read(app_of(served), scope) is not None, "the fast path answers it"
            messages = await both_ways(served, query.encode(), auth(served))
            assert status_of(messages) == 200


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        (b"jobid=J", [], 401),
        (b"jobid=J", [(b"authorization", b"Basic abc")], 401),
        (b"jobid=J", [(b"authorization", b"Bearer user:1-unknowntoken1234")], 401),
        (b"", None, 400),
        (b"jobid=", None, 400),
        (b"jobid=%20", None, 400),
        (b"jobid=nope", None, 404),
        (b"jobid=OTHER", None, 404),
        (b"jobid=J&jobid=nope", None, 404),
        (b"jobid=nope&jobid=J", None, 200),
        (b"jobid=J&x=1", None, 200),
        (b"jobid=%FF", None, 404),
    ],
)
async def test_every_other_read_gets_the_routes_answer(
    served: Served, query: bytes, headers: list[tuple[bytes, bytes]] | None, status: int
) -> None:
    await cache_the_token(served)
    mine = await stored(served, "20", status=JobStatus.COMPLETED)
    theirs = await stored(served, "21", status=JobStatus.COMPLETED, owner=OTHER)
    query = query.replace(b"OTHER", theirs.jobid.encode()).replace(b"J", mine.jobid.encode())
    messages = await both_ways(served, query, auth(served) if headers is None else headers)
    assert status_of(messages) == status


async def test_a_read_handed_to_the_route_takes_one_rate_limit_token(tmp_path: Path) -> None:
    """Six tokens, a very slow refill: each request takes one, whichever way it is answered."""
    async with api_rig(tmp_path, rate_limit=0.001, rate_limit_burst=6) as served:
        await cache_the_token(served)  # the second token (adding the account took the first)
        done = await stored(served, "30", status=JobStatus.COMPLETED)
        answered = await exchange(
            app_of(served), scope_of(f"jobid={done.jobid}".encode(), auth(served))
        )
        unknown = await exchange(app_of(served), scope_of(b"jobid=nope", auth(served)))
        blank = await exchange(app_of(served), scope_of(b"jobid=", auth(served)))
        last = await exchange(
            app_of(served), scope_of(f"jobid={done.jobid}".encode(), auth(served))
        )
        assert [status_of(m) for m in (answered, unknown, blank, last)] == [200, 404, 400, 200]
        refused = await exchange(
            app_of(served), scope_of(f"jobid={done.jobid}".encode(), auth(served))
        )
        assert status_of(refused) == 429
        assert (b"retry-after", b"1000") in refused[0]["headers"]


async def test_a_read_answered_by_the_fast_path_has_its_access_log_line(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn writes the line when the answer starts, whoever sends it: the fast path too."""
    await cache_the_token(served)
    done = await stored(served, "40", status=JobStatus.COMPLETED)
    assert await job_read(app_of(served), scope_of(f"jobid={done.jobid}".encode(), auth(served)))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # A second server on the running app (lifespan off: the first one started it), with
    # uvicorn's access log on as ``mjapi serve`` has it.
    config = uvicorn.Config(app_of(served), lifespan="off", log_config=None, access_log=True)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn has no event for it)
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v2/jobs/"
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            async with httpx.AsyncClient() as client:
                reply = await client.get(
                    url,
                    params={"jobid": done.jobid},
                    headers={"Authorization": f"Bearer {served.token}"},
                )
        assert reply.status_code == 200
    finally:
        server.should_exit = True
        await serving
        sock.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert len(lines) == 1 and '"GET /v2/jobs/?jobid=' in lines[0] and lines[0].endswith(" 200")
