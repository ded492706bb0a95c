"""Dependencies shared by the routes: the engine, the store, and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mjapi.api.ratelimit import RequestLimiter
from mjapi.api.token_cache import TokenCache
from mjapi.domain.tokens import hash_token
from mjapi.engine import Engine
from mjapi.errors import TooManyRequests, Unauthorized
from mjapi.storage.base import Store


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_caller(request: Request) -> int:
    """The user id behind the request's ``Authorization: Bearer <token>``, within its rate."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    owner = await _owner(request, hash_token(token.strip()))
    if owner is None:
        raise Unauthorized()
    limiter: RequestLimiter = request.app.state.limiter
    wait = limiter.take(owner)
    if wait is not None:
        raise TooManyRequests(wait)
    return owner


async def _owner(request: Request, token_hash: str) -> int | None:
    cache: TokenCache = request.app.state.token_cache
    owner = cache.owner(token_hash)
    if owner is None:
        owner = await get_store(request).token_owner(token_hash)
        if owner is not None:
            cache.remember(token_hash, owner)
    return owner


EngineDep = Annotated[Engine, Depends(get_engine)]
CallerDep = Annotated[int, Depends(get_caller)]
