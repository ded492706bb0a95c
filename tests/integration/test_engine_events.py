"""Transport events through the engine: per job in order, jobs concurrently, account events
before the failures they caused, progress coalesced (real SQLite store, fake backend)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Delivery
from mjapi.domain.events import (
    AccountDisabled,
    FailReason,
    JobCompleted,
    JobFailed,
    JobProgressed,
)
from mjapi.domain.jobs import Job, JobStatus
from mjapi.engine import engine as engine_module
from tests.integration.engine_rig import (
    IN_ORDER,
    IN_ORDER_REPORT_SKIPPED,
    OWNER,
    Rig,
    eventually,
    imagine,
    open_rig,
)

TOKEN = "token-events-aaaaaaaaaaaaaaa"
HOOK = "http://receiver/cb"


@pytest.fixture
async def two_jobs(tmp_path: Path) -> AsyncIterator[tuple[Rig, Job, Job]]:
    async for rig in open_rig(tmp_path):
        await rig.engine.accounts.add(OWNER, TOKEN, 2)
        first = await rig.engine.imagine(OWNER, imagine("first", reply_url=HOOK))
        second = await rig.engine.imagine(OWNER, imagine("second", reply_url=HOOK))
        yield rig, first, second


def completed(jobid: str) -> JobCompleted:
    return JobCompleted(jobid, f"r-{jobid}", "done", "t", (), (), "h")


async def test_interleaved_events_of_two_jobs_apply_in_each_jobs_order(
    two_jobs: tuple[Rig, Job, Job],
) -> None:
    rig, first, second = two_jobs
    for job in (first, second):
        rig.transport.emit(JobProgressed(job.jobid, "m", "(40%)", 40, "t"))
    for job in (second, first):
        rig.transport.emit(completed(job.jobid))
    await rig.transport.applied()
    await rig.callbacks.drain(10)
    for job in (first, second):
        assert (await rig.engine.job(OWNER, job.jobid)).status is JobStatus.COMPLETED
        # Each job's order; a report still waiting when its result came is skipped (the outbox).
        assert rig.receiver.statuses(job.jobid) in (IN_ORDER, IN_ORDER_REPORT_SKIPPED)


async def test_a_failing_write_of_one_job_does_not_hold_up_another(
    two_jobs: tuple[Rig, Job, Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, first, second = two_jobs
    monkeypatch.setattr(engine_module, "EVENT_RETRY_DELAYS", (0.01,) * 50)
    failing = asyncio.Event()
    save_job = rig.store.save_job

    async def save_or_fail(job: Job, delivery: Delivery | None = None) -> bool:
        if job.jobid == first.jobid and not failing.is_set():
            raise OSError("database is locked")
        return await save_job(job, delivery)

    rig.store.save_job = save_or_fail  # type: ignore[method-assign]
    rig.transport.emit(completed(first.jobid))
    rig.transport.emit(completed(second.jobid))
    await eventually(lambda: second.jobid not in rig.engine.running(OWNER))
    # The second job ended while the first's write still failed (and is being retried).
    assert rig.engine.running(OWNER) == [first.jobid]
    failing.set()
    await rig.transport.applied()
    assert (await rig.engine.job(OWNER, first.jobid)).status is JobStatus.COMPLETED


async def test_a_disabled_account_is_marked_before_the_failure_it_caused(
    two_jobs: tuple[Rig, Job, Job],
) -> None:
    rig, failing, _ = two_jobs
    seen_when_failed: list[Account | None] = []
    put_account, save_job = rig.store.put_account, rig.store.save_job

    async def slow_put_account(account: Account) -> bool:
        for _ in range(20):  # the job's failure, were it not held back, would be written now
            await asyncio.sleep(0)
        return await put_account(account)

    async def watching_save_job(job: Job, delivery: Delivery | None = None) -> bool:
        if job.status is JobStatus.FAILED:
            seen_when_failed.append(rig.engine.accounts.find(job.channel))
        return await save_job(job, delivery)

    rig.store.put_account = slow_put_account  # type: ignore[method-assign]
    rig.store.save_job = watching_save_job  # type: ignore[method-assign]
    rig.transport.emit(AccountDisabled(failing.channel, "Blocked"))
    rig.transport.emit(JobFailed(failing.jobid, "Blocked", reason=FailReason.ACCOUNT_DISABLED))
    await rig.transport.applied()
    (account,) = seen_when_failed
    assert account is not None and account.disabled_reason == "Blocked"


async def test_progress_reports_waiting_together_are_written_once_with_the_job_hash(
    two_jobs: tuple[Rig, Job, Job],
) -> None:
    rig, job, _ = two_jobs
    # Emitted in one burst: they wait together behind nothing but each other.
    rig.transport.emit(JobProgressed(job.jobid, "m", "(10%)", 10, "t", "the-hash"))
    rig.transport.emit(JobProgressed(job.jobid, "m", "(50%)", 50, "t"))
    rig.transport.emit(JobProgressed(job.jobid, "m", "(90%)", 90, "t"))
    await rig.transport.applied()
    await rig.callbacks.drain(10)
    stored = await rig.store.get_job(job.jobid)
    assert stored is not None
    assert (stored.progress, stored.content, stored.job_hash) == (90, "(90%)", "the-hash")
    progress_callbacks = [b for b in rig.receiver.bodies if b["status"] == "progress"]
    assert [b["content"] for b in progress_callbacks] == ["(90%)"]
