"""The SQLite store's write rate: concurrent ``save_job`` calls, each with its callback.

``python -m bench.store_writes [--levels 1,10,100,1000,3000] [--rounds 20] [--busy-ms 0,1]
[--quick] [--src DIR] [--keep]``

A micro-benchmark of the store alone, in this process (no server, no simulator): for each
level C, C jobs are stored in a fresh SQLite file, then C tasks each save their job ``--rounds``
times (a progress update with its webhook delivery, as the engine does for every gateway
event), all at once. It prints the calls per second and each call's latency (from the call to
its return), the CPU the writes took (both threads; per write, the figure that a machine shared
with other work distorts least) and -- when the store has group commit -- how many transactions
carried them (``SqliteStore.batch_stats``).

``--busy-ms`` models a server's busy event loop: a task that keeps the loop busy for that many
milliseconds at a time, yielding once in between, so that every round trip between the
database thread and the loop waits up to that long, as it does under load (0: an idle loop).
Its own CPU time is left out of the CPU figures.

Unlike the other scripts, this one imports ``mjapi`` itself: ``--src DIR`` puts ``DIR`` first
on the import path (e.g. a commit exported with ``git archive <commit> mjapi | tar -x -C DIR``)
to measure that tree instead of the checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import Summary, fmt, machine_description, run, source_description, table, workdir

# mjapi is imported inside the functions that use it, once ``--src`` has set the import path.
if TYPE_CHECKING:
    from mjapi.domain.jobs import Job
    from mjapi.storage.sqlite import SqliteStore


@dataclass
class Level:
    """What one level (concurrent calls, loop busy time) measured."""

    concurrency: int
    busy_ms: float
    latencies: list[float]
    wall: float
    #: CPU seconds of the process over the level, the loop hog's excluded
    cpu: float
    transactions: int | None


class LoopHog:
    """Keeps the event loop busy ``busy_ms`` at a time, yielding once in between."""

    def __init__(self, busy_ms: float) -> None:
        self.busy_s = busy_ms / 1000.0
        #: CPU seconds spent spinning (taken out of the writes' CPU)
        self.spent = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.busy_s > 0:
            self._task = asyncio.get_running_loop().create_task(self._spin())

    async def _spin(self) -> None:
        while True:
            started = time.process_time()
            until = time.perf_counter() + self.busy_s
            while time.perf_counter() < until:
                pass
            self.spent += time.process_time() - started
            await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def measure_level(folder: Path, concurrency: int, busy_ms: float, rounds: int) -> Level:
    """C tasks saving their own job ``rounds`` times, on a fresh store in ``folder``."""
    from cryptography.fernet import Fernet

    from mjapi.storage.crypto import TokenCipher
    from mjapi.storage.sqlite import SqliteStore

    path = folder / f"level-{concurrency}-{busy_ms:g}.sqlite3"
    store = SqliteStore(path, TokenCipher(Fernet.generate_key()))
    await store.open()
    hog = LoopHog(busy_ms)
    try:
        jobs = [new_job(concurrency, index) for index in range(concurrency)]
        await asyncio.gather(*(store.insert_job(job) for job in jobs))
        before = batch_transactions(store)
        latencies: list[float] = []
        hog.start()
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(save_rounds(store, job, rounds, latencies) for job in jobs))
        wall = time.perf_counter() - start_wall
        cpu = time.process_time() - start_cpu - hog.spent
        after = batch_transactions(store)
    finally:
        await hog.stop()
        await store.close()
    transactions = None if after is None or before is None else after - before
    return Level(concurrency, busy_ms, latencies, wall, cpu, transactions)


def new_job(level: int, index: int) -> Job:
    from mjapi.domain.jobs import Job, JobStatus

    created = datetime.now(UTC)
    return Job(
        jobid=f"job:bench-{level}-{index:05d}",
        owner=1 + index % 7,
        verb="imagine",
        status=JobStatus.STARTED,
        created=created,
        updated=created,
        channel=str(100 + index % 200),
        discord="abc...secured...xyz",
        max_jobs=15,
        prompt=f"a benchmark cat number {index}",
    )


async def save_rounds(store: SqliteStore, job: Job, rounds: int, latencies: list[float]) -> None:
    """Save ``job`` ``rounds`` times with growing progress, each with its callback."""
    from mjapi.domain.deliveries import Delivery
    from mjapi.domain.jobs import JobStatus

    for step in range(1, rounds + 1):
        changed = job.evolve(status=JobStatus.PROGRESS, progress=step, content=f"{step}%")
        delivery = Delivery(
            event_id=f"{job.jobid}-{step}",
            jobid=job.jobid,
            owner=job.owner,
            url="http://127.0.0.1:9/hook",
            event="progress",
            body=f'{{"status":"progress","progress":{step}}}',
            created=changed.updated,
            next_attempt=changed.updated,
            expires=changed.updated + timedelta(days=1),
        )
        started = time.perf_counter()
        if not await store.save_job(changed, delivery):
            raise RuntimeError(f"save {step} of {job.jobid} was refused")
        latencies.append(time.perf_counter() - started)


def batch_transactions(store: SqliteStore) -> int | None:
    """Group-commit transactions so far; None for a store without group commit."""
    stats = getattr(store, "batch_stats", None)
    return None if stats is None else int(stats.transactions)


def report(levels: list[Level]) -> str:
    headers = ["concurrent calls", "loop busy ms", "save_job calls", "wall s", "writes/s"]
    headers += ["mean ms", "p50 ms", "p99 ms", "max ms", "transactions"]
    headers += ["writes per transaction", "CPU %", "CPU µs per write"]
    rows = [row(level) for level in levels]
    return "\n".join([header(), table("Store writes (save_job with its delivery)", headers, rows)])


def row(level: Level) -> list[str]:
    calls = len(level.latencies)
    summary = Summary.of_seconds(level.latencies)
    batch = "n/a" if not level.transactions else fmt(calls / level.transactions, 1)
    return [
        f"{level.concurrency:,}",
        fmt(level.busy_ms, 1),
        f"{calls:,}",
        fmt(level.wall, 2),
        fmt(calls / level.wall),
        fmt(1000.0 * sum(level.latencies) / calls, 2),
        fmt(summary.p50, 2),
        fmt(summary.p99, 2),
        fmt(summary.max, 2),
        "n/a" if level.transactions is None else f"{level.transactions:,}",
        batch,
        fmt(100.0 * level.cpu / level.wall),
        fmt(1e6 * level.cpu / calls),
    ]


def header() -> str:
    command = " ".join(["python -m bench.store_writes", *sys.argv[1:]])
    return (
        f"Command: `{command}`  \nDate: {date.today().isoformat()}  \n"
        f"Machine: {machine_description()}  \nMeasured: {source_description(ARGS.src)}  \n"
        f"Each task: {ARGS.rounds} saves of its own job, one after the other.\n"
    )


def switch_as_served() -> float:
    """The GIL switch interval ``mjapi serve`` runs with (the measured tree's), set here too.

    The database thread takes the GIL back from the event loop after every sqlite3 step; with
    the busy loop of ``--busy-ms`` each take waits up to the switch interval, so the interval
    decides the figures. A tree from before ``gc_tuning.SWITCH_INTERVAL`` ran with CPython's.
    """
    from mjapi import gc_tuning

    interval = float(getattr(gc_tuning, "SWITCH_INTERVAL", sys.getswitchinterval()))
    sys.setswitchinterval(interval)
    return interval


async def main() -> None:
    interval = switch_as_served()
    print(f"  GIL switch interval {interval * 1000:g} ms", file=sys.stderr)
    levels = []
    with workdir("store-writes", keep=ARGS.keep) as folder:
        for busy_ms in ARGS.busy_ms:
            for concurrency in ARGS.levels:
                print(f"  {concurrency} calls, loop busy {busy_ms:g} ms", file=sys.stderr)
                levels.append(await measure_level(folder, concurrency, busy_ms, ARGS.rounds))
    print(report(levels))


def numbers(kind: Callable[[str], float]) -> Callable[[str], list[float]]:
    """An argparse type: comma-separated numbers."""
    return lambda text: [kind(part) for part in text.split(",")]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--levels",
        type=numbers(int),
        default=[1, 10, 100, 1000, 3000],
        help="concurrent calls per level, comma-separated",
    )
    parser.add_argument(
        "--busy-ms",
        type=numbers(float),
        default=[0.0, 1.0],
        help="event-loop busy slices to run every level with, comma-separated",
    )
    parser.add_argument("--rounds", type=int, default=20, help="saves per task")
    parser.add_argument("--src", type=Path, default=None, help="folder with the mjapi to measure")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite files")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 saves per task, 1 / 100 / 1,000 calls"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.levels = 3, [1, 100, 1000]
    return args


ARGS = parse([])

if __name__ == "__main__":
    ARGS = parse()
    if ARGS.src is not None:
        sys.path.insert(0, str(ARGS.src.resolve()))
    run(main)
