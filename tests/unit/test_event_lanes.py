"""Applying events: per job in order, jobs concurrently, account events first, progress merged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from mjapi.domain.events import (
    AccountDisabled,
    BackendEvent,
    FailReason,
    JobCompleted,
    JobFailed,
    JobProgressed,
    JobStarted,
)
from mjapi.domain.jobs import Job, JobStatus
from mjapi.domain.lifecycle import apply_event
from mjapi.engine.event_lanes import EventLanes, merge_progress

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Recorder:
    """An apply function that records what it applied; events in ``held`` wait for release."""

    def __init__(self) -> None:
        self.started: list[BackendEvent] = []
        self.applied: list[BackendEvent] = []
        self.held: dict[BackendEvent, asyncio.Event] = {}

    def hold(self, event: BackendEvent) -> asyncio.Event:
        gate = self.held[event] = asyncio.Event()
        return gate

    async def __call__(self, event: BackendEvent) -> None:
        self.started.append(event)
        gate = self.held.get(event)
        if gate is not None:
            await gate.wait()
        self.applied.append(event)

    def of(self, jobid: str) -> list[BackendEvent]:
        return [e for e in self.applied if getattr(e, "jobid", None) == jobid]


async def turns(n: int = 20) -> None:
    """Let every runnable task make progress (no time passes)."""
    for _ in range(n):
        await asyncio.sleep(0)


def progress(jobid: str, percent: int, job_hash: str | None = None) -> JobProgressed:
    return JobProgressed(jobid, "m", f"({percent}%)", percent, "t", job_hash)


def done(jobid: str) -> JobCompleted:
    return JobCompleted(jobid, "r", "done", "t", (), (), "h")


async def test_each_jobs_events_apply_in_order_while_another_job_proceeds() -> None:
    record = Recorder()
    lanes = EventLanes(record)
    a_started, b_started = JobStarted("a", "m", "go", "t"), JobStarted("b", "m", "go", "t")
    gate = record.hold(a_started)
    for event in (a_started, b_started, progress("a", 50), progress("b", 50), done("a"), done("b")):
        await lanes.put(event)
    await turns()
    # a's first write is stuck; b's events were all applied meanwhile, a's wait their turn.
    assert record.of("b") == [b_started, progress("b", 50), done("b")]
    assert record.of("a") == [] and lanes.pending == 3
    gate.set()
    await lanes.settled()
    assert record.of("a") == [a_started, progress("a", 50), done("a")]
    assert lanes.pending == 0


async def test_a_job_event_waits_for_the_account_event_received_before_it() -> None:
    record = Recorder()
    lanes = EventLanes(record)
    disabled = AccountDisabled("ch", "Blocked")
    failed = JobFailed("a", "Blocked", reason=FailReason.ACCOUNT_DISABLED)
    gate = record.hold(disabled)
    await lanes.put(disabled)
    await lanes.put(failed)
    await turns()
    assert record.started == [disabled], "the job's failure must wait for its account"
    gate.set()
    await lanes.settled()
    assert record.applied == [disabled, failed]


async def test_a_job_event_received_before_an_account_event_does_not_wait_for_it() -> None:
    record = Recorder()
    lanes = EventLanes(record)
    flagged = AccountDisabled("ch", "Blocked")
    gate = record.hold(flagged)
    await lanes.put(JobStarted("a", "m", "go", "t"))
    await lanes.put(flagged)
    await turns()
    assert record.applied == [JobStarted("a", "m", "go", "t")]
    gate.set()
    await lanes.settled()


async def test_waiting_progress_is_merged_keeping_the_newest_and_the_job_hash() -> None:
    record = Recorder()
    lanes = EventLanes(record)
    started = JobStarted("a", "m", "go", "t")
    gate = record.hold(started)
    for event in (started, progress("a", 10, "hash"), progress("a", 20), progress("a", 30)):
        await lanes.put(event)
    assert lanes.pending == 2  # the three progress reports wait as one
    gate.set()
    await lanes.settled()
    assert record.applied == [started, progress("a", 30, "hash")]


async def test_progress_is_not_merged_across_another_event() -> None:
    record = Recorder()
    lanes = EventLanes(record)
    first = JobStarted("a", "m", "go", "t")
    gate = record.hold(first)
    events: list[BackendEvent] = [first, progress("a", 10), JobStarted("a", "m2", "again", "t")]
    events.append(progress("a", 20))
    for event in events:
        await lanes.put(event)
    gate.set()
    await lanes.settled()
    assert record.applied == events


async def test_put_waits_while_the_limit_is_reached() -> None:
    record = Recorder()
    lanes = EventLanes(record, limit=2)
    first, second = JobStarted("a", "m", "go", "t"), JobStarted("b", "m", "go", "t")
    gates = [record.hold(first), record.hold(second)]
    await lanes.put(first)
    await lanes.put(second)
    third = asyncio.create_task(lanes.put(JobStarted("c", "m", "go", "t")))
    await turns()
    assert not third.done(), "two events pending: the third must wait"
    gates[1].set()
    await third
    gates[0].set()
    await lanes.settled()
    assert len(record.applied) == 3


async def test_a_failing_apply_does_not_stop_its_lane() -> None:
    applied: list[BackendEvent] = []

    async def apply(event: BackendEvent) -> None:
        if isinstance(event, JobStarted):
            raise RuntimeError("bug")
        applied.append(event)

    lanes = EventLanes(apply)
    await lanes.put(JobStarted("a", "m", "go", "t"))
    await lanes.put(done("a"))
    await lanes.settled()
    assert applied == [done("a")]


async def test_close_cancels_what_is_being_applied() -> None:
    record = Recorder()
    lanes = EventLanes(record)
    stuck = JobStarted("a", "m", "go", "t")
    record.hold(stuck)
    await lanes.put(stuck)
    await turns()
    await lanes.close()
    assert record.started == [stuck] and record.applied == []


def job(status: JobStatus, job_hash: str | None) -> Job:
    return Job(
        jobid="a",
        owner=1,
        verb="imagine",
        status=status,
        created=NOW,
        updated=NOW,
        channel="ch",
        discord="x",
        max_jobs=3,
        job_hash=job_hash,
    )


hashes = st.none() | st.sampled_from(["h1", "h2"])
statuses = st.sampled_from(list(JobStatus))


@given(statuses, hashes, st.integers(0, 100), hashes, st.integers(0, 100), hashes)
def test_a_merged_progress_changes_a_job_as_both_reports_do(
    status: JobStatus,
    known: str | None,
    first_percent: int,
    first_hash: str | None,
    second_percent: int,
    second_hash: str | None,
) -> None:
    before = job(status, known)
    first = JobProgressed("a", "m1", "first", first_percent, "t1", first_hash)
    second = JobProgressed("a", "m2", "second", second_percent, "t2", second_hash)
    merged = merge_progress(first, second)
    assert isinstance(merged, JobProgressed)
    after_first = apply_event(before, first, NOW)
    both = apply_event(after_first or before, second, NOW)
    assert apply_event(before, merged, NOW) == both


def test_only_two_progress_reports_merge() -> None:
    assert merge_progress(JobStarted("a", "m", "go", "t"), progress("a", 10)) is None
    assert merge_progress(progress("a", 10), done("a")) is None


async def test_closing_lets_whoever_waits_for_the_lanes_go() -> None:
    recorder = Recorder()
    lanes = EventLanes(recorder)
    stuck = progress("a", 10)
    recorder.hold(stuck)  # never released: the lane is busy when the engine stops
    await lanes.put(stuck)
    await lanes.put(done("a"))  # waits in the lane behind the stuck one
    await turns()
    waiter = asyncio.create_task(lanes.settled())
    await turns()
    assert not waiter.done()

    await lanes.close()
    await turns()

    assert waiter.done()
    assert lanes.pending == 0
