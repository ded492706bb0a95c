"""Buttons, seeds, settings and cancel in the engine (real SQLite store, fake backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mjapi.clock import FakeClock
from mjapi.domain.events import JobCompleted
from mjapi.domain.jobs import Attachment, Button, Job, JobStatus
from mjapi.engine import Engine, ImagineRequest
from mjapi.engine.requests import ButtonRequest, JobOptions, SeedRequest, SettingRequest
from mjapi.engine.rules import AlreadyExecuted
from mjapi.errors import BadRequest, NotFound
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.transports.base import Setting
from mjapi.webhooks.outbox import Outbox
from tests.fakes import FakeCallbackClient, FakeTransport

OWNER = 3
GRID = (
    *(Button(f"U{i}", f"MJ::JOB::upsample::{i}::hash-1") for i in range(1, 5)),
    *(Button(f"V{i}", f"MJ::JOB::variation::{i}::hash-1") for i in range(1, 5)),
    Button("🔄", "MJ::JOB::reroll::0::hash-1::SOLO"),
    Button("Custom Zoom", "MJ::CustomZoom::hash-1"),
)


class Rig:
    def __init__(self, engine: Engine, transport: FakeTransport, store: SqliteStore) -> None:
        self.engine, self.transport, self.store = engine, transport, store

    async def completed_grid(self, prompt: str = "a cat --ar 3:2") -> Job:
        job = await self.engine.imagine(OWNER, ImagineRequest(prompt))
        self.transport.emit(
            JobCompleted(
                job.jobid,
                "grid-msg",
                "done",
                "t",
                (Attachment("1", "u", "g.png"),),
                GRID,
                "hash-1",
                message_flags=0,
            )
        )
        await self.transport.applied()
        return await self.engine.job(OWNER, job.jobid)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = SqliteStore(tmp_path / "db.sqlite3", TokenCipher.from_settings(tmp_path, None))
    await store.open()
    transport, clock = FakeTransport(), FakeClock()
    callbacks = Outbox(store, FakeCallbackClient(), clock)
    engine = Engine(store, transport, callbacks, clock, ack_timeout=2)
    transport.consumer = engine
    await engine.start()
    await engine.accounts.add(OWNER, "token-for-followups-0123456789", 5)
    yield Rig(engine, transport, store)
    await engine.stop()
    await store.close()


async def test_button_runs_on_the_parent_and_links_both(rig: Rig) -> None:
    parent = await rig.completed_grid()
    child = await rig.engine.button(OWNER, ButtonRequest(parent.jobid, "U2"))
    assert child.verb == "button" and child.button == "U2"
    assert child.parent_job_id == parent.jobid and child.channel == parent.channel
    assert rig.transport.clicks[-1].custom_id == "MJ::JOB::upsample::2::hash-1"
    assert rig.transport.clicks[-1].message_id == "grid-msg"
    parent_now = await rig.engine.job(OWNER, parent.jobid)
    assert [(c.button, c.jobid) for c in parent_now.children] == [("U2", child.jobid)]


async def test_second_upscale_of_the_same_image_is_409(rig: Rig) -> None:
    parent = await rig.completed_grid()
    first = await rig.engine.button(OWNER, ButtonRequest(parent.jobid, "U2"))
    with pytest.raises(AlreadyExecuted) as caught:
        await rig.engine.button(OWNER, ButtonRequest(parent.jobid, "U2"))
    assert caught.value.child_jobid == first.jobid and caught.value.status == 409
    again = await rig.engine.button(OWNER, ButtonRequest(parent.jobid, "V2"))
    assert (await rig.engine.button(OWNER, ButtonRequest(parent.jobid, "V2"))).jobid != again.jobid


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ButtonRequest("x", "Zoom Out 2x"), "Button Zoom Out 2x not found"),
        (ButtonRequest("x", "Custom Zoom"), "Required param prompt is missing or empty"),
    ],
)
async def test_button_checks(rig: Rig, request_: ButtonRequest, message: str) -> None:
    parent = await rig.completed_grid()
    with pytest.raises(BadRequest, match=message):
        await rig.engine.button(OWNER, ButtonRequest(parent.jobid, request_.button))


async def test_buttons_need_a_completed_parent_of_the_caller(rig: Rig) -> None:
    running = await rig.engine.imagine(OWNER, ImagineRequest("still running"))
    with pytest.raises(BadRequest, match="buttons need a completed job"):
        await rig.engine.button(OWNER, ButtonRequest(running.jobid, "U1"))
    with pytest.raises(NotFound):
        await rig.engine.button(OWNER + 1, ButtonRequest(running.jobid, "U1"))


async def test_seed_of_an_image_and_refusal_for_video(rig: Rig) -> None:
    parent = await rig.completed_grid()
    seed = await rig.engine.seed(OWNER, SeedRequest(parent.jobid))
    assert seed.verb == "seed_async" and seed.parent_job_id == parent.jobid
    video = await rig.completed_grid("a wave --video --motion high")
    with pytest.raises(BadRequest, match="video"):
        await rig.engine.seed(OWNER, SeedRequest(video.jobid))


async def test_settings_answer_completed_and_take_no_slot(rig: Rig) -> None:
    info = await rig.engine.setting(OWNER, SettingRequest(Setting.INFO))
    assert info.status is JobStatus.COMPLETED and info.verb == "info"
    assert info.content == "Done! info"
    assert rig.engine.running(OWNER) == []


async def test_settings_need_a_channel_with_several_accounts(rig: Rig) -> None:
    second, _ = await rig.engine.accounts.add(OWNER, "another-token-for-followups-99", 1)
    with pytest.raises(BadRequest, match="channel is required"):
        await rig.engine.setting(OWNER, SettingRequest(Setting.FAST))
    named = SettingRequest(Setting.FAST, JobOptions(channel=second.channel))
    assert (await rig.engine.setting(OWNER, named)).channel == second.channel


async def test_cancel_frees_the_slot_and_is_final(rig: Rig) -> None:
    job = await rig.engine.imagine(OWNER, ImagineRequest("to cancel"))
    cancelled = await rig.engine.cancel(OWNER, job.jobid)
    assert cancelled.status is JobStatus.CANCELLED
    assert rig.engine.running(OWNER) == [] and rig.transport.forgotten == [job.jobid]
    rig.transport.emit(JobCompleted(job.jobid, "m", "late", "t", (), (), None))
    await rig.transport.applied()
    assert (await rig.engine.cancel(OWNER, job.jobid)).status is JobStatus.CANCELLED


async def test_profile_reply_url_is_the_default_callback(rig: Rig) -> None:
    await rig.engine.accounts.update_profile(
        OWNER, name="me", reply_url="http://hooks.example/cb", clear_reply_url=False
    )
    job = await rig.engine.imagine(OWNER, ImagineRequest("with default hook"))
    assert job.reply_url == "http://hooks.example/cb"
    own = await rig.engine.imagine(
        OWNER, ImagineRequest("own hook", JobOptions(reply_url="http://mine.example/x"))
    )
    assert own.reply_url == "http://mine.example/x"
