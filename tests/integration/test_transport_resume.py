"""Jobs resumed by a new DiscordTransport after the old one died, against the simulator.

Transport A submits and is closed mid-flight (a crash: nothing more reaches it); the simulator
plays on. Transport B, the restarted server's, is told what A knew (``resume``) and must report
each job's outcome exactly once: from the channel history, or live for a job still running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

from mjapi.domain.accounts import Account
from mjapi.domain.events import (
    AccountDisabled,
    BackendEvent,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobProgressed,
    JobStarted,
)
from mjapi.simulator import Simulator, SimulatorConfig, running_simulator
from mjapi.transports.base import Resumable
from mjapi.transports.discord import DiscordTransport
from mjapi.transports.discord.interpret import interpret
from mjapi.transports.discord.transport import GATEWAY_LOST
from tests.integration.test_discord_buttons import target
from tests.integration.test_discord_transport import (
    TOKEN,
    WAIT,
    attached,
    events_until_done,
    is_job_event,
    of,
)

#: slow enough that closing A (a few ms) always beats the next step of a job
CRASH = SimulatorConfig(step_delay=0.15)
#: how long B is watched for a duplicate once every job ended
QUIET = 0.5


@contextlib.asynccontextmanager
async def simulator() -> AsyncIterator[Simulator]:
    async with running_simulator(CRASH) as sim:
        yield sim


@contextlib.asynccontextmanager
async def transport(sim: Simulator) -> AsyncIterator[DiscordTransport]:
    opened = DiscordTransport(sim.base_url, ready_timeout=5.0)
    try:
        yield opened
    finally:
        await opened.close()


async def first(transport: DiscordTransport, wanted: Callable[[BackendEvent], bool]) -> JobEvent:
    """The first event ``wanted`` accepts (earlier ones are dropped)."""
    async with asyncio.timeout(WAIT), contextlib.aclosing(transport.events()) as stream:
        async for event in stream:
            if wanted(event) and is_job_event(event):
                return event
    raise AssertionError("the event stream ended")


async def start_of(transport: DiscordTransport, jobid: str) -> JobStarted:
    """The job's JobStarted (its message is the job's progress message)."""
    event = await first(transport, lambda e: isinstance(e, JobStarted) and e.jobid == jobid)
    assert isinstance(event, JobStarted)
    return event


def progressed(jobid: str) -> Callable[[BackendEvent], bool]:
    return lambda e: isinstance(e, JobProgressed) and e.jobid == jobid


async def crash(transport: DiscordTransport) -> list[BackendEvent]:
    """Close the transport; what it still had queued (nothing more arrives after this)."""
    await transport.close()
    return [event async for event in transport.events()]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def quiet(transport: DiscordTransport) -> list[BackendEvent]:
    """Whatever the transport still reports within ``QUIET`` seconds."""
    seen: list[BackendEvent] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(QUIET), contextlib.aclosing(transport.events()) as stream:
            async for event in stream:
                seen.append(event)
    return seen


def hash_seen(sim: Simulator, acct: Account, message_id: str) -> str:
    """The job hash A saw in the preview of the job's progress message (``<hash>_grid_0.webp``)."""
    stored = sim.state.message(acct.channel, message_id)
    assert stored is not None, "the job finished before A was closed"
    message = interpret(stored)
    assert message is not None and message.job_hash is not None
    return message.job_hash


def in_history(sim: Simulator, acct: Account, wanted: Callable[[dict[str, object]], bool]) -> bool:
    return any(wanted(m) for m in sim.state.channel_messages(acct.channel))


def completions(events: Sequence[BackendEvent], jobid: str) -> list[JobCompleted]:
    return [e for e in events if isinstance(e, JobCompleted) and e.jobid == jobid]


async def test_jobs_that_finished_while_down_complete_once_from_the_history() -> None:
    async with simulator() as sim, transport(sim) as a, transport(sim) as b:
        acct = await attached(a)
        await a.imagine(acct, "grid", "a harbour at dawn")
        [grid] = completions(await events_until_done(a, "grid"), "grid")

        created = datetime.now(UTC)
        nonce = await a.imagine(acct, "job-1", "a fox in the snow")
        start = await start_of(a, "job-1")
        await first(a, progressed("job-1"))
        job_hash = hash_seen(sim, acct, start.message_id)
        clicked = datetime.now(UTC)
        pick_nonce = await a.button(acct, "u1", target(grid, "U1"))
        leftovers = await crash(a)
        # Meanwhile Midjourney finishes both: the result and the "Image #1" reply are posted.
        await until(lambda: sim.state.message(acct.channel, start.message_id) is None)
        await until(lambda: in_history(sim, acct, lambda m: "Image #1" in str(m["content"])))

        # job-1 is resumed before attach (READY replays the history), u1 once attached (the
        # history is read at once).
        job_1 = Resumable(
            "job-1", "imagine", created, nonce=nonce, message_id=start.message_id, job_hash=job_hash
        )
        u1 = Resumable("u1", "button", clicked, nonce=pick_nonce, parent=target(grid, "U1"))
        await b.resume(acct, [job_1])
        await b.attach(acct)
        events = await events_until_done(b, "job-1")  # READY's catch-up is over
        await b.resume(acct, [u1])
        events += await events_until_done(b, "u1")
        await b.resume(acct, [job_1, u1])  # known already: the history read again adds nothing
        later = await quiet(b)

    assert not [e for e in leftovers if isinstance(e, JobCompleted)], "A saw a result: no crash"
    [done] = completions(events, "job-1")
    assert done.job_hash == job_hash
    assert len(done.attachments) == 1 and len(done.buttons) == 9
    [pick] = completions(events, "u1")
    assert "Image #1" in pick.content
    assert pick.job_hash not in (None, grid.job_hash)
    # Started before the crash: nothing but the outcome is news.
    assert [type(e) for e in of("job-1", events)] == [JobCompleted]
    assert [type(e) for e in of("u1", events)] == [JobCompleted]
    assert [e for e in later if is_job_event(e)] == []


def resumed(jobid: str, created: datetime, nonce: str, message_id: str) -> Resumable:
    return Resumable(jobid, "imagine", created, nonce=nonce, message_id=message_id)


async def test_jobs_still_running_complete_live_whether_resumed_before_or_after_attach() -> None:
    async with simulator() as sim, transport(sim) as a, transport(sim) as b:
        acct = await attached(a)
        created = datetime.now(UTC)
        early_nonce = await a.imagine(acct, "early", "a lighthouse")
        late_nonce = await a.imagine(acct, "late", "a windmill")
        early = await start_of(a, "early")
        late = await start_of(a, "late")
        await crash(a)

        # "early" waits for attach (READY replays the history), "late" is resumed once attached.
        await b.resume(acct, [resumed("early", created, early_nonce, early.message_id)])
        await b.attach(acct)
        running = sim.state.message(acct.channel, late.message_id) is not None
        await b.resume(acct, [resumed("late", created, late_nonce, late.message_id)])
        events = await events_until_done(b, "early", "late")
        later = await quiet(b)

    assert running, "the jobs finished before B attached"
    for jobid in ("early", "late"):
        mine = of(jobid, events)
        percents = [e.percent for e in mine if isinstance(e, JobProgressed)]
        assert percents and percents == sorted(set(percents))
        assert [type(e) for e in mine] == [JobProgressed] * len(percents) + [JobCompleted]
    assert [e for e in later if is_job_event(e)] == []


async def test_a_job_the_history_does_not_show_stays_tracked() -> None:
    async with simulator() as sim, transport(sim) as b:
        acct = await attached(b)
        await b.imagine(acct, "other", "a red fox")  # history, none of it the ghost's
        await events_until_done(b, "other")
        ghost = Resumable(
            "ghost", "imagine", datetime.now(UTC), nonce="1", message_id="2", job_hash=None
        )
        await b.resume(acct, [ghost])
        silent = await quiet(b)
        # Discord rejects the token now: every job still tracked fails, the ghost included.
        sim.control.close(4004, TOKEN)
        async with asyncio.timeout(WAIT), contextlib.aclosing(b.events()) as stream:
            disabled = await anext(stream)
            failed = await anext(stream)

    assert silent == []
    assert isinstance(disabled, AccountDisabled)
    assert isinstance(failed, JobFailed)
    assert (failed.jobid, failed.error) == ("ghost", GATEWAY_LOST)
