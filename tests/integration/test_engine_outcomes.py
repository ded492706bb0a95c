"""Midjourney's non-happy answers through the engine: Job queued, Queue full, moderation notices,
CAPTCHA, disabled accounts, rejected tokens (real SQLite store, fake backend)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mjapi.domain.accounts import Account
from mjapi.domain.events import (
    AccountDisabled,
    AccountFlagged,
    BackendEvent,
    FailReason,
    JobFailed,
    JobQueued,
    JobStarted,
)
from mjapi.domain.jobs import JobStatus
from mjapi.engine import Engine
from mjapi.engine.verdicts import JobAnswered
from mjapi.errors import AccountDisabled as AccountDisabledError
from mjapi.errors import Busy, DiscordAuthError, PendingModeration
from tests.fakes import FakeTransport
from tests.integration.engine_rig import OWNER, Rig, imagine, settle

TOKEN_A = "token-aaaaaaaaaaaaaaaaaaaa"
TOKEN_B = "token-bbbbbbbbbbbbbbbbbbbb"
NOTICE = "Pending mod message: You have a pending moderation message."
Answer = Callable[[str], list[BackendEvent]]


def queued(jobid: str) -> list[BackendEvent]:
    return [JobQueued(jobid, "q-1", "It will start as soon as another one finishes!", "t")]


def queue_full(jobid: str) -> list[BackendEvent]:
    return [JobFailed(jobid, "Queue full", "Your job queue is full.", FailReason.QUEUE_FULL)]


def flagged(channel: str) -> Answer:
    def events(jobid: str) -> list[BackendEvent]:
        failed = JobFailed(jobid, "Pending mod message", "Ack it", FailReason.ACCOUNT_FLAGGED)
        return [AccountFlagged(channel, NOTICE), failed]

    return events


def disabled(channel: str) -> Answer:
    def events(jobid: str) -> list[BackendEvent]:
        failed = JobFailed(jobid, "Blocked", "Suspicious activity", FailReason.ACCOUNT_DISABLED)
        return [AccountDisabled(channel, "Blocked: Suspicious activity"), failed]

    return events


async def add(rig: Rig, token: str = TOKEN_A, max_jobs: int = 3) -> Account:
    account, _ = await rig.engine.accounts.add(OWNER, token, max_jobs)
    return account


async def stored(rig: Rig, channel: str) -> Account:
    account = await rig.store.get_account(channel)
    assert account is not None
    return account


async def test_job_queued_answers_504_and_the_job_is_tracked_to_its_end(rig: Rig) -> None:
    await add(rig, max_jobs=1)
    rig.transport.answers.append(queued)
    with pytest.raises(JobAnswered) as answered:
        await rig.engine.imagine(OWNER, imagine())
    assert answered.value.status == 504
    assert answered.value.message == "Job queued"
    assert answered.value.details == "It will start as soon as another one finishes!"
    job = answered.value.job
    assert job.status is JobStatus.CREATED
    # Midjourney runs it later: it keeps its slot meanwhile and then lives a normal life.
    assert rig.engine.running(OWNER) == [job.jobid]
    with pytest.raises(Busy):
        await rig.engine.imagine(OWNER, imagine())
    rig.transport.emit(JobStarted(job.jobid, "m-9", "**a cat** (Waiting to start)", "t"))
    await settle(rig, job.jobid, JobStatus.STARTED)


async def test_queue_full_answers_429_and_frees_the_slot(rig: Rig) -> None:
    await add(rig, max_jobs=1)
    rig.transport.answers.append(queue_full)
    with pytest.raises(JobAnswered) as answered:
        await rig.engine.imagine(OWNER, imagine())
    assert answered.value.status == 429
    assert answered.value.message == "Queue full"
    assert answered.value.job.status is JobStatus.FAILED
    assert rig.engine.running(OWNER) == []
    assert (await rig.engine.imagine(OWNER, imagine())).status is JobStatus.STARTED


async def test_moderation_notice_flags_the_account_until_reset(rig: Rig) -> None:
    account = await add(rig)
    rig.transport.answers.append(flagged(account.channel))
    with pytest.raises(JobAnswered) as answered:
        await rig.engine.imagine(OWNER, imagine())
    assert answered.value.status == 596
    assert answered.value.job.status is JobStatus.FAILED
    assert answered.value.job.error == "Pending mod message"
    assert (await stored(rig, account.channel)).pending_mod_message == NOTICE
    with pytest.raises(PendingModeration):
        await rig.engine.imagine(OWNER, imagine())
    await rig.engine.accounts.reset(OWNER, account.channel)
    assert (await stored(rig, account.channel)).eligible
    assert (await rig.engine.imagine(OWNER, imagine())).status is JobStatus.STARTED


async def test_follow_ups_of_a_flagged_account_get_596(rig: Rig) -> None:
    account = await add(rig)
    job = await rig.engine.imagine(OWNER, imagine())
    rig.transport.emit(AccountFlagged(account.channel, NOTICE))
    await rig.transport.applied()
    with pytest.raises(PendingModeration):
        await rig.engine.imagine(OWNER, imagine(channel=account.channel))
    # A job that was already running is not touched by the flag.
    assert (await rig.engine.job(OWNER, job.jobid)).status is JobStatus.STARTED


async def test_disabled_account_leaves_rotation_for_the_others(rig: Rig) -> None:
    first = await add(rig, TOKEN_A)
    second = await add(rig, TOKEN_B)
    rig.transport.emit(AccountDisabled(first.channel, "Blocked: Suspicious activity"))
    await rig.transport.applied()
    assert (await stored(rig, first.channel)).disabled_reason == "Blocked: Suspicious activity"
    for _ in range(3):  # all of the second account's slots, none of the first's
        job = await rig.engine.imagine(OWNER, imagine())
        assert job.channel == second.channel
    with pytest.raises(AccountDisabledError) as refused:
        await rig.engine.imagine(OWNER, imagine(channel=first.channel))
    assert "Blocked: Suspicious activity" in refused.value.message


async def test_account_disabled_by_midjourney_answers_596(rig: Rig) -> None:
    account = await add(rig)
    rig.transport.answers.append(disabled(account.channel))
    with pytest.raises(JobAnswered) as answered:
        await rig.engine.imagine(OWNER, imagine())
    assert answered.value.status == 596
    assert answered.value.job.error == "Blocked"
    assert answered.value.job.error_details == "Suspicious activity"
    with pytest.raises(AccountDisabledError):
        await rig.engine.imagine(OWNER, imagine())


async def test_token_rejected_at_submission_disables_the_account(rig: Rig) -> None:
    account = await add(rig)
    rig.transport.fail_next = DiscordAuthError()
    with pytest.raises(AccountDisabledError):
        await rig.engine.imagine(OWNER, imagine())
    assert (await stored(rig, account.channel)).disabled_reason == DiscordAuthError().message
    assert rig.engine.running(OWNER) == []


async def test_reset_keeps_the_account_disabled_while_discord_refuses_it(rig: Rig) -> None:
    account = await add(rig)
    rig.transport.emit(AccountDisabled(account.channel, "Discord rejected the token"))
    await rig.transport.applied()
    rig.transport.attach_error = DiscordAuthError()
    with pytest.raises(DiscordAuthError):
        await rig.engine.accounts.reset(OWNER, account.channel)
    assert not (await stored(rig, account.channel)).eligible
    await rig.engine.accounts.reset(OWNER, account.channel)  # the token works again
    assert (await stored(rig, account.channel)).eligible
    assert rig.transport.attached[account.channel].channel == account.channel


async def test_a_late_verdict_is_not_kept_after_the_post_answered(rig: Rig) -> None:
    transport = FakeTransport(auto_start=False)
    engine = Engine(rig.store, transport, rig.callbacks, rig.clock, ack_timeout=0.01)
    transport.consumer = engine
    await engine.start()
    try:
        await engine.accounts.add(OWNER, TOKEN_A, 1)
        job = await engine.imagine(OWNER, imagine())  # nobody acknowledged: answered as created
        assert job.status is JobStatus.CREATED
        for event in queued(job.jobid):
            transport.emit(event)
        await transport.applied()
        assert engine.pending_verdicts == 0
    finally:
        await engine.stop()


async def test_disabled_accounts_are_not_connected_at_start(rig: Rig) -> None:
    first = await add(rig, TOKEN_A)
    second = await add(rig, TOKEN_B)
    await rig.store.put_account((await stored(rig, first.channel)).evolve(disabled_reason="x"))
    transport = FakeTransport()
    transport.attach_error = DiscordAuthError()  # the first attach made at start-up: second's
    engine = Engine(rig.store, transport, rig.callbacks, rig.clock)
    await engine.start()
    try:
        assert first.channel not in transport.attached
        assert (await stored(rig, second.channel)).disabled_reason == DiscordAuthError().message
    finally:
        await engine.stop()
