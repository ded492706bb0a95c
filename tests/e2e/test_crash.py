"""kill -9 of the server, five times, in the middle of 300 jobs: nothing accepted is lost.

The server runs as a real process (``python -m mjapi serve``) on SQLite, against the simulator
(in this process, at test speed) with ten accounts, durable queue on. A client submits 300
imagine jobs with a ``replyUrl`` on a receiver in this process; at seeded random moments the
server is killed with SIGKILL and started again. At the end every job the server accepted
(answered 200 with a jobid) is terminal, and the receiver got each one's terminal callback at
least once, counted once per ``webhook-id`` (callbacks may repeat after a crash; receivers dedupe
on that id).

Bounded: well under two minutes on two cores. ``MJAPI_CRASH_JOBS`` and ``MJAPI_CRASH_KILLS``
make a longer run by hand.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from mjapi.simulator import SimulatorConfig, running_simulator
from tests.servers import CallbackSink, serve_asgi

JOBS = int(os.environ.get("MJAPI_CRASH_JOBS", "300"))
KILLS = int(os.environ.get("MJAPI_CRASH_KILLS", "5"))
ACCOUNTS = 10
SUBMITTERS = 16
SLOTS = 15
TERMINAL = {"completed", "failed", "moderated", "cancelled"}
#: A job lasts ~6 s in the simulator: longer than a restart (~2 s), as a real one (~1 min) is.
#: A job that starts and ends entirely while the server is down leaves no key in the history
#: (docs/api.md, "Restarts and shutdown") and would fail as lost.
STEP_DELAY = 1.0
JOB_TIMEOUT = 25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``mjapi serve`` as a child process that can be killed and started again."""

    def __init__(self, data_dir: Path, discord_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        self.env = {
            **os.environ,
            "MJAPI_PORT": str(self.port),
            "MJAPI_DATA_DIR": str(data_dir),
            "MJAPI_DISCORD_URL": discord_url,
            "MJAPI_ALLOW_PRIVATE_URLS": "true",
            "MJAPI_DURABLE_QUEUE": "true",
            "MJAPI_QUEUE_LIMIT": str(JOBS),
            "MJAPI_RATE_LIMIT": "0",
            "MJAPI_JOB_TIMEOUT": str(JOB_TIMEOUT),
            "MJAPI_ACK_TIMEOUT": "5",
            "MJAPI_CALLBACK_MAX_INTERVAL": "0.5",
            "MJAPI_LOG_LEVEL": "WARNING",
        }
        self.process: asyncio.subprocess.Process | None = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "mjapi", *args], env=self.env, capture_output=True, check=True
        )
        return done.stdout.decode()

    async def start(self, client: httpx.AsyncClient) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mjapi", "serve", env=self.env, stdout=log, stderr=log
            )
        for _ in range(600):
            try:
                if (await client.get(f"{self.url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("the server did not come up: " + self.log.read_text()[-2000:])

    async def kill(self, how: signal.Signals = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(how)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()


@asynccontextmanager
async def crash_world(tmp_path: Path) -> AsyncIterator[tuple[Server, CallbackSink, str]]:
    # Pro plan: 12 jobs at once and 10 more in Midjourney's queue, so 15 slots never overflow it.
    config = SimulatorConfig(step_delay=STEP_DELAY, heartbeat_interval_ms=5000, default_plan="Pro")
    sink = CallbackSink()
    async with running_simulator(config) as sim, serve_asgi(sink.app) as sink_url:
        server = Server(tmp_path, sim.base_url)
        try:
            yield server, sink, f"{sink_url}/hook"
        finally:
            await server.stop()


async def submit_all(
    api: httpx.AsyncClient, hook: str, accepted: dict[str, int], count: int = JOBS
) -> None:
    """POST ``count`` jobs from a few concurrent clients, as a busy user would."""
    numbers = iter(range(count))

    async def client() -> None:
        for n in numbers:
            await submit(api, hook, n, accepted)

    await asyncio.gather(*(client() for _ in range(SUBMITTERS)))


async def submit(api: httpx.AsyncClient, hook: str, n: int, accepted: dict[str, int]) -> None:
    """One job; sent again after meeting a dead server until it is accepted."""
    body = {"prompt": f"crash test {n}", "replyUrl": hook, "queue": True}
    while True:
        try:
            reply = await api.post("/v2/jobs/imagine", json=body)
        except httpx.TransportError:
            await asyncio.sleep(0.05)  # the server is down: try again once it is back
            continue
        # 504: Midjourney queued the job on its side; mjapi keeps tracking it (docs/api.md).
        if reply.status_code in (200, 504):
            accepted[reply.json()["jobid"]] = n
            return
        assert reply.status_code == 429, reply.text
        await asyncio.sleep(0.05)


async def killer(server: Server, client: httpx.AsyncClient, rng: random.Random) -> None:
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        await server.kill()
        await server.start(client)


async def all_terminal(
    api: httpx.AsyncClient, jobids: list[str], errors: dict[str, Any]
) -> dict[str, Any]:
    statuses: dict[str, Any] = {}
    for _ in range(1200):
        for jobid in jobids:
            if statuses.get(jobid) not in TERMINAL:
                reply = await api.get("/v2/jobs/", params={"jobid": jobid})
                statuses[jobid] = reply.json().get("status")
                errors[jobid] = reply.json().get("error")
        if all(statuses[j] in TERMINAL for j in jobids):
            return statuses
        await asyncio.sleep(0.1)
    return statuses


def files_of(log: Path, data_dir: Path) -> list[bytes]:
    """The server's log and the SQLite database with its WAL, as bytes."""
    return [path.read_bytes() for path in [log, *data_dir.glob("mjapi.sqlite3*")]]


async def test_nothing_accepted_is_lost_across_kill_9(tmp_path: Path) -> None:
    async with crash_world(tmp_path) as (server, sink, hook):
        token = server.cli("token", "create").strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as api:
            await server.start(api)
            for n in range(ACCOUNTS):
                account = {"discord": f"crash-test-account-token-{n:02d}", "maxJobs": SLOTS}
                reply = await api.post("/v2/account/midjourney", json=account)
                assert reply.status_code == 201, reply.text
            accepted: dict[str, int] = {}
            await asyncio.gather(
                submit_all(api, hook, accepted), killer(server, api, random.Random(5))
            )
            errors: dict[str, Any] = {}
            statuses = await all_terminal(api, list(accepted), errors)
            for jobid in accepted:
                await sink.wait_for_status(jobid, statuses[jobid], seconds=30)
    assert len(accepted) == JOBS
    assert all(statuses[j] in TERMINAL for j in accepted), statuses
    # Recovery works: all but a stray few complete (a job that ran entirely inside a restart
    # leaves no key in the history and fails as lost; with ~6 s jobs that is rare).
    completed = sum(1 for j in accepted if statuses[j] == "completed")
    assert completed >= JOBS * 0.98, Counter(errors.values())
    # Jobs the server stored while the client lost the answer to a kill run too; count them.
    terminal_events = {
        (h["webhook-id"], b["jobid"])
        for h, b in zip(sink.headers, sink.bodies, strict=True)
        if b["status"] in TERMINAL
    }
    assert set(accepted) <= {jobid for _, jobid in terminal_events}
    # Five hard kills later, still no Discord token at rest or in the server's log.
    at_rest = await asyncio.to_thread(files_of, server.log, tmp_path)
    assert all(b"crash-test-account-token" not in content for content in at_rest)
    outcome = {s: list(statuses.values()).count(s) for s in sorted(set(statuses.values()))}
    print(
        f"crash test: {JOBS} jobs, {KILLS} kills -> {outcome}; {len(sink.bodies)} callbacks, "
        f"{len(terminal_events)} terminal events (deduped by webhook-id, of "
        f"{len({j for _, j in terminal_events})} jobs); "
        f"errors: {Counter(e for e in errors.values() if e)}"
    )


async def test_sigterm_stops_in_bounded_time_and_the_next_start_finishes_the_work(
    tmp_path: Path,
) -> None:
    async with crash_world(tmp_path) as (server, sink, hook):
        server.env |= {"MJAPI_SHUTDOWN_GRACE": "2", "MJAPI_LOG_LEVEL": "INFO"}
        token = server.cli("token", "create").strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as api:
            await server.start(api)
            account = {"discord": "crash-test-account-token-term", "maxJobs": 6}
            assert (await api.post("/v2/account/midjourney", json=account)).status_code == 201
            accepted: dict[str, int] = {}
            await submit_all(api, hook, accepted, count=12)  # 6 running, 6 waiting
            stopping = asyncio.get_running_loop().time()
            await server.kill(signal.SIGTERM)
            stopped_after = asyncio.get_running_loop().time() - stopping
            # uvicorn re-raises the signal after its orderly shutdown: the exit says SIGTERM.
            assert server.process is not None
            assert server.process.returncode in (0, -signal.SIGTERM)
            log = await asyncio.to_thread(server.log.read_text)
            assert "Application shutdown complete" in log  # the lifespan ran to its end
            await server.start(api)
            statuses = await all_terminal(api, list(accepted), {})
            for jobid in accepted:
                await sink.wait_for_status(jobid, "completed", seconds=30)
    assert set(statuses.values()) == {"completed"} and len(statuses) == 12
    # Bounded by the grace (2 s) plus closing connections: far below a job's length.
    assert stopped_after < 2 + 5, stopped_after
    print(
        f"SIGTERM: stopped after {stopped_after:.1f} s; 12 of 12 jobs completed after the restart"
    )
