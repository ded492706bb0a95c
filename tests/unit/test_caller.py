"""get_caller: one token check and one rate-limit token per request, however often it is asked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from mjapi.api.deps import get_caller
from mjapi.api.ratelimit import RequestLimiter
from mjapi.api.token_cache import TokenCache
from mjapi.domain.tokens import hash_token, new_token
from mjapi.errors import TooManyRequests, Unauthorized

TOKEN = new_token(7)


class NoTokens:
    """A store that knows no token besides those already in the cache."""

    async def token_owner(self, token_hash: str) -> int | None:
        return None


def app_state(burst: int) -> Any:
    """What get_caller reads from ``request.app``: the token already verified and cached."""
    cache = TokenCache(lambda: 0.0)
    cache.remember(hash_token(TOKEN), 7)
    limiter = RequestLimiter(rate=0.001, burst=burst, monotonic=lambda: 0.0)
    state = SimpleNamespace(token_cache=cache, limiter=limiter, store=NoTokens())
    return SimpleNamespace(state=state)


def request(app: Any, authorization: str = f"Bearer {TOKEN}") -> Request:
    headers = [(b"authorization", authorization.encode())]
    return Request({"type": "http", "headers": headers, "app": app, "query_string": b""})


async def test_asking_twice_in_one_request_takes_one_rate_limit_token() -> None:
    """A route that calls get_caller itself, under a router dependency that declares it."""
    app = app_state(burst=1)
    one = request(app)
    assert await get_caller(one) == 7
    assert await get_caller(one) == 7
    with pytest.raises(TooManyRequests):
        await get_caller(request(app))


async def test_a_refused_token_is_refused_every_time_it_is_asked() -> None:
    bad = request(app_state(burst=5), "Bearer user:7-not-the-token")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await get_caller(bad)
