"""The engine over a real SQLite store and a fake backend: routing, slots, events, callbacks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mjapi.clock import FakeClock
from mjapi.domain.deliveries import Delivery
from mjapi.domain.events import JobCompleted, JobFailed, JobProgressed
from mjapi.domain.jobs import Attachment, Button, Job, JobStatus
from mjapi.engine import Engine
from mjapi.errors import Busy, DiscordAuthError, NotFound, PendingModeration, RateLimited
from mjapi.logs import redact
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.webhooks.outbox import Outbox
from tests.fakes import FakeCallbackClient, FakeTransport
from tests.integration.engine_rig import (
    IN_ORDER,
    IN_ORDER_REPORT_SKIPPED,
    OWNER,
    Rig,
    imagine,
    settle,
)


async def test_account_discovery_and_listing(rig: Rig) -> None:
    account, created = await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 2)
    again, created_again = await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", None)
    assert created and not created_again
    assert again.max_jobs == 2 and again.channel == account.channel
    assert rig.transport.attached[account.channel].discord_token == "token-aaaaaaaaaaaaaaaaaaaa"
    assert [a.channel for a in await rig.engine.accounts.list(OWNER)] == [account.channel]
    assert await rig.engine.accounts.list(OWNER + 1) == []


async def test_imagine_answers_started_and_completes(rig: Rig) -> None:
    account, _ = await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 3)
    job = await rig.engine.imagine(OWNER, imagine(reply_url="http://receiver/cb", reply_ref="r1"))
    assert job.status is JobStatus.STARTED and job.message_id == "m-1"
    assert job.jobid.startswith("job:") and job.jobid.endswith(
        f"-user:{OWNER}-channel:{account.channel}"
    )
    assert rig.engine.running(OWNER) == [job.jobid]
    rig.transport.emit(JobProgressed(job.jobid, "m-1", "(50%)", 50, "t"))
    rig.transport.emit(
        JobCompleted(
            job.jobid,
            "m-2",
            "done",
            "t",
            (Attachment("1", "u", "f.png"),),
            (Button("U1", "MJ::JOB::upsample::1::h"),),
            "h",
        )
    )
    await settle(rig, job.jobid, JobStatus.COMPLETED)
    assert rig.engine.running(OWNER) == []
    await rig.callbacks.drain(10)
    # The report goes out unless it was still waiting when the result came (the outbox skips it).
    assert rig.receiver.statuses(job.jobid) in (IN_ORDER, IN_ORDER_REPORT_SKIPPED)
    assert rig.receiver.bodies[-1]["replyRef"] == "r1"
    stored = await rig.store.get_job(job.jobid)
    assert stored is not None and stored.job_hash == "h" and stored.nonce == "nonce-1"


async def test_slots_limit_concurrent_jobs(rig: Rig) -> None:
    await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 2)
    results = await asyncio.gather(
        *(rig.engine.imagine(OWNER, imagine(f"p{i}")) for i in range(5)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, Busy)]
    assert len(accepted) == 2 and len(refused) == 3
    assert all(sorted(r.executing_jobs) == sorted(j.jobid for j in accepted) for r in refused)


async def test_request_max_jobs_overrides_account(rig: Rig) -> None:
    await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 3)
    await rig.engine.imagine(OWNER, imagine(max_jobs=1))
    with pytest.raises(Busy):
        await rig.engine.imagine(OWNER, imagine(max_jobs=1))


async def test_slot_frees_when_job_ends(rig: Rig) -> None:
    await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    first = await rig.engine.imagine(OWNER, imagine())
    rig.transport.emit(JobFailed(first.jobid, "Invalid parameter", "bad --ar"))
    await settle(rig, first.jobid, JobStatus.FAILED)
    second = await rig.engine.imagine(OWNER, imagine())
    assert second.status is JobStatus.STARTED


async def test_transport_refusal_fails_the_job_and_frees_the_slot(rig: Rig) -> None:
    account, _ = await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    rig.transport.fail_next = RateLimited(2.0)
    with pytest.raises(RateLimited):
        await rig.engine.imagine(OWNER, imagine())
    assert rig.engine.running(OWNER) == []
    stored = [j for j in await rig.store.unfinished_jobs(OWNER)]
    assert stored == []
    ok = await rig.engine.imagine(OWNER, imagine(channel=account.channel))
    assert ok.status is JobStatus.STARTED


async def test_unknown_channel_and_pending_moderation(rig: Rig) -> None:
    with pytest.raises(NotFound):
        await rig.engine.imagine(OWNER, imagine())
    account, _ = await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    with pytest.raises(NotFound):
        await rig.engine.imagine(OWNER, imagine(channel="1"))
    await rig.engine.accounts.flag(account.channel, "Action needed")
    with pytest.raises(PendingModeration):
        await rig.engine.imagine(OWNER, imagine(channel=account.channel))


async def test_other_owners_cannot_read_a_job(rig: Rig) -> None:
    await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    job = await rig.engine.imagine(OWNER, imagine())
    with pytest.raises(NotFound):
        await rig.engine.job(OWNER + 1, job.jobid)
    assert rig.engine.running(OWNER + 1) == []


async def test_unacknowledged_job_is_answered_as_created(rig: Rig) -> None:
    transport = FakeTransport(auto_start=False)
    engine = Engine(rig.store, transport, rig.callbacks, rig.clock, ack_timeout=0.01)
    await engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    job = await engine.imagine(OWNER, imagine())
    assert job.status is JobStatus.CREATED and job.nonce == "nonce-1"


async def test_only_tokens_discord_accepted_are_registered_for_redaction(rig: Rig) -> None:
    with pytest.raises(DiscordAuthError):
        await rig.engine.accounts.add(OWNER, "bad-token-never-accepted-123", 1)
    assert redact("bad-token-never-accepted-123") == "bad-token-never-accepted-123"
    await rig.engine.accounts.add(OWNER, "token-accepted-by-discord-42", 1)
    assert "token-accepted-by-discord-42" not in redact("x token-accepted-by-discord-42 y")


class FlakyStore(SqliteStore):
    """Fails the first ``failures`` job writes, as a briefly unavailable database would."""

    failures = 0

    async def save_job(self, job: Job, delivery: Delivery | None = None) -> bool:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        return await super().save_job(job, delivery)


async def test_an_event_survives_a_failing_store(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "db.sqlite3", TokenCipher.from_settings(tmp_path, None))
    await store.open()
    transport, clock = FakeTransport(), FakeClock()
    engine = Engine(store, transport, Outbox(store, FakeCallbackClient(), clock), clock)
    transport.consumer = engine
    await engine.start()
    try:
        await engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
        job = await engine.imagine(OWNER, imagine())
        store.failures = 1
        transport.emit(JobCompleted(job.jobid, "m-2", "done", "t", (), (), "h"))
        await transport.applied()
        assert (await engine.job(OWNER, job.jobid)).status is JobStatus.COMPLETED
    finally:
        await engine.stop()
        await store.close()


async def test_watchdog_fails_quiet_jobs_and_late_events_are_ignored(rig: Rig) -> None:
    await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    job = await rig.engine.imagine(OWNER, imagine(reply_url="http://receiver/cb"))
    rig.clock.advance(61)
    await rig.engine.expire_overdue()
    expired = await rig.engine.job(OWNER, job.jobid)
    assert expired.status is JobStatus.FAILED and expired.error
    rig.transport.emit(JobProgressed(job.jobid, "m-1", "(90%)", 90, "t"))
    rig.transport.emit(JobCompleted(job.jobid, "m-2", "late", "t", (), (), None))
    await rig.transport.applied()
    assert (await rig.engine.job(OWNER, job.jobid)).status is JobStatus.FAILED
    await rig.callbacks.drain(10)
    assert rig.receiver.statuses(job.jobid) == ["started", "failed"]
    assert rig.transport.forgotten == [job.jobid], "the transport must stop correlating it"


async def test_restart_keeps_running_jobs_in_their_slots(rig: Rig, tmp_path: Path) -> None:
    await rig.engine.accounts.add(OWNER, "token-aaaaaaaaaaaaaaaaaaaa", 1)
    job = await rig.engine.imagine(OWNER, imagine())
    again = Engine(rig.store, FakeTransport(), rig.callbacks, rig.clock)
    await again.start()
    try:
        assert again.running(OWNER) == [job.jobid]
        with pytest.raises(Busy):
            await again.imagine(OWNER, imagine())
    finally:
        await again.stop()
