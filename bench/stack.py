"""Server + simulator as separate processes on loopback, an API token and simulated accounts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    LOOPBACK,
    Child,
    Children,
    HttpPool,
    child_env,
    free_port,
    python_module,
    wait_http,
)

#: any well-formed token (20+ characters of [A-Za-z0-9_.-]) is a simulated Midjourney user;
#: these are shaped like Discord's (three dotted parts), so that the log redaction does in the
#: benchmark what it does in production
ACCOUNT_TOKEN = "MTAwMDAwMDAwMDAwMDAw{:04d}.GBench.simulated_discord_account_token_x"


@dataclass
class StackOptions:
    src: Path | None = None
    step_delay: float = 1.0
    #: the simulator's progress percentages, "0,15,31"; empty: its default 7 points
    progress_points: str = ""
    accounts: int = 1
    max_jobs: int = 15
    #: extra MJAPI_* settings of the server
    server_env: dict[str, str] = field(default_factory=dict)
    #: run ``bench.server_proc --instrument`` (store/event counters) instead of ``mjapi serve``
    instrument: bool = False
    #: UDP port of the benchmark's notice receiver (the simulator announces job messages)
    notify_port: int | None = None
    #: REST requests per second and route the simulator allows each token
    rest_limit: int = 50


@dataclass
class Stack:
    children: Children
    sim: Child
    sim_port: int
    server: Child
    api_port: int
    token: str
    channels: list[str]
    api: HttpPool


def create_token(workdir: Path, data_dir: Path, src: Path | None) -> str:
    """``mjapi token create`` (before the server starts): the token is its last output line."""
    done = subprocess.run(
        python_module("mjapi", "token", "create", "--data-dir", str(data_dir)),
        env=child_env(src),
        cwd=str(workdir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mjapi token create failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def server_settings(data_dir: Path, port: int, sim_port: int) -> dict[str, str]:
    return {
        "MJAPI_HOST": LOOPBACK,
        "MJAPI_PORT": str(port),
        "MJAPI_DATA_DIR": str(data_dir),
        "MJAPI_DISCORD_URL": f"http://{LOOPBACK}:{sim_port}",
        # the callback receiver and the simulator's images are on loopback
        "MJAPI_ALLOW_PRIVATE_URLS": "true",
        # the benchmark is one API user sending far more than a person would
        "MJAPI_RATE_LIMIT": "0",
        "MJAPI_GATEWAY_READY_TIMEOUT": "60",
        "MJAPI_ACK_TIMEOUT": "60",
    }


def start_simulator(children: Children, options: StackOptions) -> tuple[Child, int]:
    port = free_port()
    args = ["--port", str(port), "--step-delay", str(options.step_delay)]
    args += ["--rest-limit", str(options.rest_limit)]
    if options.progress_points:
        args += ["--progress-points", options.progress_points]
    if options.notify_port is not None:
        args += ["--notify", f"{LOOPBACK}:{options.notify_port}"]
    sim = children.start(
        "simulator", python_module("bench.sim_proc", *args), child_env(options.src)
    )
    return sim, port


def start_server(
    children: Children, options: StackOptions, data_dir: Path, sim_port: int, name: str = "server"
) -> tuple[Child, int]:
    port = free_port()
    env = child_env(
        options.src, {**server_settings(data_dir, port, sim_port), **options.server_env}
    )
    argv = (
        python_module("bench.server_proc", "--instrument")
        if options.instrument
        else python_module("mjapi", "serve")
    )
    return children.start(name, argv, env), port


async def start_stack(children: Children, options: StackOptions) -> Stack:
    """Simulator, server, token and ``options.accounts`` accounts (``maxJobs`` each)."""
    sim, sim_port = start_simulator(children, options)
    data_dir = children.workdir / "data"
    token = create_token(children.workdir, data_dir, options.src)
    await wait_http(sim_port, "/_sim/health", 30, sim)
    server, api_port = start_server(children, options, data_dir, sim_port)
    await wait_http(api_port, "/health", 60, server)
    api = HttpPool(api_port, 256)
    channels = await add_accounts(api, token, options.accounts, options.max_jobs)
    return Stack(children, sim, sim_port, server, api_port, token, channels, api)


async def add_accounts(api: HttpPool, token: str, count: int, max_jobs: int) -> list[str]:
    """``POST /v2/account/midjourney`` for ``count`` simulated users, 8 at a time."""
    gate = asyncio.Semaphore(8)

    async def add(index: int) -> str:
        body = {"discord": ACCOUNT_TOKEN.format(index), "maxJobs": max_jobs}
        async with gate:
            status, answer = await api.call("POST", "/v2/account/midjourney", token, body)
        if status not in (200, 201):
            raise RuntimeError(f"adding account {index} failed: {status} {answer}")
        channel: str = answer["channel"]
        return channel

    started = asyncio.get_running_loop().time()
    channels = await asyncio.gather(*(add(i) for i in range(count)))
    took = asyncio.get_running_loop().time() - started
    print(f"  {count} accounts added in {took:.1f} s", file=sys.stderr, flush=True)
    return list(channels)
