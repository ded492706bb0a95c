"""API answers when the backend refuses or breaks: the envelope, the headers, the freed slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mjapi.app import create_app
from mjapi.clock import Clock, SystemClock
from mjapi.domain.events import AccountFlagged
from mjapi.domain.tokens import hash_token, new_token
from mjapi.errors import RateLimited, TransportError
from mjapi.settings import Settings
from mjapi.storage.base import ApiToken, Store
from mjapi.transports.base import Transport
from tests.fakes import FakeTransport
from tests.servers import CallbackSink, serve_asgi


@dataclass
class Api:
    client: httpx.AsyncClient
    transport: FakeTransport
    store: Store
    sink: CallbackSink
    sink_url: str


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    fake = FakeTransport()

    def factory(settings: Settings, clock: Clock) -> Transport:
        return fake

    # The callback sink is on loopback: the URL guard must allow private addresses.
    settings = Settings(data_dir=tmp_path, ack_timeout=2, allow_private_urls=True)
    app = create_app(settings, transport_factory=factory)
    sink = CallbackSink()
    async with serve_asgi(app) as base_url, serve_asgi(sink.app) as sink_url:
        store: Store = app.state.store
        token = new_token(await store.next_user_id())
        await store.add_token(ApiToken(hash_token(token), 1, SystemClock().now()))
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
            added = await client.post(
                "/v2/account/midjourney", json={"discord": "fake-token-0123456789", "maxJobs": 1}
            )
            assert added.status_code == 201
            yield Api(client, fake, store, sink, f"{sink_url}/hook")


async def test_discord_rate_limit_is_a_429_with_retry_after(api: Api) -> None:
    api.transport.fail_next = RateLimited(2.4)
    reply = await api.client.post(
        "/v2/jobs/imagine", json={"prompt": "p", "replyUrl": api.sink_url}
    )
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "2"
    body = reply.json()
    assert set(body) == {"error", "code"} and body["code"] == 429
    assert (await api.client.get("/v2/jobs")).json() == []
    ok = await api.client.post("/v2/jobs/imagine", json={"prompt": "again"})
    assert ok.status_code == 200, "the refused job must not keep the only slot"
    assert api.sink.bodies == [], "the client got an error, not a job: no callback for it"


async def test_a_crash_while_submitting_frees_the_slot(api: Api) -> None:
    api.transport.fail_next = KeyError("version")
    reply = await api.client.post("/v2/jobs/imagine", json={"prompt": "p"})
    assert reply.status_code == 500
    assert reply.json() == {"error": "Internal server error", "code": 500}
    assert (await api.client.get("/v2/jobs")).json() == []
    assert (await api.client.post("/v2/jobs/imagine", json={"prompt": "p"})).status_code == 200


async def test_discord_unreachable_is_a_502(api: Api) -> None:
    api.transport.fail_next = TransportError("Discord unreachable (ConnectError) on /interactions")
    reply = await api.client.post("/v2/jobs/imagine", json={"prompt": "p"})
    assert reply.status_code == 502
    assert reply.json()["error"].startswith("Discord unreachable")


async def test_every_account_waiting_for_moderation_is_a_596(api: Api) -> None:
    # Through the transport, as Midjourney's notice arrives: the engine keeps its accounts in
    # memory, so a row changed behind its back would not count (one process per database).
    for account in await api.store.list_accounts():
        api.transport.emit(AccountFlagged(account.channel, "Pending mod message"))
    for account in await api.store.list_accounts():
        await _until_flagged(api, account.channel)
    reply = await api.client.post("/v2/jobs/imagine", json={"prompt": "p"})
    assert reply.status_code == 596
    assert reply.json()["code"] == 596


async def _until_flagged(api: Api, channel: str) -> None:
    async with asyncio.timeout(5):
        while True:
            reply = await api.client.get(f"/v2/account/midjourney/{channel}")
            if reply.json().get("pendingModMessage"):
                return
            await asyncio.sleep(0.01)
