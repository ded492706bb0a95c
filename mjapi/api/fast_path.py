"""``GET /v2/jobs/?jobid=`` answered ahead of FastAPI when it succeeds.

The job read is the request clients send most (a client without a callback polls each of its
jobs every second or so), and once mjapi's own work for it is as small as it is (the token from
the cache, a rate-limit token, the job from memory, its body encoded once per version), FastAPI's
layers around it cost more than all of that: middleware, routing, exception handling and
dependency machinery are about 60 % of a bare FastAPI hello-world request (py-spy,
``bench.api_overhead``). ``MjapiApp`` answers such a read itself when it can answer it completely
and hands every other request to FastAPI untouched.

"When it can" is kept narrow, so that everything else has one implementation, the route's
(``routes.jobs.get_job``):

* the request is exactly ``GET /v2/jobs/`` with one query parameter, ``jobid``;
* its bearer token is in the token cache (a token's first request, or one the cache let go, is
  checked against the store by the route, which caches it);
* the caller is within its rate limit, and the jobid is valid and names one of its jobs;
* no middleware was added to the app, and FastAPI's own OpenTelemetry is off: both must see
  every request.

Anything else, every error included, goes to the route and is answered exactly as before. A
request handed on after it took its rate-limit token carries its caller in the scope
(``deps.CALLER_KEY``), so the route does not take a second one. An unexpected exception here
hands the request on as well: the route meets the problem again and answers it with the 500
envelope through FastAPI's handlers, which log it. The answer of the fast path is byte for byte
the route's (``tests/integration/test_fast_path.py`` compares the two), and uvicorn writes the
access-log line for both alike.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from mjapi.api import validation
from mjapi.api.deps import CALLER_KEY, bearer_token
from mjapi.api.job_bodies import json_headers
from mjapi.api.routes.jobs import BODIES
from mjapi.domain.tokens import hash_token
from mjapi.errors import MjapiError

log = logging.getLogger(__name__)

#: The path of the one request the fast path answers (GET only).
JOB_READ_PATH = "/v2/jobs/"


class MjapiApp(FastAPI):
    """FastAPI, with successful job reads answered before its middleware and routing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == JOB_READ_PATH and scope["method"] == "GET":
            body = await self._fast_job_read(scope)
            if body is not None:
                await _send_ok(send, body)
                return
        await super().__call__(scope, receive, send)

    async def _fast_job_read(self, scope: Scope) -> bytes | None:
        """The body of the 200 answer, or None when the route is to answer the request."""
        if self.user_middleware or _instrumented(self):
            return None
        try:
            return await job_read(self, scope)
        except MjapiError:
            return None
        except Exception:
            log.debug("job read handed to the route after an error", exc_info=True)
            return None


async def job_read(app: FastAPI, scope: Scope) -> bytes | None:
    """What ``routes.jobs.get_job`` answers with 200, when it can be told without it; else None.

    Raises what the route would raise for the same request once the caller is known (a bad or
    unknown jobid): the route answers those.
    """
    token = bearer_token(_authorization(scope))
    if token is None:
        return None
    owner = app.state.token_cache.owner(hash_token(token))
    if owner is None:
        return None
    pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "jobid":
        return None
    if app.state.limiter.take(owner) is not None:
        return None  # the route takes again, is refused again, and answers 429 with Retry-After
    scope[CALLER_KEY] = owner
    job = await app.state.engine.job(owner, validation.jobid(pairs[0][1]))
    return BODIES.body(job)


async def _send_ok(send: Send, body: bytes) -> None:
    """What ``json_response(body)`` sends (Starlette's ``Response.__call__``)."""
    await send({"type": "http.response.start", "status": 200, "headers": json_headers(body)})
    await send({"type": "http.response.body", "body": body})


def _authorization(scope: Scope) -> str:
    """The first Authorization header, as Starlette's ``request.headers.get`` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return ""


def _instrumented(app: FastAPI) -> bool:
    """Whether FastAPI's native OpenTelemetry (FastAPI >= 0.16x) would trace this request."""
    telemetry: Any = getattr(app, "_native_telemetry", None)
    return telemetry is not None and bool(telemetry.enabled())
