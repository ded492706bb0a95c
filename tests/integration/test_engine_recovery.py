"""A restart of the engine on the same database: waiting jobs are dispatched, submitted ones are
handed to the transport to be found again, lost ones fail after the job timeout, and pending
callbacks go out (real SQLite store, fake backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mjapi.clock import FakeClock
from mjapi.domain.events import JobCompleted, JobStarted
from mjapi.domain.jobs import JobStatus
from mjapi.engine.recovery import LOST_ERROR
from mjapi.errors import Busy
from tests.fakes import FakeTransport
from tests.integration.engine_rig import OWNER, eventually, imagine, open_rig

TOKEN = "token-restart-aaaaaaaaaaaaaa"
HOOK = "http://receiver.test/hook"
#: FakeClock's default start: when the first run's jobs were made.
T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def test_running_jobs_are_resumed_and_waiting_ones_dispatched(tmp_path: Path) -> None:
    async for before in open_rig(tmp_path):
        await before.engine.accounts.add(OWNER, TOKEN, 1)
        running = await before.engine.imagine(OWNER, imagine("running"))
        waiting = await before.engine.imagine(OWNER, imagine("waiting", queue=True))
    restarted = FakeTransport(auto_start=False)
    async for after in open_rig(tmp_path, transport=restarted):
        (resumed,) = restarted.resumed[running.channel]
        assert (resumed.jobid, resumed.nonce, resumed.message_id) == (
            running.jobid,
            "nonce-1",
            "m-1",
        )
        # The resumed job holds the only slot: the waiting one waits for it.
        with pytest.raises(Busy):
            await after.engine.imagine(OWNER, imagine("no room"))
        restarted.emit(JobCompleted(running.jobid, "final", "done", "t", (), (), "h"))
        await eventually(lambda: len(restarted.submitted) == 1)
        assert restarted.submitted[0][1:] == (waiting.jobid, "waiting")
        done = await after.engine.job(OWNER, running.jobid)
        assert done.status is JobStatus.COMPLETED


async def test_the_transport_learns_of_resumed_jobs_before_it_connects(tmp_path: Path) -> None:
    calls: list[str] = []

    class Recording(FakeTransport):
        async def resume(self, account, jobs):  # type: ignore[no-untyped-def]
            calls.append("resume")
            await super().resume(account, jobs)

        async def attach(self, account):  # type: ignore[no-untyped-def]
            calls.append("attach")
            await super().attach(account)

    async for before in open_rig(tmp_path):
        await before.engine.accounts.add(OWNER, TOKEN, 2)
        await before.engine.imagine(OWNER, imagine("running"))
    async for _after in open_rig(tmp_path, transport=Recording()):
        assert calls == ["resume", "attach"]


async def test_a_job_discord_shows_nothing_of_fails_one_timeout_after_the_restart(
    tmp_path: Path,
) -> None:
    async for before in open_rig(tmp_path):
        await before.engine.accounts.add(OWNER, TOKEN, 2)
        lost = await before.engine.imagine(OWNER, imagine("lost", reply_url=HOOK))
    # The server was down for an hour: longer than the job timeout, yet the count starts anew.
    clock = FakeClock(T0 + timedelta(hours=1))
    async for after in open_rig(tmp_path, job_timeout=60, clock=clock):
        await after.engine.expire_overdue()
        assert (await after.engine.job(OWNER, lost.jobid)).status is JobStatus.STARTED
        after.clock.advance(59)
        await after.engine.expire_overdue()
        assert (await after.engine.job(OWNER, lost.jobid)).status is JobStatus.STARTED
        after.clock.advance(2)
        await after.engine.expire_overdue()
        failed = await after.engine.job(OWNER, lost.jobid)
        assert (failed.status, failed.error) == (JobStatus.FAILED, LOST_ERROR)


async def test_a_resumed_job_that_speaks_again_is_no_longer_lost(tmp_path: Path) -> None:
    async for before in open_rig(tmp_path):
        await before.engine.accounts.add(OWNER, TOKEN, 2)
        job = await before.engine.imagine(OWNER, imagine("slow"))
    async for after in open_rig(tmp_path, job_timeout=60):
        after.clock.advance(30)
        after.transport.emit(JobStarted(job.jobid, "m-1", "still waiting", "t"))
        await after.transport.applied()
        after.clock.advance(61)
        await after.engine.expire_overdue()
        failed = await after.engine.job(OWNER, job.jobid)
        assert failed.status is JobStatus.FAILED and failed.error != LOST_ERROR


async def test_callbacks_pending_at_a_crash_are_delivered_after_the_restart(
    tmp_path: Path,
) -> None:
    async for before in open_rig(tmp_path):
        await before.engine.accounts.add(OWNER, TOKEN, 2)
        await before.callbacks.close()  # the worker dies first: callbacks stay pending
        job = await before.engine.imagine(OWNER, imagine("cb", reply_url=HOOK))
        assert before.receiver.bodies == []
    async for after in open_rig(tmp_path):
        await after.callbacks.drain(5)
        assert after.receiver.statuses(job.jobid) == ["started"]
