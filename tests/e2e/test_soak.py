"""A bounded soak: 200 jobs over four accounts while the simulator keeps breaking things.

Connections are dropped, Discord asks for reconnects, invalidates sessions, rate-limits (per route
and globally) and fails with 5xx at random moments (seeded, so a failure can be replayed). Every job
must end completed with its callback delivered, and no REST request may reach the simulator before
the time a 429 or an exhausted bucket told the client to wait.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from mjapi.simulator import SimulatorConfig
from tests.e2e.conftest import Stack
from tests.e2e.helpers import TERMINAL, add_account

JOBS = 200
TOKENS = [f"soak-simulated-discord-token-{n:02d}-xxxxxxxx" for n in range(4)]
SLOTS = 3  # per account: the simulator's Standard plan runs 3 at once, so nothing is MJ-queued
SEED = 20261124


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    # A job takes about two seconds (a real one about a minute): longer than the gap while a
    # client identifies anew after a non-resumable INVALID_SESSION (reconnect backoff plus the
    # 0.2-1 s op 9 pause). A job whose whole life falls inside that gap leaves only nonce-less
    # finished grids in the history, which nothing but prompt text could pair with it, and mjapi
    # never pairs by prompt text. With ~1 s jobs that happened in about one run in four.
    return SimulatorConfig(step_delay=0.2, heartbeat_interval_ms=1000)


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    return {"job_timeout": 30}


async def test_soak_with_random_faults(stack: Stack) -> None:
    for token in TOKENS:
        await add_account(stack, max_jobs=SLOTS, token=token)
    rng = random.Random(SEED)
    async with httpx.AsyncClient(base_url=stack.simulator_url) as sim:
        done = asyncio.Event()
        chaos = asyncio.create_task(_chaos(sim, rng, done))
        try:
            slots = asyncio.Semaphore(SLOTS * len(TOKENS))
            jobs = await asyncio.gather(*(_one_job(stack, slots, n) for n in range(JOBS)))
        finally:
            done.set()
            faults = await chaos
        stats = (await sim.get("/_sim/stats")).json()

    assert len(set(jobs)) == JOBS
    statuses = await asyncio.gather(*(_status(stack, jobid) for jobid in jobs))
    assert statuses == ["completed"] * JOBS
    for jobid in jobs:
        await stack.sink.wait_for_status(jobid, "completed")
    assert stats["early_requests"] == 0, stats
    assert faults > 20 and stats["rate_limited"] > 0, (faults, stats)
    assert stats["gateway"]["resumed"] > 0, stats


async def _one_job(stack: Stack, slots: asyncio.Semaphore, n: int) -> str:
    """Submit one imagine (retrying Busy/rate-limited answers) and wait for its end."""
    async with slots:
        while True:
            reply = await stack.api.post(
                "/v2/jobs/imagine",
                json={"prompt": f"soak {n}", "replyUrl": stack.sink_url},
            )
            if reply.status_code == 200:
                break
            assert reply.status_code in (429, 502), reply.text  # refused: nothing was accepted
            await asyncio.sleep(0.05)
        jobid: str = reply.json()["jobid"]
        await _until_terminal(stack, jobid)
        return jobid


async def _until_terminal(stack: Stack, jobid: str) -> None:
    async def poll() -> None:
        while True:
            if await _status(stack, jobid) in TERMINAL:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 60)


async def _status(stack: Stack, jobid: str) -> str:
    status: str = (await stack.api.get("/v2/jobs/", params={"jobid": jobid})).json()["status"]
    return status


async def _chaos(sim: httpx.AsyncClient, rng: random.Random, done: asyncio.Event) -> int:
    """Inject a random fault every 50-250 ms until ``done``; returns how many were injected."""
    injected = 0
    while not done.is_set():
        token = rng.choice(TOKENS)
        kind = rng.random()
        if kind < 0.2:
            reply = await sim.post("/_sim/gateway/drop", json={"token": token})
        elif kind < 0.35:
            reply = await sim.post("/_sim/gateway/reconnect", json={"token": token})
        elif kind < 0.45:
            resumable = rng.random() < 0.5
            reply = await sim.post(
                "/_sim/gateway/invalidate", json={"token": token, "resumable": resumable}
            )
        elif kind < 0.85:
            rule = {
                "fault": "rate_limit",
                "token": token,
                "route": rng.choice(["interactions", "any"]),
                "retry_after": round(rng.uniform(0.05, 0.4), 3),
                "global": rng.random() < 0.3,
                "times": rng.randint(1, 2),
            }
            reply = await sim.post("/_sim/faults", json=rule)
        else:
            rule = {"fault": "server_error", "token": token, "route": "interactions"}
            reply = await sim.post("/_sim/faults", json=rule)
        assert reply.status_code in (200, 201), reply.text
        injected += 1
        await asyncio.sleep(rng.uniform(0.05, 0.25))
    return injected
