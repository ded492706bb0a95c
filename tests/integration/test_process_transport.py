"""``ProcessTransport``: the Discord transport in a worker process, against the simulator.

Real processes and sockets: the worker is ``python -m mjapi.transports.worker`` and speaks to
the simulator over loopback; the test speaks to the worker through ``ProcessTransport`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator

import pytest

from mjapi.domain.events import BackendEvent, JobCompleted, JobProgressed, JobStarted
from mjapi.errors import DiscordAuthError, TransportError
from mjapi.simulator import Simulator, SimulatorConfig, running_simulator
from mjapi.transports.worker import ProcessTransport, WorkerConfig
from tests.integration.test_discord_transport import (
    FAST,
    REJECTED,
    WAIT,
    assert_lifecycle,
    attached,
    events_until_done,
    is_job_event,
    of,
)

#: slow enough that the worker can be killed while a job is still running
STEADY = SimulatorConfig(step_delay=0.2)


@contextlib.asynccontextmanager
async def world(
    config: SimulatorConfig = FAST,
) -> AsyncIterator[tuple[Simulator, ProcessTransport]]:
    async with running_simulator(config) as sim:
        transport = ProcessTransport(WorkerConfig(sim.base_url, ready_timeout=5.0))
        try:
            yield sim, transport
        finally:
            await transport.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_job_runs_to_completion_through_the_worker() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)

        nonce = await transport.imagine(acct, "job-1", "a red fox in the snow")
        events = await events_until_done(transport, "job-1")

        assert nonce.isdigit()
        assert_lifecycle(of("job-1", events))
        assert transport.worker_pid not in (None, os.getpid())


async def test_errors_come_back_as_raised_in_the_worker() -> None:
    async with world() as (_sim, transport):
        with pytest.raises(DiscordAuthError) as raised:
            await transport.identify(REJECTED)

        assert raised.value.status == 400
        assert "rejected" in raised.value.message.lower()


async def test_no_worker_before_the_first_call_and_none_after_close() -> None:
    async with world() as (_sim, transport):
        assert transport.worker_pid is None
        await attached(transport)
        pid = transport.worker_pid
        assert pid is not None and alive(pid)

        await transport.close()

        assert not alive(pid)
        with pytest.raises(TransportError):
            await transport.identify("any")
        async with asyncio.timeout(WAIT):
            assert [event async for event in transport.events()] == []


async def replacement_of(transport: ProcessTransport, dead: int) -> int:
    """The pid of the worker started after ``dead`` (once the server noticed the death)."""
    async with asyncio.timeout(WAIT):
        while transport.worker_pid in (None, dead):  # noqa: ASYNC110 (the death has no event)
            await asyncio.sleep(0)  # noticed in the turn it happens: before the takeover ends
    pid = transport.worker_pid
    assert pid is not None
    return pid


async def test_a_killed_worker_is_replaced_and_its_running_job_still_completes() -> None:
    async with world(STEADY) as (_sim, transport):
        acct = await attached(transport)
        await transport.imagine(acct, "job-k", "a lighthouse at dusk")
        seen: list[BackendEvent] = []
        async with asyncio.timeout(WAIT), contextlib.aclosing(transport.events()) as events:
            async for event in events:
                if isinstance(event, JobProgressed):
                    break
            first = transport.worker_pid
            assert first is not None
            os.kill(first, signal.SIGKILL)
            await replacement_of(transport, first)
            # Submitted while the new worker is still taking the account over: it waits for it.
            await transport.imagine(acct, "job-n", "a second lighthouse")
            open_jobs = {"job-k", "job-n"}
            async for event in events:
                seen.append(event)
                if isinstance(event, JobCompleted):
                    open_jobs.discard(event.jobid)
                if not open_jobs:
                    break

        killed = [e for e in seen if is_job_event(e) and e.jobid == "job-k"]
        assert sum(isinstance(e, JobCompleted) for e in killed) == 1
        assert not any(isinstance(e, JobStarted) for e in killed)
        assert_lifecycle(of("job-n", [e for e in seen if is_job_event(e)]))


async def test_the_signals_that_stop_the_server_leave_its_worker_to_it() -> None:
    # SIGTERM to the whole group (systemd) or Ctrl-C: the server closes its worker itself.
    async with world() as (_sim, transport):
        acct = await attached(transport)
        pid = transport.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGINT)

        await transport.imagine(acct, "job-s", "still here")

        assert transport.worker_pid == pid and alive(pid)
        assert_lifecycle(of("job-s", await events_until_done(transport, "job-s")))
