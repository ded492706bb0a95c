"""mjapi's API served on loopback over a fake Midjourney, with one API user and one account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from mjapi.app import create_app
from mjapi.clock import Clock, SystemClock
from mjapi.domain.tokens import hash_token, new_token
from mjapi.settings import Settings
from mjapi.storage.base import ApiToken, Store
from mjapi.transports.base import Transport
from tests.fakes import FakeTransport
from tests.servers import serve_asgi

#: The API user of the rig.
OWNER = 1


@dataclass
class ApiRig:
    app: FastAPI
    #: a client sending the user's token with every request
    client: httpx.AsyncClient
    store: Store
    token: str
    #: the channel of the user's one account (3 slots)
    channel: str


@asynccontextmanager
async def api_rig(tmp_path: Path, **settings: Any) -> AsyncIterator[ApiRig]:
    """The rig; ``settings`` are Settings fields (a fake transport acknowledges every job)."""
    fake = FakeTransport()

    def factory(settings: Settings, clock: Clock) -> Transport:
        return fake

    config = Settings(data_dir=tmp_path, ack_timeout=2, **settings)
    app = create_app(config, transport_factory=factory)
    async with serve_asgi(app) as base_url:
        store: Store = app.state.store
        token = new_token(await store.next_user_id())
        await store.add_token(ApiToken(hash_token(token), OWNER, SystemClock().now()))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
            added = await client.post(
                "/v2/account/midjourney", json={"discord": "fake-token-0123456789", "maxJobs": 3}
            )
            assert added.status_code == 201, added.text
            yield ApiRig(app, client, store, token, added.json()["channel"])
