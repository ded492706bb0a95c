"""Issue 6, item 4: slot utilisation while a backlog waits in the durable queue.

``python -m bench.utilisation [--accounts 20] [--backlog 5] [--quick] [--src DIR]``

Needs a server with the durable queue (``MJAPI_DURABLE_QUEUE=true``, per request
``"queue": true``): a job that finds no free slot waits with status ``created`` and is started
when a slot frees. Without it the excess POSTs are refused (429) and the script says so.

A fresh simulator and ``mjapi serve`` run on loopback with ``--accounts`` accounts of 15 slots.
``--backlog`` x slots /imagine jobs are POSTed at once (100 requests in flight), all with
``"queue": true``. The simulator announces when it received each job's interaction (the job
takes a Midjourney slot) and when it emitted the job's result (the slot frees). While the queue
is not empty -- from the moment the last POST was answered (and every slot had been taken) to
the moment the last queued job reached the simulator -- every slot should be busy:

    utilisation = sum over jobs of their busy time inside that window / (slots x window)

The table also gives, per account, the gap between a result and the next job reaching the
simulator on that account (how long a freed slot stays idle), and when each account took its
last job (an account whose share of the backlog ran out early idles while others still queue).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import (
    Children,
    Summary,
    fmt,
    machine_description,
    open_notice_receiver,
    run,
    source_description,
    table,
    verdict,
    workdir,
)
from bench.stack import StackOptions, start_stack
from bench.workload import progress_points

TARGET = 0.99


@dataclass
class Job:
    tag: int
    channel: str
    answered: float = math.nan
    status: int = 0
    job_status: str = ""
    interaction: float = math.nan
    result: float = math.nan


@dataclass
class Backlog:
    jobs: dict[int, Job] = field(default_factory=dict)
    results: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def on_notice(self, fields: list[str], arrived: float) -> None:
        job = self.jobs.get(int(fields[1]))
        if job is None:
            return
        if fields[0] == "w":
            job.interaction = float(fields[4])
        elif fields[0] == "f":
            job.result = float(fields[3])
            self.results += 1
            if self.results >= len(self.jobs):
                self.finished.set()


async def submit_all(stack: Any, backlog: Backlog, count: int) -> float:
    """POST ``count`` queued jobs, 100 at a time; when the last one was answered."""
    gate = asyncio.Semaphore(100)

    async def one(tag: int) -> None:
        job = backlog.jobs[tag]
        payload = {"prompt": f"bench bj{tag}x", "queue": True, "replyRef": str(tag)}
        async with gate:
            job.status, body = await stack.api.call(
                "POST", "/v2/jobs/imagine", stack.token, payload
            )
        job.answered = time.time()
        if isinstance(body, dict):
            job.job_status = str(body.get("status", body.get("error", "")))
            job.channel = str(body.get("channel", ""))

    for tag in range(1, count + 1):
        backlog.jobs[tag] = Job(tag, "")
    await asyncio.gather(*(one(tag) for tag in backlog.jobs))
    return max(j.answered for j in backlog.jobs.values())


def utilisation(jobs: list[Job], slots: int, start: float, end: float) -> float:
    busy = 0.0
    for job in jobs:
        if math.isnan(job.interaction):
            continue
        stop = job.result if not math.isnan(job.result) else end
        busy += max(0.0, min(stop, end) - max(job.interaction, start))
    return busy / (slots * (end - start)) if end > start else math.nan


def idle_gaps(jobs: list[Job]) -> list[float]:
    """Per account: each result -> the first later job interaction not yet paired."""
    by_account: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_account[job.channel].append(job)
    gaps: list[float] = []
    for account_jobs in by_account.values():
        starts = sorted(j.interaction for j in account_jobs if not math.isnan(j.interaction))
        ends = sorted(j.result for j in account_jobs if not math.isnan(j.result))
        at = 0
        for end in ends:
            while at < len(starts) and starts[at] < end:
                at += 1
            if at == len(starts):
                break
            gaps.append(starts[at] - end)
            at += 1
    return gaps


def drain_times(jobs: list[Job]) -> list[float]:
    """Per account, when its last job reached the simulator."""
    last: dict[str, float] = {}
    for job in jobs:
        if not math.isnan(job.interaction):
            last[job.channel] = max(last.get(job.channel, job.interaction), job.interaction)
    return list(last.values())


async def measure() -> str:
    backlog = Backlog()
    transport, _receiver, notify_port = await open_notice_receiver(backlog.on_notice)
    slots = ARGS.accounts * 15
    count = ARGS.backlog * slots
    with workdir("utilisation", keep=ARGS.keep) as folder:
        children = Children(folder)
        try:
            options = StackOptions(
                src=ARGS.src,
                step_delay=ARGS.step_delay,
                progress_points=progress_points(ARGS.points),
                accounts=ARGS.accounts,
                notify_port=notify_port,
                server_env={"MJAPI_DURABLE_QUEUE": "true", "MJAPI_QUEUE_LIMIT": str(count * 2)},
            )
            stack = await start_stack(children, options)
            print(f"  {count} jobs for {slots} slots", file=sys.stderr, flush=True)
            queued_at = await submit_all(stack, backlog, count)
            refused = [j for j in backlog.jobs.values() if j.status not in (200, 201)]
            if refused:
                sample = refused[0]
                return blocked(len(refused), count, f"{sample.status} {sample.job_status}")
            job_seconds = ARGS.step_delay * (ARGS.points + 2)
            limit = job_seconds * (ARGS.backlog + 2) * 3 + 60
            try:
                await asyncio.wait_for(backlog.finished.wait(), limit)
            except TimeoutError:
                print("  not every job finished in time", file=sys.stderr)
            stack.api.close()
        finally:
            transport.close()
            children.stop_all()
    return report(list(backlog.jobs.values()), slots, queued_at)


def blocked(refused: int, count: int, example: str) -> str:
    return (
        f"{header()}\n"
        f"Blocked: {refused} of {count} queued POSTs were refused (e.g. {example}): the server "
        'has no durable queue yet (MJAPI_DURABLE_QUEUE / "queue": true).\n'
    )


def header() -> str:
    command = " ".join(["python -m bench.utilisation", *sys.argv[1:]])
    return (
        f"Command: `{command}`  \nDate: {date.today().isoformat()}  \n"
        f"Machine: {machine_description()}  \nMeasured: {source_description(ARGS.src)}  \n"
        f"Each job: {ARGS.points} progress updates {ARGS.step_delay:g} s apart.\n"
    )


def report(jobs: list[Job], slots: int, queued_at: float) -> str:
    reached = sorted(j.interaction for j in jobs if not math.isnan(j.interaction))
    last_start = reached[-1] if reached else math.nan
    # the window opens once every POST was answered (the rest of the backlog is queued) and
    # every slot has been taken once
    filled = reached[slots - 1] if len(reached) >= slots else math.nan
    start = max(queued_at, filled)
    share = utilisation(jobs, slots, start, last_start)
    gaps = Summary.of_seconds(idle_gaps(jobs))
    # when each account took its last queued job: a job waits for its own account's slot, so
    # accounts whose queue ran dry early leave slots idle while others still have a backlog
    drained = drain_times(jobs)
    spread = f"{min(drained) - start:.1f} .. {max(drained) - start:.1f}" if drained else "n/a"
    done = sum(1 for j in jobs if not math.isnan(j.result))
    rows = [
        [
            str(slots),
            f"{len(jobs):,}",
            f"{done:,}",
            fmt(last_start - start, 1),
            f"{share:.2%}" if not math.isnan(share) else "n/a",
            *gaps.cells(),
            spread,
        ]
    ]
    main = table(
        "Slot utilisation with a backlog",
        [
            "slots",
            "jobs queued",
            "jobs finished",
            "backlog window s",
            "busy / available slot-time",
            "idle gap p50 ms",
            "idle gap p99 ms",
            "idle gap max ms",
            "gaps",
            "accounts' last start, s into the window",
        ],
        rows,
    )
    goal = table(
        "Target",
        ["figure", "target", "measured", ""],
        [
            [
                "slot utilisation with a backlog",
                f">= {TARGET:.0%}",
                f"{share:.2%}" if not math.isnan(share) else "n/a",
                verdict(None if math.isnan(share) else share >= TARGET),
            ]
        ],
    )
    return "\n".join([header(), main, goal])


async def main() -> None:
    print(await measure())


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=20, help="accounts of 15 slots")
    parser.add_argument("--backlog", type=int, default=4, help="jobs queued per slot")
    parser.add_argument("--step-delay", type=float, default=1.0, help="seconds between updates")
    parser.add_argument("--points", type=int, default=7, help="progress updates per job")
    parser.add_argument("--src", type=Path, default=None, help="folder with the mjapi to measure")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 accounts, backlog 3")
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts, args.backlog = 2, 3
    return args


ARGS = parse([])

if __name__ == "__main__":
    ARGS = parse()
    run(main)
