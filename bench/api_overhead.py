"""Issue 6, item 1: API overhead against a bare FastAPI hello-world served the same way.

``python -m bench.api_overhead [--duration 10] [--connections 32] [--quick] [--src DIR]``

Both servers run as their own process with the uvicorn arguments of ``mjapi serve``; the load
generator (``bench.loadgen``) is a third process, the same for both, on uvloop with hand-made
HTTP/1.1 keep-alive requests (httpx would be the bottleneck). The machine's two cores are shared
by the server and the load generator in both cases, so the ratio is fair.

1. Hello-world: ``GET /hello`` and ``POST /hello`` (the same JSON body as the /imagine requests)
   at full speed (closed loop, ``--connections`` connections): requests/s and p99.
2. mjapi (``python -m mjapi serve``, SQLite in a temporary folder, the simulator as Discord):
   ``--jobs`` finished jobs are made first; then ``GET /v2/jobs/?jobid=`` with random ids of
   those jobs, and ``POST /v2/jobs/imagine``, at full speed, then at a fixed rate of 0.6 x the
   hello-world's (open loop: latencies count from the scheduled send time) for the p99 target,
   then at half mjapi's own full-speed rate (its latency when it is not saturated).
   mjapi runs twice: with its default ``MJAPI_LOG_LEVEL=INFO`` (one access-log line per
   request) and with ``WARNING``.

The POST is "accepted into the queue" when the server has the durable queue
(``"queue": true``; every slot is held by a job the simulator stalls, so each POST only queues
its job and answers ``created``). Without it, each POST waits for the simulator to acknowledge
the job (step delay 0, one progress update, so slots free at once): the whole submission path,
reported as such.

Before each run the script waits until the server is idle, so that the backlog of a run the
server could not keep up with does not spill into the next. The CPU columns are for the
full-speed run: the server's, and that of processes outside the benchmark (other load on the
machine, which skews every figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import (
    Child,
    Children,
    CpuWindow,
    HttpPool,
    child_env,
    cpu_seconds,
    finish_profiler,
    fmt,
    free_port,
    http_request,
    json_request,
    machine_description,
    python_module,
    run,
    source_description,
    start_profiler,
    table,
    verdict,
    wait_http,
    workdir,
)
from bench.stack import (
    StackOptions,
    add_accounts,
    create_token,
    start_server,
    start_simulator,
)

GET_RATIO_TARGET = 0.6
P99_TARGET_MS = 10.0
#: the body every POST carries (the hello-world parses it too)
PROMPT = "a lighthouse at dawn, oil painting, dramatic sky --ar 3:2 bench-{}"


@dataclass
class Measure:
    name: str
    closed: dict[str, Any]
    opened: dict[str, Any] | None = None
    #: open loop at half the server's own full-speed rate: its latency when not saturated
    half: dict[str, Any] | None = None

    @property
    def rps(self) -> float:
        return float(self.closed["rps"])


# -- load generation (a separate process) ---------------------------------------------------------


async def load(
    folder: Path,
    spec: dict[str, Any],
    server_pid: int,
    profiler: subprocess.Popen[bytes] | None = None,
) -> dict[str, Any]:
    """Run the load generator once; its result plus the CPU the server and others used."""
    if profiler is None:
        await settle(server_pid)
    path = folder / "loadgen.json"
    path.write_text(json.dumps(spec))
    process = await asyncio.create_subprocess_exec(
        *python_module("bench.loadgen", str(path)),
        env=child_env(None),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    cpu = CpuWindow({"server": server_pid})
    cpu.start()
    started = time.monotonic()
    try:
        out, err = await asyncio.wait_for(process.communicate(), spec["duration"] * 3 + 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    cpu.stop()
    if profiler is not None:
        await asyncio.to_thread(finish_profiler, profiler)
    if process.returncode != 0:
        raise RuntimeError(f"loadgen failed: {err.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    # the load generator has exited (its /proc entry is gone): it reports its own CPU time
    cpu.percent["loadgen"] = 100 * result["cpu_seconds"] / (time.monotonic() - started)
    result["server_cpu"] = cpu.percent.get("server")
    result["others_cpu"] = cpu.others_percent
    return result


async def settle(pid: int, within: float = 60.0) -> None:
    """Until the server is idle (under 5 % of a core over 0.5 s): the previous run's backlog
    (an open loop it could not keep up with) must not eat into the next run."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return


def spec(port: int, requests: list[bytes], mode: str, ok: list[int]) -> dict[str, Any]:
    return {
        "port": port,
        "requests": [r.decode("latin-1") for r in requests],
        "mode": mode,
        "ok": ok,
        "connections": ARGS.connections,
        "duration": ARGS.duration,
        "warmup": ARGS.warmup,
    }


async def closed_then_open(
    folder: Path,
    name: str,
    server: Child,
    port: int,
    requests: list[bytes],
    ok: list[int],
    rate: float,
) -> Measure:
    print(f"  {name}: full speed", file=sys.stderr, flush=True)
    profiler = None
    if ARGS.profile is not None and rate > 0:
        await settle(server.pid)
        out = ARGS.profile / (name.replace(" ", "-").replace("(", "").replace(")", "") + ".txt")
        profiler = start_profiler(server.pid, ARGS.warmup + ARGS.duration, out)
    closed = await load(folder, spec(port, requests, "closed", ok), server.pid, profiler)
    if rate <= 0:
        return Measure(name, closed)
    measure = Measure(name, closed)
    print(f"  {name}: {rate:,.0f} requests/s", file=sys.stderr, flush=True)
    open_spec = {**spec(port, requests, "open", ok), "connections": 256}
    measure.opened = await load(folder, {**open_spec, "rate": rate}, server.pid)
    half = measure.rps / 2
    if half > 0:
        print(f"  {name}: {half:,.0f} requests/s (half its own)", file=sys.stderr, flush=True)
        measure.half = await load(folder, {**open_spec, "rate": half}, server.pid)
    return measure


# -- the hello-world ----------------------------------------------------------------------------


def imagine_bodies(queue: bool) -> list[dict[str, Any]]:
    bodies = []
    for i in range(1000):
        body: dict[str, Any] = {"prompt": PROMPT.format(i)}
        if queue:
            body["queue"] = True
        bodies.append(body)
    return bodies


async def hello(folder: Path) -> tuple[Measure, Measure]:
    children = Children(folder)
    try:
        port = free_port()
        server = children.start(
            "hello", python_module("bench.hello_proc", "--port", str(port)), child_env(None)
        )
        await wait_http(port, "/hello", 30, server)
        gets = [http_request("GET", "/hello", port)]
        posts = [json_request("POST", "/hello", port, "x", b) for b in imagine_bodies(True)]
        get = await closed_then_open(folder, "hello GET", server, port, gets, [200], 0)
        post = await closed_then_open(folder, "hello POST", server, port, posts, [200], 0)
        return get, post
    finally:
        children.stop_all()


# -- mjapi ----------------------------------------------------------------------------------------


async def make_jobs(api: HttpPool, token: str, count: int) -> list[str]:
    """``count`` finished /imagine jobs (the simulator runs at step delay 0)."""
    gate = asyncio.Semaphore(64)
    jobids: list[str] = []

    async def one(i: int) -> None:
        async with gate:
            while True:
                status, job = await api.call("POST", "/v2/jobs/imagine", token, {"prompt": f"j{i}"})
                if status == 200:
                    jobids.append(job["jobid"])
                    return
                if status != 429:
                    raise RuntimeError(f"making jobs: {status} {job}")
                await asyncio.sleep(0.05)

    await asyncio.gather(*(one(i) for i in range(count)))
    while True:  # until every job has finished (GET /v2/jobs lists the running ones)
        status, running = await api.call("GET", "/v2/jobs", token)
        if status == 200 and not running:
            return jobids
        await asyncio.sleep(0.2)


async def queue_mode(api: HttpPool, token: str, sim_port: int, slots: int) -> bool:
    """Hold every slot with a stalled job; True if a ``"queue": true`` POST is then queued.

    Without a durable queue the stalled jobs are cancelled again (their slots free).
    """
    await sim_call(sim_port, "POST", "/_sim/faults", {"fault": "stall", "times": None})
    held = []
    for i in range(slots):
        status, job = await api.call("POST", "/v2/jobs/imagine", token, {"prompt": f"hold {i}"})
        if status != 200:
            raise RuntimeError(f"holding the slots: {status} {job}")
        held.append(job["jobid"])
    status, job = await api.call(
        "POST", "/v2/jobs/imagine", token, {"prompt": "probe", "queue": True}
    )
    queued = status in (200, 201) and isinstance(job, dict) and job.get("status") == "created"
    print(f"  durable queue probe: {status} {str(job)[:160]}", file=sys.stderr, flush=True)
    if not queued:
        await sim_call(sim_port, "DELETE", "/_sim/faults", None)
        for jobid in held:
            await api.call("GET", f"/v2/jobs/cancel/?jobid={jobid}", token)
    return queued


async def sim_call(sim_port: int, method: str, path: str, payload: Any) -> None:
    sim = HttpPool(sim_port, 1)
    try:
        status, body = await sim.call(method, path, None, payload)
    finally:
        sim.close()
    if status >= 300:
        raise RuntimeError(f"simulator {method} {path}: {status} {body}")


async def mjapi_round(
    folder: Path, log_level: str, hello_get: Measure, hello_post: Measure
) -> tuple[Measure, Measure, bool]:
    """One server (fresh folder): jobs made, GET measured, then POST measured."""
    children = Children(folder)
    try:
        options = StackOptions(src=ARGS.src, step_delay=0.0, progress_points="50", accounts=20)
        options.server_env = {"MJAPI_LOG_LEVEL": log_level, "MJAPI_QUEUE_LIMIT": "100000000"}
        sim, sim_port = start_simulator(children, options)
        data_dir = folder / "data"
        token = create_token(folder, data_dir, ARGS.src)
        await wait_http(sim_port, "/_sim/health", 30, sim)
        server, port = start_server(children, options, data_dir, sim_port)
        await wait_http(port, "/health", 60, server)
        api = HttpPool(port, 64)
        await add_accounts(api, token, options.accounts, 15)
        jobids = await make_jobs(api, token, ARGS.jobs)
        gets = [json_request("GET", f"/v2/jobs/?jobid={j}", port, token) for j in jobids]
        rate = GET_RATIO_TARGET * hello_get.rps
        name = f"mjapi GET ({log_level})"
        get = await closed_then_open(folder, name, server, port, gets, [200], rate)
        queued = await queue_mode(api, token, sim_port, options.accounts * 15)
        ok = [200, 201]
        posts = [
            json_request("POST", "/v2/jobs/imagine", port, token, b) for b in imagine_bodies(queued)
        ]
        rate = GET_RATIO_TARGET * hello_post.rps
        name = f"mjapi POST ({log_level})"
        post = await closed_then_open(folder, name, server, port, posts, ok, rate)
        api.close()
        return get, post, queued
    finally:
        children.stop_all()


# -- report ---------------------------------------------------------------------------------------


def row(m: Measure, base: Measure | None) -> list[str]:
    c, o, h = m.closed, m.opened, m.half
    ratio = f"{m.rps / base.rps:.2f}" if base is not None else "1.00"
    open_cells = ["", "", "", "", "", ""]
    if o is not None:
        open_cells[:4] = [
            f"{o['rate']:,.0f}",
            fmt(o["p50_ms"], 1),
            fmt(o["p99_ms"], 1),
            f"{o['ok'] / max(1, o['ok'] + o['errors'] + _bad(o)):.1%}",
        ]
    if h is not None:
        open_cells[4:] = [f"{h['rate']:,.0f}", fmt(h["p99_ms"], 1)]
    bad = _bad(c) + c["errors"]
    return [
        m.name,
        f"{m.rps:,.0f}",
        fmt(c["p50_ms"], 1),
        fmt(c["p99_ms"], 1),
        str(bad),
        ratio,
        fmt(c.get("server_cpu"), 0),
        fmt(c.get("others_cpu"), 0),
        *open_cells,
    ]


def _bad(result: dict[str, Any]) -> int:
    return sum(n for s, n in result["statuses"].items() if int(s) not in (200, 201))


def report(hello_get: Measure, hello_post: Measure, rounds: list[Any], queued: bool) -> str:
    rows = [row(hello_get, None), row(hello_post, None)]
    for get, post in rounds:
        rows += [row(get, hello_get), row(post, hello_post)]
    post_kind = "accepted into the durable queue" if queued else "acknowledged by the simulator"
    command = " ".join(["python -m bench.api_overhead", *sys.argv[1:]])
    head = (
        f"Command: `{command}`  \nDate: {date.today().isoformat()}  \n"
        f"Machine: {machine_description()}  \nMeasured: {source_description(ARGS.src)}  \n"
        f"Closed loop: {ARGS.connections} connections, {ARGS.warmup:.0f} s warm-up, "
        f"{ARGS.duration:.0f} s; open loop: {ARGS.duration:.0f} s at the rate shown "
        f"(0.6 x the hello-world's), then at half the server's own maximum, 256 connections. "
        f"POST /v2/jobs/imagine: {post_kind}.\n"
    )
    main = table(
        "API overhead",
        [
            "server / request",
            "max req/s",
            "p50 ms",
            "p99 ms",
            "non-2xx",
            "ratio to hello",
            "server CPU %",
            "other processes CPU %",
            "fixed rate req/s",
            "p50 ms at rate",
            "p99 ms at rate",
            "2xx at rate",
            "half its max req/s",
            "p99 ms at half",
        ],
        rows,
    )
    get, post = rounds[0]
    return "\n".join([head, main, targets(get, post, hello_get, hello_post, queued)])


def targets(get: Measure, post: Measure, hello_get: Measure, hello_post: Measure, q: bool) -> str:
    def p99(m: Measure) -> float:
        return float(m.opened["p99_ms"]) if m.opened and m.opened["p99_ms"] else math.nan

    get_ratio = get.rps / hello_get.rps
    post_ratio = post.rps / hello_post.rps
    rows = [
        [
            "GET job rate / hello-world rate",
            f">= {GET_RATIO_TARGET}",
            f"{get_ratio:.2f}",
            verdict(get_ratio >= GET_RATIO_TARGET),
        ],
        [
            "GET job p99 at 0.6 x hello-world rate",
            f"<= {P99_TARGET_MS:.0f} ms",
            f"{fmt(p99(get), 1)} ms",
            verdict(p99(get) <= P99_TARGET_MS),
        ],
        ["POST imagine rate / hello-world POST rate", "(quoted)", f"{post_ratio:.2f}", ""],
        [
            "POST imagine p99 at 0.6 x hello-world POST rate",
            "(quoted)",
            f"{fmt(p99(post), 1)} ms",
            "",
        ],
    ]
    if not q:
        rows.append(["POST accepted into the durable queue", "", "not available", "blocked"])
    return table(
        f"Targets (mjapi at its default log level, {get.name})",
        ["figure", "target", "measured", ""],
        rows,
    )


async def main() -> None:
    with workdir("api") as folder:
        print("hello-world", file=sys.stderr, flush=True)
        hello_get, hello_post = await hello(folder)
        rounds = []
        queued = False
        for level in ARGS.log_levels.split(","):
            print(f"mjapi, MJAPI_LOG_LEVEL={level}", file=sys.stderr, flush=True)
            with workdir(f"api-{level}", keep=ARGS.keep) as sub:
                get, post, queued = await mjapi_round(sub, level, hello_get, hello_post)
            rounds.append((get, post))
    print(report(hello_get, hello_post, rounds, queued))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="closed loop: seconds first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=1000, help="finished jobs the GETs read")
    parser.add_argument("--log-levels", default="INFO,WARNING", help="mjapi runs, comma-separated")
    parser.add_argument("--src", type=Path, default=None, help="folder with the mjapi to measure")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy mjapi's full-speed runs into DIR"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s per measurement")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.jobs, args.log_levels = 3.0, 1.0, 200, "INFO"
    return args


ARGS = parse([])

if __name__ == "__main__":
    ARGS = parse()
    run(main)
