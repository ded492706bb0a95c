"""Dependencies shared by the routes: the engine, the store, and the authenticated caller.

All are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
on every request for what is an attribute read. Each dependency also costs a step of FastAPI's
dependency solving, so the hot routes (``GET /v2/jobs/?jobid=``) use as few as they can.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from mjapi.api import validation
from mjapi.api.body import read_body
from mjapi.api.ratelimit import RequestLimiter
from mjapi.api.token_cache import TokenCache
from mjapi.domain.tokens import hash_token
from mjapi.engine import Engine
from mjapi.errors import BadRequest, TooManyRequests, Unauthorized
from mjapi.net import Outbound, Refused, ResolutionFailed, refused_url
from mjapi.storage.base import Store

#: How long a job request waits for its replyUrl's host to resolve before going on unchecked.
REPLY_URL_CHECK_SECONDS = 5.0


async def get_engine(request: Request) -> Engine:
    return app_engine(request)


async def get_store(request: Request) -> Store:
    return app_store(request)


def app_engine(request: Request) -> Engine:
    """The engine of the app serving ``request`` (for routes that skip the dependency)."""
    engine: Engine = request.app.state.engine
    return engine


def app_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


#: Where ``get_caller`` keeps its answer in the request's scope (the fast path of
#: ``api.fast_path`` puts it there too, for a request it hands on after taking its rate token).
CALLER_KEY = "mjapi.caller"


async def get_caller(request: Request) -> int:
    """The user id behind the request's ``Authorization: Bearer <token>``, within its rate.

    Checked once per request, however many times it is asked for: FastAPI caches it for the
    dependencies that declare it, and routes that call it directly (to skip dependency solving)
    find it in the scope, so that a request never takes two tokens from the rate limiter.
    """
    caller: int | None = request.scope.get(CALLER_KEY)
    if caller is None:
        caller = request.scope[CALLER_KEY] = await _check_caller(request)
    return caller


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header's value; None for anything else."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _check_caller(request: Request) -> int:
    token = bearer_token(request.headers.get("authorization", ""))
    if token is None:
        raise Unauthorized()
    owner = await _owner(request, hash_token(token))
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
        owner = await app_store(request).token_owner(token_hash)
        if owner is not None:
            cache.remember(token_hash, owner)
    return owner


EngineDep = Annotated[Engine, Depends(get_engine)]
CallerDep = Annotated[int, Depends(get_caller)]


async def refuse_forbidden_reply_url(request: Request, _caller: CallerDep) -> None:
    """A ``replyUrl`` the server will never call is refused with the request, not silently later.

    Each delivery checks again (the host may resolve differently by then). Malformed input is
    left to the route, which reports it in its usual order; so is a host that does not resolve
    yet, as the callback may still reach it later. Declared by the routes that take a body (the
    reads do not pay for it).
    """
    outbound: Outbound = request.app.state.outbound
    if outbound.guard.allow_private:
        return
    try:
        url = validation.reply_url(await read_body(request))
    except BadRequest:
        return
    if url is None:
        return
    try:
        async with asyncio.timeout(REPLY_URL_CHECK_SECONDS):
            await outbound.guard.check(url)
    except Refused as refusal:
        raise refused_url(url, refusal) from None
    except (ResolutionFailed, TimeoutError):
        return


#: ``dependencies=`` of every route that takes a body (a replyUrl may be in it)
REPLY_URL_CHECKED = [Depends(refuse_forbidden_reply_url)]
