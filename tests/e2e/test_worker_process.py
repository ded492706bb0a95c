"""The API, engine and simulator with the Discord side in its worker process
(``MJAPI_TRANSPORT_PROCESS=true``): jobs, buttons and callbacks as with the transport in-process,
and a worker killed mid-job replaced without losing the job."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from mjapi.simulator import SimulatorConfig
from mjapi.transports.worker import ProcessTransport
from tests.e2e.conftest import Stack
from tests.e2e.test_imagine import GRID_BUTTONS, add_account, wait_for_job


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    # About two seconds per job: long enough to kill the worker while one runs.
    return SimulatorConfig(step_delay=0.2, heartbeat_interval_ms=5000)


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    return {"transport_process": True}


def worker_pid(stack: Stack) -> int:
    assert stack.engine is not None
    transport = stack.engine.transport
    assert isinstance(transport, ProcessTransport)
    pid = transport.worker_pid
    assert pid is not None and pid != os.getpid()
    return pid


async def test_imagine_and_a_button_through_the_worker(stack: Stack) -> None:
    await add_account(stack)
    reply = await stack.api.post(
        "/v2/jobs/imagine", json={"prompt": "a fox", "replyUrl": stack.sink_url}
    )
    assert reply.status_code == 200, reply.text
    jobid = reply.json()["jobid"]
    worker_pid(stack)

    done = await wait_for_job(stack, jobid, "completed")
    assert done["buttons"] == GRID_BUTTONS
    await stack.sink.wait_for_status(jobid, "completed")
    upscale = await stack.api.post("/v2/jobs/button", json={"jobid": jobid, "button": "U2"})
    assert upscale.status_code == 200, upscale.text
    assert (await wait_for_job(stack, upscale.json()["jobid"], "completed"))["attachments"]


async def test_a_job_survives_its_worker_being_killed(stack: Stack) -> None:
    await add_account(stack)
    reply = await stack.api.post("/v2/jobs/imagine", json={"prompt": "a lighthouse"})
    assert reply.status_code == 200, reply.text
    jobid = reply.json()["jobid"]
    first = worker_pid(stack)

    os.kill(first, signal.SIGKILL)

    done = await wait_for_job(stack, jobid, "completed")
    assert done["buttons"] == GRID_BUTTONS
    assert worker_pid(stack) != first
    again = await stack.api.post("/v2/jobs/imagine", json={"prompt": "after the kill"})
    assert again.status_code == 200, again.text
    await wait_for_job(stack, again.json()["jobid"], "completed")
