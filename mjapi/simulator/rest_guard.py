"""What stands before every REST endpoint: injected faults, then Discord's rate limits.

Order matters and follows what a client can observe: a request sent before the moment it was
told is early (429 again, whatever else is planned), then a REST fault rule may answer it
instead of the endpoint (the request then has no effect), then it is counted in its bucket's
window. Every answer that got through carries the ``X-RateLimit-*`` headers, error answers of
the endpoint included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mjapi.clock import Clock
from mjapi.simulator.errors import DiscordError
from mjapi.simulator.faults import FaultControl, FaultRule
from mjapi.simulator.ratelimits import RateLimiter, Refused, headers, refusal_body
from mjapi.simulator.stats import SimStats

Endpoint = Callable[[Request], Awaitable[Response]]


class RestGuard:
    """Wraps the REST endpoints with fault rules, rate limits and their counters."""

    def __init__(
        self, faults: FaultControl, limiter: RateLimiter, stats: SimStats, clock: Clock
    ) -> None:
        self._faults = faults
        self._limiter = limiter
        self._stats = stats
        self._clock = clock

    def wrap(self, route: str, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` behind the guard; ``route`` its key (``ratelimits.ROUTE_KEYS``)."""

        async def guarded(request: Request) -> Response:
            return await self._handle(route, endpoint, request)

        guarded.__name__ = getattr(endpoint, "__name__", route)
        return guarded

    async def _handle(self, route: str, endpoint: Endpoint, request: Request) -> Response:
        self._stats.rest_requests += 1
        token = request.headers.get("authorization") or ""
        major = _major_parameter(request)
        early = self._limiter.early(token, route, major)
        if early is not None:
            return self._too_many(early)
        rule = self._faults.take_request(token or None, route)
        if rule is not None:
            return self._fault(token, route, major, rule)
        verdict = self._limiter.admit(token, route, major)
        if isinstance(verdict, Refused):
            return self._too_many(verdict)
        try:
            response = await endpoint(request)
        except DiscordError as error:
            response = JSONResponse(error.body, status_code=error.status)
        response.headers.update(headers(verdict, self._epoch()))
        return response

    def _fault(self, token: str, route: str, major: str, rule: FaultRule) -> Response:
        if rule.fault == "rate_limit":
            refused = self._limiter.penalize(token, route, rule.retry_after, rule.is_global, major)
            return self._too_many(refused)
        self._stats.server_errors += 1
        body = {"message": f"{rule.status}: {_phrase(rule.status)}", "code": 0}
        return JSONResponse(body, status_code=rule.status)

    def _too_many(self, refused: Refused) -> Response:
        self._stats.rate_limited += 1
        if refused.early:
            self._stats.early_requests += 1
        return JSONResponse(
            refusal_body(refused), status_code=429, headers=headers(refused, self._epoch())
        )

    def _epoch(self) -> float:
        return self._clock.now().timestamp()


def _major_parameter(request: Request) -> str:
    """The path's channel or guild id: Discord keeps separate buckets per major parameter."""
    params = request.path_params
    return str(params.get("channel_id") or params.get("guild_id") or "")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server Error"
