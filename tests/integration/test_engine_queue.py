"""The durable queue through the engine: opt-in, bounds, dispatch when a slot frees, cancel,
failures after dispatch (real SQLite store, fake backend)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mjapi.domain.events import JobCompleted, JobQueued
from mjapi.domain.jobs import Button, Child, JobStatus
from mjapi.engine.requests import ButtonRequest, JobOptions
from mjapi.errors import Busy, DiscordHTTPError
from tests.integration.engine_rig import OWNER, Rig, eventually, imagine, open_rig

TOKEN = "token-queue-aaaaaaaaaaaaaaaa"


def finish(rig: Rig, jobid: str, buttons: tuple[Button, ...] = ()) -> None:
    rig.transport.emit(JobCompleted(jobid, f"done-{jobid}", "done", "t", (), buttons, "hash"))


def last_submitted_is(rig: Rig, jobid: str) -> Callable[[], bool]:
    return lambda: rig.transport.submitted[-1][1] == jobid


@pytest.fixture
async def one_slot(tmp_path: Path) -> AsyncIterator[Rig]:
    async for rig in open_rig(tmp_path, queue_limit=3):
        await rig.engine.accounts.add(OWNER, TOKEN, 1)
        yield rig


async def test_without_opt_in_a_busy_account_answers_429_with_retry_after(one_slot: Rig) -> None:
    await one_slot.engine.imagine(OWNER, imagine("first"))
    with pytest.raises(Busy) as busy:
        await one_slot.engine.imagine(OWNER, imagine("second"))
    assert busy.value.retry_after == 10


async def test_a_queued_job_is_answered_at_once_and_runs_when_the_slot_frees(
    one_slot: Rig,
) -> None:
    rig = one_slot
    first = await rig.engine.imagine(OWNER, imagine("first"))
    waiting = await rig.engine.imagine(OWNER, imagine("second", queue=True))
    assert waiting.status is JobStatus.CREATED and waiting.nonce is None
    assert rig.engine.waiting == 1
    assert [s[1] for s in rig.transport.submitted] == [first.jobid]
    finish(rig, first.jobid)
    await eventually(lambda: len(rig.transport.submitted) == 2)
    assert rig.transport.submitted[1] == (waiting.channel, waiting.jobid, "second")
    await eventually(lambda: rig.engine.waiting == 0)
    stored = await rig.store.get_job(waiting.jobid)
    assert stored is not None and stored.nonce == "nonce-2"


async def test_the_server_default_queues_and_a_request_can_still_refuse(tmp_path: Path) -> None:
    async for rig in open_rig(tmp_path, queue_by_default=True):
        await rig.engine.accounts.add(OWNER, TOKEN, 1)
        await rig.engine.imagine(OWNER, imagine("first"))
        queued = await rig.engine.imagine(OWNER, imagine("second"))
        assert queued.status is JobStatus.CREATED
        with pytest.raises(Busy):
            await rig.engine.imagine(OWNER, imagine("third", queue=False))


async def test_each_user_may_keep_only_so_many_jobs_waiting(one_slot: Rig) -> None:
    await one_slot.engine.imagine(OWNER, imagine("running"))
    for n in range(3):
        await one_slot.engine.imagine(OWNER, imagine(f"wait {n}", queue=True))
    with pytest.raises(Busy) as full:
        await one_slot.engine.imagine(OWNER, imagine("one too many", queue=True))
    assert "queue already holds 3 jobs" in full.value.message
    assert full.value.retry_after == 10


async def test_waiting_jobs_start_in_arrival_order(one_slot: Rig) -> None:
    rig = one_slot
    running = await rig.engine.imagine(OWNER, imagine("running"))
    waiting = [await rig.engine.imagine(OWNER, imagine(f"w{n}", queue=True)) for n in range(3)]
    current = running.jobid
    for job in waiting:
        finish(rig, current)
        await eventually(last_submitted_is(rig, job.jobid))
        current = job.jobid
    assert [s[2] for s in rig.transport.submitted] == ["running", "w0", "w1", "w2"]


async def test_a_cancelled_waiting_job_never_runs(one_slot: Rig) -> None:
    rig = one_slot
    running = await rig.engine.imagine(OWNER, imagine("running"))
    waiting = await rig.engine.imagine(OWNER, imagine("cancel me", queue=True))
    cancelled = await rig.engine.cancel(OWNER, waiting.jobid)
    assert cancelled.status is JobStatus.CANCELLED and rig.engine.waiting == 0
    finish(rig, running.jobid)
    await rig.transport.applied()
    await asyncio.sleep(0.05)  # a dispatch, if any were wrongly left, would have run
    assert [s[2] for s in rig.transport.submitted] == ["running"]


async def test_a_queued_button_job_clicks_its_parents_button(one_slot: Rig) -> None:
    rig = one_slot
    parent = await rig.engine.imagine(OWNER, imagine("grid"))
    finish(rig, parent.jobid, (Button("U2", "MJ::JOB::upsample::2::hash"),))
    await rig.transport.applied()
    blocker = await rig.engine.imagine(OWNER, imagine("blocker"))
    options = JobOptions(queue=True)
    child = await rig.engine.button(OWNER, ButtonRequest(parent.jobid, "U2", options=options))
    assert child.status is JobStatus.CREATED
    finish(rig, blocker.jobid)
    await eventually(lambda: len(rig.transport.clicks) == 1)
    click = rig.transport.clicks[0]
    assert (click.message_id, click.custom_id) == (
        f"done-{parent.jobid}",
        "MJ::JOB::upsample::2::hash",
    )


async def test_a_refused_dispatch_fails_the_job_and_calls_back(one_slot: Rig) -> None:
    rig = one_slot
    running = await rig.engine.imagine(OWNER, imagine("running"))
    hook = "http://receiver.test/hook"
    waiting = await rig.engine.imagine(OWNER, imagine("doomed", queue=True, reply_url=hook))
    rig.transport.fail_next = DiscordHTTPError(500, 0, "Discord is down")
    finish(rig, running.jobid)
    await eventually(lambda: "failed" in rig.receiver.statuses(waiting.jobid))
    failed = await rig.engine.job(OWNER, waiting.jobid)
    assert failed.status is JobStatus.FAILED and failed.error


async def test_a_job_cancelled_before_it_joins_the_queue_leaves_no_slot_taken(
    one_slot: Rig,
) -> None:
    rig = one_slot
    parent = await rig.engine.imagine(OWNER, imagine("grid"))
    finish(rig, parent.jobid, (Button("U1", "MJ::JOB::upsample::1::hash"),))
    await rig.transport.applied()
    blocker = await rig.engine.imagine(OWNER, imagine("blocker"))
    linking, go_on = asyncio.Event(), asyncio.Event()
    add_child = rig.store.add_child

    async def slow_add_child(parent_jobid: str, child: Child) -> bool:
        linking.set()
        await go_on.wait()
        return await add_child(parent_jobid, child)

    rig.store.add_child = slow_add_child  # type: ignore[method-assign]
    request = ButtonRequest(parent.jobid, "U1", options=JobOptions(queue=True))
    clicking = asyncio.create_task(rig.engine.button(OWNER, request))
    await linking.wait()  # the job is stored, not yet queued: cancel it now
    (child_id,) = [j for j in rig.engine.running(OWNER) if j != blocker.jobid]
    assert (await rig.engine.cancel(OWNER, child_id)).status is JobStatus.CANCELLED
    go_on.set()
    assert (await clicking).status is JobStatus.CANCELLED
    assert rig.engine.waiting == 0
    finish(rig, blocker.jobid)
    await rig.transport.applied()
    # The one slot is free again: a new job starts at once instead of a 429.
    assert (await rig.engine.imagine(OWNER, imagine("next"))).status is JobStatus.STARTED
    assert [s[2] for s in rig.transport.submitted] == ["grid", "blocker", "next"]


async def test_a_new_request_never_overtakes_waiting_jobs(one_slot: Rig) -> None:
    rig = one_slot
    running = await rig.engine.imagine(OWNER, imagine("running"))
    waiting = await rig.engine.imagine(OWNER, imagine("waiting", queue=True))
    # Cancelling frees the slot and schedules the dispatch pass, which has not run when the
    # newcomer (with its replyUrl: nothing to read first) chooses its account.
    await rig.engine.cancel(OWNER, running.jobid)
    with pytest.raises(Busy):
        await rig.engine.imagine(OWNER, imagine("newcomer", reply_url="http://receiver/cb"))
    await eventually(lambda: len(rig.transport.submitted) == 2)
    assert rig.transport.submitted[1][1] == waiting.jobid


async def test_news_for_a_job_no_post_waits_for_leaves_no_verdict_behind(one_slot: Rig) -> None:
    rig = one_slot
    running = await rig.engine.imagine(OWNER, imagine("running"))
    waiting = await rig.engine.imagine(OWNER, imagine("waiting", queue=True))
    rig.transport.auto_start = False  # submitted, but no "Waiting to start" yet
    finish(rig, running.jobid)
    await eventually(lambda: len(rig.transport.submitted) == 2)
    # Midjourney queues it on its side: a waiting POST would get a 504, but none waits.
    rig.transport.emit(JobQueued(waiting.jobid, "q", "Job queued", "t"))
    await rig.transport.applied()
    assert rig.engine.pending_verdicts == 0


async def test_concurrent_queued_posts_spread_evenly_over_the_accounts(tmp_path: Path) -> None:
    async for rig in open_rig(tmp_path, queue_limit=100):
        channels = [
            (await rig.engine.accounts.add(OWNER, f"{TOKEN}-{n}", 2))[0].channel for n in range(3)
        ]
        for _ in range(6):  # every slot taken: the next jobs wait
            await rig.engine.imagine(OWNER, imagine("running"))
        queued = await asyncio.gather(
            *(rig.engine.imagine(OWNER, imagine(f"w{n}", queue=True)) for n in range(10))
        )
        assert all(job.status is JobStatus.CREATED for job in queued)
        per_account = Counter(job.channel for job in queued)
        assert sorted(per_account) == sorted(channels)
        assert max(per_account.values()) - min(per_account.values()) <= 1
