"""N concurrent /imagine jobs kept running, and what mjapi made of each simulator message.

Every slot (account x ``maxJobs``) has a worker, with its own connection, that submits a job
pinned to its account, waits for the simulator to emit the job's result, and submits the next:
N jobs are in flight at all times (each runs in the simulator from its "Waiting to start" to its
result; the interaction's acknowledgement before that takes one more step). The prompt of job
number ``t`` is ``bench bj<t>x`` and its ``replyRef`` is ``t``, which ties together:

* the simulator's announcements (``bench.sim_proc``): when each job message was emitted;
* the server's own record (``bench.server_proc --instrument``): when the job change that
  message caused was written to the store -- the event-processing lag is the difference;
* the callbacks mjapi POSTs to the benchmark's receiver: when each arrived;
* ``GET /v2/jobs/?jobid=`` polls of a sample of jobs, started when the result is emitted and
  repeated every ``poll_interval`` (for ``fine_polling`` seconds, then every ``slow_poll``)
  until the job reads ``completed``.

Only messages emitted inside the measurement window count; it starts once the ramp-up is over
and every slot has run at least one whole job. What had not happened when observation ended
(a few seconds after the window) counts as a lower bound (``>=`` in the tables).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    Children,
    CpuWindow,
    HookServer,
    HttpConn,
    Summary,
    children,
    finish_profiler,
    memory_kb,
    open_notice_receiver,
    percentile,
    start_profiler,
    workdir,
)
from bench.stack import Stack, StackOptions, start_stack

#: key of the "Waiting to start" message and of the result among a job's progress percentages
STARTED, RESULT = -1, 100
#: seconds after the window during which late results are still polled and called back
GRACE = 5.0


@dataclass
class DriveConfig:
    jobs: int
    per_account: int = 15
    callbacks: bool = True
    #: share of jobs whose completion is polled with GET (1.0: every job)
    poll_fraction: float = 1.0
    poll_interval: float = 0.005
    #: seconds after the emission polled every ``poll_interval``; later every ``slow_poll``.
    #: A result still unseen by then misses the 50 ms target whatever its exact time, and a
    #: server that fell behind must not be buried under polls the measurement needs no more
    #: (one 3,000-job run made 376,924 GETs at 5 ms).
    fine_polling: float = 0.25
    slow_poll: float = 0.05
    #: seconds over which the workers start (spreads the jobs' phases)
    ramp: float = 10.0
    #: seconds one job lasts in the simulator (ack + progress points + result) x step delay
    job_seconds: float = 9.0
    window: float = 60.0
    #: a folder for py-spy profiles of the server and the simulator over the window
    profile: Path | None = None
    #: seconds the receiver takes before answering each callback
    answer_delay: float = 0.0


@dataclass
class JobRecord:
    tag: int
    channel: str
    submitted: float
    jobid: str | None = None
    sampled: bool = False
    #: simulator emission times by key (STARTED, each percent, RESULT)
    emitted: dict[int, float] = field(default_factory=dict)
    #: when the simulator received the job's interaction (its slot was taken)
    interaction: float = math.nan
    #: when the server had written the job change for each key
    saved: dict[int, float] = field(default_factory=dict)
    #: when the engine read each message's event from the transport (``bench.server_proc``)
    received: dict[int, float] = field(default_factory=dict)
    #: callback arrival times by key
    called: dict[int, float] = field(default_factory=dict)
    #: when a GET first answered ``completed`` (the answer's arrival); when polling gave up
    visible: float = math.nan
    polled_until: float = math.nan
    #: the simulator emitted the result / the ``completed`` callback arrived
    done: asyncio.Event = field(default_factory=asyncio.Event)
    completed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class DriveResult:
    config: DriveConfig
    accounts: int
    window: tuple[float, float]
    concurrency: list[int]
    finals_in_window: int
    visible: Summary
    callback_final: Summary
    callback_progress: Summary
    event_lag: Summary
    post_latency: Summary
    post_statuses: dict[int, int]
    cpu: dict[str, float]
    machine_cpu: float
    others_cpu: float
    server_rss_mb: float
    server_peak_rss_mb: float
    server_stats: dict[str, Any]
    sim_stats: dict[str, Any]
    notices: int
    callbacks: int
    callback_connections: int
    #: the event lag in two: emitted -> the engine read the event from the transport (the
    #: Discord side: socket, parsing, recognising; in a worker, the trip to the server too) ->
    #: the job change stored (the engine's queue, applying it, the store's write)
    to_engine: Summary = field(default_factory=lambda: Summary.of_seconds([]))
    to_store: Summary = field(default_factory=lambda: Summary.of_seconds([]))

    @property
    def worker_cpu(self) -> float:
        """CPU of the server's Discord worker process(es); NaN when it runs none."""
        shares = [value for name, value in self.cpu.items() if name.startswith("worker")]
        return sum(shares) if shares else math.nan

    def rate(self, key: str) -> float:
        """Per-second rate of a cumulative server counter over the window."""
        before, after = self.server_stats.get("before"), self.server_stats.get("after")
        if not before or not after:
            return math.nan
        return float(after[key] - before[key]) / float(after["time"] - before["time"])

    def store_ms(self, method: str) -> float:
        """Mean wall time of one store call over the window, ms (waiting for the store's lock
        and its thread included)."""
        before, after = self.server_stats.get("before"), self.server_stats.get("after")
        if not before or not after:
            return math.nan
        calls = after["store_calls"].get(method, 0) - before["store_calls"].get(method, 0)
        spent = after["store_seconds"].get(method, 0) - before["store_seconds"].get(method, 0)
        return 1000.0 * float(spent) / calls if calls else math.nan

    def batch_delta(self, key: str) -> float:
        """Change over the window of a group-commit counter (SQLite's ``batch_stats``)."""
        before, after = self.server_stats.get("before"), self.server_stats.get("after")
        if not before or not after or key not in after.get("batches", {}):
            return math.nan
        return float(after["batches"][key] - before["batches"][key])

    @property
    def batching(self) -> str:
        """Writes per group-commit batch, and the share of them run together, over the window."""
        writes, batches = self.batch_delta("writes"), self.batch_delta("transactions")
        if not batches > 0:
            return "-"
        merged = self.batch_delta("merged")
        if math.isnan(merged):  # an mjapi from before writes ran together
            return f"{writes / batches:,.0f}"
        return f"{writes / batches:,.0f} ({100 * merged / writes:.0f} %)"

    @property
    def save_job_p99(self) -> float:
        """p99 of one save_job's wall time over the window, ms."""
        after = self.server_stats.get("after") or {}
        return float(after.get("save_job_ms", {}).get("p99", math.nan))

    @property
    def server_loop_lag_p99(self) -> float:
        after = self.server_stats.get("after") or {}
        return float(after.get("loop_lag_ms", {}).get("p99", math.nan))

    @property
    def refused(self) -> int:
        return sum(n for status, n in self.post_statuses.items() if status != 200)


class Driver:
    def __init__(self, stack: Stack, config: DriveConfig) -> None:
        self.stack = stack
        self.config = config
        self.records: dict[int, JobRecord] = {}
        self.post_latency: list[float] = []
        self.post_statuses: Counter[int] = Counter()
        self.stopping = False
        self.polling_until = math.inf
        self._tags = iter(range(1, 10**9))
        self._rng = random.Random(7)
        self._hook = HookServer(self._on_callback, config.answer_delay)
        self._tasks: set[asyncio.Task[None]] = set()
        # counters are read on connections of their own: never queued behind the workload
        self._server_conn = HttpConn(stack.api_port)
        self._sim_conn = HttpConn(stack.sim_port)
        self.notices = 0

    # -- inputs ---------------------------------------------------------------------------------

    def on_notice(self, fields: list[str], arrived: float) -> None:
        self.notices += 1
        kind, tag, percent, emitted = fields[0], int(fields[1]), int(fields[2]), float(fields[3])
        record = self.records.get(tag)
        if record is None:
            return
        if kind == "w":
            record.emitted[STARTED] = emitted
            record.interaction = float(fields[4])
        elif kind == "p":
            record.emitted[percent] = emitted
        elif kind == "f":
            record.emitted[RESULT] = emitted
            record.done.set()
            if record.sampled and record.jobid is not None:
                self._spawn(self._poll_until_completed(record))

    def _on_callback(self, body: bytes, arrived: float) -> None:
        try:
            job = json.loads(body)
            record = self.records.get(int(job.get("replyRef", "")))
        except (ValueError, AttributeError):
            return
        if record is None:
            return
        key = _key(job.get("status"), _percent(job.get("content")))
        if key is not None:
            record.called.setdefault(key, arrived)
        if job.get("status") in ("completed", "failed", "cancelled", "moderated"):
            record.completed.set()

    # -- the workload ---------------------------------------------------------------------------

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, conn: HttpConn, channel: str, hook: str | None) -> JobRecord | None:
        tag = next(self._tags)
        record = JobRecord(tag, channel, time.time())
        record.sampled = self._rng.random() < self.config.poll_fraction
        self.records[tag] = record
        payload: dict[str, Any] = {"prompt": f"bench bj{tag}x", "channel": channel}
        payload["replyRef"] = str(tag)
        if hook:
            payload["replyUrl"] = hook
        try:
            status, body = await conn.call("POST", "/v2/jobs/imagine", self.stack.token, payload)
        except (OSError, asyncio.IncompleteReadError) as exc:
            print(f"  POST failed: {exc!r}", file=sys.stderr)
            status, body = 0, None
        self.post_statuses[status] += 1
        if status != 200 and self.post_statuses[status] == 1:
            print(f"  first POST answered {status}: {str(body)[:160]}", file=sys.stderr)
        if status != 200 or not isinstance(body, dict):
            del self.records[tag]
            return None
        self.post_latency.append(time.time() - record.submitted)
        record.jobid = body["jobid"]
        return record

    async def _worker(self, channel: str, delay: float, hook: str | None) -> None:
        """A well-behaved client of one slot: the next job once mjapi reported the last one
        ended (its callback; without callbacks, a GET every 0.5 s once the simulator emitted
        the result), and exponential back-off (0.25 s doubling to 4 s) after a refusal."""
        await asyncio.sleep(delay)
        conn = HttpConn(self.stack.api_port)
        backoff = 0.25
        try:
            while not self.stopping:
                record = await self._submit(conn, channel, hook)
                if record is None:
                    await asyncio.sleep(backoff)
                    backoff = min(4.0, backoff * 2)
                    continue
                backoff = 0.25
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(record.done.wait(), self.config.job_seconds * 4 + 30)
                    if hook:
                        await asyncio.wait_for(record.completed.wait(), 30)
                    else:
                        await asyncio.wait_for(self._until_ended(conn, record), 30)
        finally:
            conn.close()

    async def _until_ended(self, conn: HttpConn, record: JobRecord) -> None:
        """Without callbacks: poll the job every 0.5 s until mjapi says it has ended."""
        path = f"/v2/jobs/?jobid={record.jobid}"
        while True:
            await asyncio.sleep(0.1)
            try:
                status, job = await conn.call("GET", path, self.stack.token)
            except (OSError, asyncio.IncompleteReadError):
                return
            if status != 200 or not isinstance(job, dict):
                return
            if job.get("status") in ("completed", "failed", "cancelled", "moderated"):
                return
            await asyncio.sleep(0.4)

    async def _poll_until_completed(self, record: JobRecord) -> None:
        path = f"/v2/jobs/?jobid={record.jobid}"
        conn = HttpConn(self.stack.api_port)
        fine_until = time.time() + self.config.fine_polling
        try:
            while time.time() < self.polling_until:
                status, job = await conn.call("GET", path, self.stack.token)
                if status == 200 and isinstance(job, dict) and job.get("status") == "completed":
                    record.visible = time.time()
                    return
                fine = time.time() < fine_until
                await asyncio.sleep(self.config.poll_interval if fine else self.config.slow_poll)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            record.polled_until = time.time()
            conn.close()

    # -- the run --------------------------------------------------------------------------------

    async def run(self) -> DriveResult:
        cfg = self.config
        hook = f"http://127.0.0.1:{await self._hook.start()}/hook" if cfg.callbacks else None
        slots = [c for c in self.stack.channels for _ in range(cfg.per_account)][: cfg.jobs]
        order = list(range(len(slots)))
        self._rng.shuffle(order)
        for rank, index in enumerate(order):
            self._spawn(self._worker(slots[index], cfg.ramp * rank / max(1, len(slots)), hook))
        settle = cfg.ramp + cfg.job_seconds + 2.0
        print(
            f"  {len(slots)} workers; ramp {cfg.ramp:.0f} s, settle until +{settle:.0f} s, "
            f"then measure {cfg.window:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        await asyncio.sleep(settle)
        try:
            return await self._measure()
        finally:
            self.stopping = True
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._hook.close()
            self._server_conn.close()
            self._sim_conn.close()

    async def _measure(self) -> DriveResult:
        stack = self.stack
        pids = {"server": stack.server.pid, "simulator": stack.sim.pid, "bench": os.getpid()}
        # MJAPI_TRANSPORT_PROCESS: the server's Discord worker is part of the server
        workers = children(stack.server.pid)
        pids.update({f"worker{n}": pid for n, pid in enumerate(workers)})
        cpu = CpuWindow(pids)
        server_before = await _stats(self._server_conn, reset=True)
        await _stats(self._sim_conn, reset=True)
        cpu.start()
        started = time.time()
        profilers = self._profile()
        concurrency: list[int] = []
        while time.time() < started + self.config.window:
            await asyncio.sleep(1.0)
            sim = await _stats(self._sim_conn, reset=False)
            concurrency.append(int(sim.get("running", 0)))
            if not stack.server.alive():
                raise RuntimeError(f"the server died:\n{stack.server.log_tail()}")
        ended = time.time()
        cpu.stop()
        for profiler in profilers:
            await asyncio.to_thread(finish_profiler, profiler)
        server_after = await _stats(self._server_conn, reset=False)
        sim_after = await _stats(self._sim_conn, reset=False)
        memory = memory_kb(stack.server.pid)
        for pid in workers:  # the server's RSS is its processes' together
            for key, value in memory_kb(pid).items():
                memory[key] = memory.get(key, 0) + value
        # results emitted at the end of the window are still being polled and called back
        self.polling_until = ended + GRACE
        await asyncio.sleep(GRACE)
        observed = time.time()
        await self._collect_saved()
        result = DriveResult(
            config=self.config,
            accounts=len(stack.channels),
            window=(started, ended),
            concurrency=concurrency,
            finals_in_window=0,
            visible=Summary.of_seconds([]),
            callback_final=Summary.of_seconds([]),
            callback_progress=Summary.of_seconds([]),
            event_lag=Summary.of_seconds([]),
            post_latency=Summary.of_seconds(self.post_latency),
            post_statuses=dict(self.post_statuses),
            cpu=dict(cpu.percent),
            machine_cpu=cpu.machine_percent,
            others_cpu=cpu.others_percent,
            server_rss_mb=memory.get("VmRSS", 0) / 1024,
            server_peak_rss_mb=memory.get("VmHWM", 0) / 1024,
            server_stats={"before": server_before, "after": server_after},
            sim_stats=sim_after,
            notices=self.notices,
            callbacks=self._hook.received,
            callback_connections=self._hook.connections,
        )
        self._latencies(result, observed)
        return result

    def _profile(self) -> list[subprocess.Popen[bytes]]:
        """py-spy on the server and the simulator for the window (``--profile``), if asked."""
        folder = self.config.profile
        if folder is None:
            return []
        jobs, window = self.config.jobs, self.config.window
        return [
            start_profiler(self.stack.server.pid, window, folder / f"server-{jobs}.txt"),
            start_profiler(self.stack.sim.pid, window, folder / f"simulator-{jobs}.txt"),
        ]

    async def _collect_saved(self) -> None:
        """When the server wrote each job change (``bench.server_proc``'s record)."""
        try:
            status, rows = await asyncio.wait_for(
                self._server_conn.call("GET", "/_bench/applied"), 120
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            print(f"  could not read the server's record: {exc!r}", file=sys.stderr)
            return
        if status != 200 or not isinstance(rows, list):
            return
        for ref, status_name, progress, at, *received in rows:
            record = self.records.get(int(ref)) if str(ref).isdigit() else None
            key = _key(status_name, progress)
            if record is not None and key is not None:
                record.saved.setdefault(key, at)
                if received and received[0] is not None:
                    record.received.setdefault(key, received[0])

    def _latencies(self, result: DriveResult, observed: float) -> None:
        """Fill in the latency summaries from the records (``observed``: end of observation)."""
        start, end = result.window
        lags: list[float] = []
        lags_open: list[float] = []
        to_engine: list[float] = []
        to_store: list[float] = []
        progress: list[float] = []
        progress_open: list[float] = []
        finals = 0
        visible: list[float] = []
        visible_open: list[float] = []
        called: list[float] = []
        called_open: list[float] = []
        for record in self.records.values():
            for key, emitted in record.emitted.items():
                if not start <= emitted < end:
                    continue
                _split(record.saved.get(key), emitted, observed, lags, lags_open)
                read, saved = record.received.get(key), record.saved.get(key)
                if read is not None and saved is not None:
                    to_engine.append(read - emitted)
                    to_store.append(saved - read)
                if not self.config.callbacks:
                    continue
                target = called if key == RESULT else progress
                target_open = called_open if key == RESULT else progress_open
                if key != STARTED and not _superseded(record.called, key):
                    _split(record.called.get(key), emitted, observed, target, target_open)
            if not start <= record.emitted.get(RESULT, math.nan) < end:
                continue
            finals += 1
            if record.sampled:
                seen = record.visible if not math.isnan(record.visible) else None
                until = record.polled_until if not math.isnan(record.polled_until) else observed
                _split(seen, record.emitted[RESULT], until, visible, visible_open)
        result.finals_in_window = finals
        result.event_lag = Summary.of_seconds(lags, lags_open)
        result.to_engine = Summary.of_seconds(to_engine)
        result.to_store = Summary.of_seconds(to_store)
        result.callback_progress = Summary.of_seconds(progress, progress_open)
        result.callback_final = Summary.of_seconds(called, called_open)
        result.visible = Summary.of_seconds(visible, visible_open)


def _superseded(called: dict[int, float], key: int) -> bool:
    """A progress report whose callback never came while a later one of its job did: mjapi
    merged it into the newer one (the engine does when a job's events wait), so it has no
    latency of its own."""
    return key != RESULT and key not in called and any(later > key for later in called)


def _split(
    happened: float | None, emitted: float, observed: float, done: list[float], open_: list[float]
) -> None:
    """A latency, or (if it had not happened by ``observed``) its lower bound."""
    if happened is not None:
        done.append(happened - emitted)
    else:
        open_.append(max(0.0, observed - emitted))


async def _stats(conn: HttpConn, reset: bool) -> dict[str, Any]:
    path = "/_bench/stats" + ("?reset=1" if reset else "")
    try:
        status, body = await asyncio.wait_for(conn.call("GET", path), 30)
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        conn.close()
        return {}
    return body if status == 200 and isinstance(body, dict) else {}


def _percent(content: Any) -> int | None:
    text = str(content or "")
    at = text.rfind("%)")
    if at < 0:
        return None
    digits = text[text.rfind("(", 0, at) + 1 : at]
    return int(digits) if digits.isdigit() else None


def _key(status: Any, progress: Any) -> int | None:
    """Which simulator message a job state reflects: STARTED, a percentage, or RESULT."""
    if status == "started":
        return STARTED
    if status == "completed":
        return RESULT
    if status == "progress" and isinstance(progress, int):
        return progress
    return None


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else math.nan


def low(values: list[int]) -> float:
    return percentile([float(v) for v in values], 5)


def progress_points(count: int) -> str:
    """``count`` evenly spaced percentages below 100: the simulator's ``--progress-points``."""
    return ",".join(str(i * 100 // count) for i in range(count))


@dataclass
class Level:
    """One run: a fresh data folder, simulator and server, ``jobs`` jobs at once."""

    jobs: int
    src: Path | None
    step_delay: float
    points: int
    window: float
    callbacks: bool = True
    poll_fraction: float = 1.0
    server_env: dict[str, str] = field(default_factory=dict)
    keep: bool = False
    profile: Path | None = None
    #: seconds the benchmark's receiver takes before answering each callback
    answer_delay: float = 0.0

    @property
    def job_seconds(self) -> float:
        # the interaction's ack, each progress update, the result: one step delay each
        return self.step_delay * (self.points + 2)


async def run_level(level: Level) -> DriveResult:
    """Start everything, drive the jobs, measure, stop everything (also on failure)."""
    holder: list[Driver] = []

    def on_notice(fields: list[str], arrived: float) -> None:
        if holder:
            holder[0].on_notice(fields, arrived)

    began = time.monotonic()
    transport, _receiver, notify_port = await open_notice_receiver(on_notice)
    with workdir(f"{level.jobs}", keep=level.keep) as folder:
        children = Children(folder)
        try:
            options = StackOptions(
                src=level.src,
                step_delay=level.step_delay,
                progress_points=progress_points(level.points),
                accounts=math.ceil(level.jobs / 15),
                max_jobs=15,
                server_env=level.server_env,
                instrument=True,
                notify_port=notify_port,
            )
            stack = await start_stack(children, options)
            config = DriveConfig(
                jobs=level.jobs,
                callbacks=level.callbacks,
                poll_fraction=level.poll_fraction,
                # at least one job long, so that the jobs' phases spread over a whole job
                ramp=max(level.job_seconds, level.jobs / 150),
                job_seconds=level.job_seconds,
                window=level.window,
                profile=level.profile,
                answer_delay=level.answer_delay,
            )
            driver = Driver(stack, config)
            holder.append(driver)
            try:
                return await driver.run()
            finally:
                stack.api.close()
        finally:
            transport.close()
            children.stop_all()
            took = time.monotonic() - began
            print(f"  level {level.jobs} took {took:.0f} s", file=sys.stderr, flush=True)


def add_level_arguments(parser: argparse.ArgumentParser, levels: str) -> None:
    """The options every level-driven script (``bench.latency``, ``bench.scale``) shares."""
    parser.add_argument("--levels", default=levels, help="concurrent jobs, comma-separated")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured per level")
    parser.add_argument("--step-delay", type=float, default=1.0, help="seconds between updates")
    parser.add_argument("--points", type=int, default=20, help="progress updates per job")
    parser.add_argument("--src", type=Path, default=None, help="folder with the mjapi to measure")
    parser.add_argument("--keep", action="store_true", help="keep the data folders and logs")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the server and simulator into DIR"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra MJAPI_* setting of the server (repeatable)",
    )
    parser.add_argument(
        "--receiver-delay",
        type=milliseconds,
        default=0.0,
        metavar="MS",
        help="milliseconds the callback receiver takes before answering each callback",
    )


def milliseconds(text: str) -> float:
    """A ``--receiver-delay`` value: a number of milliseconds, 0 or more."""
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not 0 or more milliseconds")
    return value


def extra_server_env(pairs: list[str]) -> dict[str, str]:
    """``--server-env`` values as a mapping; a value without ``=`` or a name outside MJAPI_
    stops the run before anything starts."""
    settings = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.startswith("MJAPI_") or name == "MJAPI_":
            raise SystemExit(f"--server-env wants MJAPI_NAME=VALUE, not {pair!r}")
        settings[name] = value
    return settings


async def run_levels(
    args: argparse.Namespace, poll_fraction: Callable[[int], float], *, callbacks: bool = True
) -> list[DriveResult]:
    """One ``run_level`` per entry of ``--levels``, in order, with the shared options."""
    results = []
    for jobs in [int(x) for x in args.levels.split(",")]:
        print(f"level {jobs} jobs", file=sys.stderr, flush=True)
        level = Level(
            jobs=jobs,
            src=args.src,
            step_delay=args.step_delay,
            points=args.points,
            window=args.window,
            callbacks=callbacks,
            poll_fraction=poll_fraction(jobs),
            keep=args.keep,
            profile=args.profile,
            server_env=extra_server_env(args.server_env),
            answer_delay=args.receiver_delay / 1000,
        )
        results.append(await run_level(level))
    return results
