"""The engine over a real SQLite store and a fake backend: the rig the engine tests share."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mjapi.clock import FakeClock
from mjapi.domain.jobs import JobStatus
from mjapi.engine import Engine, ImagineRequest
from mjapi.engine.requests import JobOptions
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.webhooks.outbox import Outbox
from tests.fakes import FakeCallbackClient, FakeTransport

OWNER = 7
#: A job's callbacks as a receiver gets them: all, or (when its progress report was still
#: waiting as its result came) without the report, which the outbox skipped for the newer state.
IN_ORDER = ["started", "progress", "completed"]
IN_ORDER_REPORT_SKIPPED = ["started", "completed"]


@dataclass
class Rig:
    engine: Engine
    transport: FakeTransport
    store: SqliteStore
    clock: FakeClock
    #: the callbacks' client: what the receivers would have been sent
    receiver: FakeCallbackClient
    callbacks: Outbox


async def open_rig(
    tmp_path: Path,
    *,
    transport: FakeTransport | None = None,
    clock: FakeClock | None = None,
    **engine_options: Any,
) -> AsyncIterator[Rig]:
    """A started engine on SQLite in ``tmp_path``; closed when the generator ends.

    Opening a second rig on the same folder after the first closed models a server restart.
    """
    store = SqliteStore(tmp_path / "db.sqlite3", TokenCipher.from_settings(tmp_path, None))
    await store.open()
    transport, clock, receiver = (
        transport or FakeTransport(),
        clock or FakeClock(),
        FakeCallbackClient(),
    )
    callbacks = Outbox(store, receiver, clock)
    await callbacks.start()
    options: dict[str, Any] = {"ack_timeout": 2, "job_timeout": 60, "rng": random.Random(3)}
    engine = Engine(store, transport, callbacks, clock, **(options | engine_options))
    transport.consumer = engine
    await engine.start()
    try:
        yield Rig(engine, transport, store, clock, receiver, callbacks)
    finally:
        await engine.stop()
        await callbacks.close()
        await receiver.aclose()
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
    queue: bool | None = None,
) -> ImagineRequest:
    return ImagineRequest(prompt, JobOptions(channel, max_jobs, reply_url, reply_ref, queue))


async def eventually(check: Callable[[], bool], seconds: float = 3.0) -> None:
    """Wait for background work (dispatch, callbacks run in their own tasks) to make ``check``
    true; fail after ``seconds``."""
    for _ in range(int(seconds / POLL)):
        if check():
            return
        await asyncio.sleep(POLL)
    raise AssertionError(f"still false after {seconds} s")


POLL = 0.005
