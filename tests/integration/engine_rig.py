"""The engine over a real SQLite store and a fake backend: the rig the engine tests share."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from mjapi.clock import FakeClock
from mjapi.domain.jobs import JobStatus
from mjapi.engine import Engine, ImagineRequest
from mjapi.engine.requests import JobOptions
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.webhooks.delivery import CallbackSender
from tests.fakes import CallbackReceiver, FakeTransport

OWNER = 7


@dataclass
class Rig:
    engine: Engine
    transport: FakeTransport
    store: SqliteStore
    clock: FakeClock
    receiver: CallbackReceiver
    callbacks: CallbackSender


async def open_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A started engine on SQLite in ``tmp_path``; closed when the generator ends."""
    store = SqliteStore(tmp_path / "db.sqlite3", TokenCipher.from_settings(tmp_path, None))
    await store.open()
    transport, clock, receiver = FakeTransport(), FakeClock(), CallbackReceiver()
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    callbacks = CallbackSender(client)
    engine = Engine(
        store, transport, callbacks, clock, ack_timeout=2, job_timeout=60, rng=random.Random(3)
    )
    await engine.start()
    try:
        yield Rig(engine, transport, store, clock, receiver, callbacks)
    finally:
        await engine.stop()
        await callbacks.close()
        await client.aclose()
        await store.close()


async def settle(rig: Rig, jobid: str, status: JobStatus) -> None:
    """Wait until the engine has applied the events emitted so far, then check the status."""
    await rig.transport.applied()
    assert (await rig.engine.job(OWNER, jobid)).status is status


def imagine(
    prompt: str = "a cat",
    *,
    channel: str | None = None,
    max_jobs: int | None = None,
    reply_url: str | None = None,
    reply_ref: str | None = None,
) -> ImagineRequest:
    return ImagineRequest(prompt, JobOptions(channel, max_jobs, reply_url, reply_ref))
