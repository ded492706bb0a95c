"""Dependencies shared by the routes: the engine, the store, and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mjapi.domain.tokens import hash_token
from mjapi.engine import Engine
from mjapi.errors import Unauthorized
from mjapi.storage.base import Store


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_caller(request: Request) -> int:
    """The user id behind the request's ``Authorization: Bearer <token>``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    owner = await get_store(request).token_owner(hash_token(token.strip()))
    if owner is None:
        raise Unauthorized()
    return owner


EngineDep = Annotated[Engine, Depends(get_engine)]
CallerDep = Annotated[int, Depends(get_caller)]
