"""Shared helpers of the benchmark scripts: processes, /proc sampling, a lean HTTP client, tables.

Nothing here imports ``mjapi``: the orchestrating scripts drive the server and the simulator as
separate processes over loopback only, so a benchmark measures whatever ``mjapi`` those processes
import (the checkout, or the tree named by ``--src``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"
#: the repository root: ``python -m bench.<module>`` works from any directory with it on the path
REPO_ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

T = TypeVar("T")


# -- numbers and tables -------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """p50 / p99 / max of durations in milliseconds, some of which may be censored.

    A censored value is a lower bound: the thing had not happened yet when observation ended
    (its duration is at least that long). Percentiles are taken over observed and censored
    values together, so a percentile that falls on a censored value is itself a lower bound,
    shown as ``>= x``.
    """

    n: int
    censored: int
    p50: float
    p99: float
    max: float
    #: the smallest censored value (inf: none)
    least_censored: float = math.inf

    @classmethod
    def of_seconds(cls, values: Sequence[float], censored: Sequence[float] = ()) -> Summary:
        ms = [v * 1000.0 for v in values]
        lower = [v * 1000.0 for v in censored]
        both = ms + lower
        return cls(
            n=len(both),
            censored=len(lower),
            p50=percentile(both, 50),
            p99=percentile(both, 99),
            max=max(both) if both else math.nan,
            least_censored=min(lower) if lower else math.inf,
        )

    def show(self, value: float) -> str:
        prefix = ">= " if value >= self.least_censored else ""
        return prefix + fmt(value, 1)

    def cells(self) -> list[str]:
        """p50, p99, max, n (with how many never happened, if any)."""
        count = f"{self.n:,}" + (f" ({self.censored:,} not seen)" if self.censored else "")
        return [self.show(self.p50), self.show(self.p99), self.show(self.max), count]


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table (pasteable into bench/README.md) under a title line."""
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines) + "\n"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def parse_iso_ms(text: str) -> float:
    """Epoch seconds of useapi's ``2026-11-24T10:00:00.123Z`` (mjapi's ``updated``)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


# -- the machine --------------------------------------------------------------------------------


def machine_description() -> str:
    """Cores, CPU model, kernel, Python: the line every result in the README carries."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {total_kb / 2**20:.1f} GiB RAM"
    return (
        f"{os.cpu_count()} cores ({model}){mem}, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def source_description(src: Path | None) -> str:
    """Which mjapi was measured: the checkout's commit (and whether it had local changes)."""
    if src is not None:
        return f"mjapi from {src}"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "mjapi"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "mjapi from the checkout"
    return f"mjapi at {commit}" + (" with uncommitted changes" if dirty else "")


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(src: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: this one's, minus any MJAPI_* setting, plus ``extra``.

    ``src`` (a folder holding an ``mjapi`` package) goes first on PYTHONPATH, before the
    repository root that provides ``bench``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJAPI_")}
    paths = [str(src)] if src is not None else []
    paths.append(str(REPO_ROOT))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Child:
    """A child process in its own process group; ``stop`` ends the whole group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        # anything the child left behind in its group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Children:
    """Every process a benchmark started; ``stop_all`` (in a ``finally``) ends them in reverse."""

    workdir: Path
    started: list[Child] = field(default_factory=list)

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
    ) -> Child:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=str(cwd or self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name, popen, log_path)
        self.started.append(child)
        return child

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop()


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the benchmark dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@contextlib.contextmanager
def workdir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh temporary folder (data dir, logs), removed afterwards unless ``keep``."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=f"mjapi-bench-{prefix}-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """``py-spy record`` of ``pid`` (only the thread holding the GIL: where CPU goes) for
    ``seconds``, as collapsed stacks in ``out`` (``python -m bench.profile_summary out``).
    ``--nonblocking``: py-spy reads the process without stopping it for each sample, which at
    a few hundred samples per second would otherwise slow the measured server noticeably.
    py-spy is a profiling aid, not a dependency: ``pip install py-spy`` into the venv."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [spy, "record", "--gil", "--nonblocking", "-r", "250", "-f", "raw", "-o", str(out)]
    argv += ["-d", str(max(1, round(seconds))), "-p", str(pid)]
    print(f"  profiling pid {pid} into {out}", file=sys.stderr, flush=True)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_profiler(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- /proc ----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (the server's Discord worker, when it runs one)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def machine_busy() -> tuple[float, float]:
    """(process time, total) jiffies of the whole machine since boot (``/proc/stat``).

    Process time is user + nice + system: what processes' own counters add up to. Interrupt
    and softirq time (loopback networking, mostly) and steal are left out of it.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return float(sum(values[:3])), float(sum(values[:8]))


@dataclass
class CpuWindow:
    """CPU use of named processes (and of the machine) between ``start`` and ``stop``."""

    pids: Mapping[str, int]
    _cpu0: dict[str, float] = field(default_factory=dict)
    _t0: float = 0.0
    _machine0: tuple[float, float] = (0.0, 0.0)
    #: process name -> CPU percent of one core over the window
    percent: dict[str, float] = field(default_factory=dict)
    #: the machine's process time over the window, 0-100 (100: every core busy)
    machine_percent: float = math.nan

    @property
    def others_percent(self) -> float:
        """CPU (percent of one core) used by processes not in ``pids``: other load on the box."""
        ours = sum(v for v in self.percent.values() if not math.isnan(v))
        return max(0.0, self.machine_percent * (os.cpu_count() or 1) - ours)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._machine0 = machine_busy()
        self._cpu0 = {name: _cpu_or_nan(pid) for name, pid in self.pids.items()}

    def stop(self) -> None:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        busy, total = machine_busy()
        spent = total - self._machine0[1]
        self.machine_percent = 100.0 * (busy - self._machine0[0]) / spent if spent else math.nan
        for name, pid in self.pids.items():
            self.percent[name] = 100.0 * (_cpu_or_nan(pid) - self._cpu0[name]) / elapsed


def _cpu_or_nan(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, ValueError, IndexError):
        return math.nan


# -- a lean HTTP/1.1 client -----------------------------------------------------------------------


def http_request(
    method: str,
    path: str,
    port: int,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """One HTTP/1.1 keep-alive request, encoded once so that a load loop only writes bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}:{port}"]
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    if body is not None or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def json_request(
    method: str, path: str, port: int, token: str | None = None, payload: Any = None
) -> bytes:
    headers: dict[str, str] = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = None
    if payload is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(payload).encode()
    return http_request(method, path, port, headers, body)


class HttpConn:
    """One keep-alive connection; ``send`` writes a prepared request and reads the answer."""

    def __init__(self, port: int, host: str = LOOPBACK) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body); reconnects once if a kept-alive connection turned out closed."""
        for attempt in (1, 2):
            fresh = self._writer is None
            try:
                return await self._exchange(raw)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            body = await _read_chunked(self._reader)
        else:
            body = await self._reader.readexactly(_content_length(lower))
        if b"connection: close" in lower:
            self.close()
        return status, body

    async def call(
        self, method: str, path: str, token: str | None = None, payload: Any = None
    ) -> tuple[int, Any]:
        """A JSON request; (status, parsed body or None)."""
        status, body = await self.send(json_request(method, path, self.port, token, payload))
        return status, _parsed(body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode(errors="replace")


def _content_length(lower_head: bytes) -> int:
    at = lower_head.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower_head.index(b"\r\n", at + 2)
    return int(lower_head[at + 17 : end])


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class HttpPool:
    """A fixed set of keep-alive connections shared by many tasks."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self._idle: asyncio.Queue[HttpConn] = asyncio.Queue()
        self._all = [HttpConn(port) for _ in range(size)]
        for conn in self._all:
            self._idle.put_nowait(conn)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        conn = await self._idle.get()
        try:
            return await conn.send(raw)
        finally:
            self._idle.put_nowait(conn)

    async def call(
        self, method: str, path: str, token: str | None = None, payload: Any = None
    ) -> tuple[int, Any]:
        """A JSON request; (status, parsed body or None)."""
        status, body = await self.send(json_request(method, path, self.port, token, payload))
        return status, _parsed(body)

    def close(self) -> None:
        for conn in self._all:
            conn.close()


async def wait_http(port: int, path: str, within: float, child: Child | None = None) -> None:
    """Until ``GET path`` answers 200 (the child dying or the timeout raise)."""
    deadline = time.monotonic() + within
    conn = HttpConn(port)
    try:
        while True:
            if child is not None and not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.log_tail()}")
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
                status, _ = await conn.send(http_request("GET", path, port))
                if status == 200:
                    return
            if time.monotonic() > deadline:
                tail = child.log_tail() if child else ""
                raise TimeoutError(f"nothing answered on port {port}{path}\n{tail}")
            await asyncio.sleep(0.05)
    finally:
        conn.close()


# -- receivers ------------------------------------------------------------------------------------


class HookServer:
    """A minimal HTTP/1.1 receiver for callbacks: records each body with its arrival time.

    ``answer_delay``: seconds it takes before answering each callback (a receiver that does some
    work per callback); the arrival time is when the callback was read, before that delay.
    """

    def __init__(
        self, on_request: Callable[[bytes, float], None], answer_delay: float = 0.0
    ) -> None:
        self._on_request = on_request
        self._answer_delay = answer_delay
        self._server: asyncio.Server | None = None
        self.port = 0
        self.received = 0
        #: TCP connections accepted (callbacks / connections: how well the sender reuses them)
        self.connections = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                if b"transfer-encoding: chunked" in lower:
                    body = await _read_chunked(reader)
                else:
                    body = await reader.readexactly(_content_length(lower))
                arrived = time.time()
                self.received += 1
                self._on_request(body, arrived)
                if self._answer_delay:
                    await asyncio.sleep(self._answer_delay)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


class NoticeReceiver(asyncio.DatagramProtocol):
    """UDP datagrams from the bench simulator: one line per emitted job message."""

    def __init__(self, on_notice: Callable[[list[str], float], None]) -> None:
        self._on_notice = on_notice
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        arrived = time.time()
        for line in data.decode().splitlines():
            self.received += 1
            self._on_notice(line.split(), arrived)


async def open_notice_receiver(
    on_notice: Callable[[list[str], float], None],
) -> tuple[asyncio.DatagramTransport, NoticeReceiver, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 2**20)
    sock.bind((LOOPBACK, 0))
    port: int = sock.getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: NoticeReceiver(on_notice), sock=sock
    )
    return transport, protocol, port


# -- running ------------------------------------------------------------------------------------


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on uvloop when it is installed (it is, with uvicorn[standard])."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(_call(main))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("interrupted: every process it started was stopped", file=sys.stderr)
        raise SystemExit(130) from None


async def _call(main: Callable[[], Awaitable[T]]) -> T:
    # SIGTERM (e.g. from ``timeout``) cancels the benchmark like Ctrl-C does, so that its
    # ``finally`` blocks stop the processes it started
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await main()


class LoopLag:
    """How late a periodic timer fires: the event loop's scheduling lag, as a sample list."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - due))

    def take(self, reset: bool = True) -> dict[str, float]:
        """p50 / p99 / max in ms of the samples since the last reset (``reset``: drop them)."""
        samples = self.samples
        if reset:
            self.samples = []
        summary = Summary.of_seconds(samples)
        return {"n": summary.n, "p50": summary.p50, "p99": summary.p99, "max": summary.max}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
