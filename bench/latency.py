"""Issue 6, item 2: real-time latency at 100 and at 3,000 concurrent jobs.

``python -m bench.latency [--levels 100,3000] [--window 60] [--quick] [--src DIR]``

For each level a fresh simulator and server (``bench.server_proc --instrument``, i.e.
``mjapi serve`` plus counters) run on loopback with ceil(N/15) accounts of 15 slots; N jobs are
kept running (``bench.workload``), each with a ``replyUrl`` on the benchmark's receiver. Per job
result emitted by the simulator inside the measurement window:

* (a) final message emitted -> the first ``GET /v2/jobs/?jobid=`` answer reading ``completed``
  (polled every 5 ms for 0.25 s from the emission, then every 50 ms; at levels above 300 a
  10 % sample of the jobs is polled, so that the polling stays a small part of the load);
* (b) final message emitted -> the ``completed`` callback fully received.

Emission = the moment the simulator hands the message to its gateway connection (announced over
UDP by ``bench.sim_proc``); all processes share the machine's clock.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from bench.common import (
    fmt,
    machine_description,
    run,
    source_description,
    table,
    verdict,
)
from bench.workload import DriveResult, add_level_arguments, low, mean, run_levels

VISIBLE_TARGET_MS = 50.0
CALLBACK_TARGET_MS = 100.0


def rows(results: list[DriveResult]) -> list[list[str]]:
    out = []
    for r in results:
        out.append(
            [
                f"{r.config.jobs:,}",
                f"{mean(r.concurrency):,.0f} (p5 {low(r.concurrency):,.0f})",
                f"{r.finals_in_window:,}",
                *r.visible.cells(),
                *r.callback_final.cells(),
            ]
        )
    return out


def targets(results: list[DriveResult]) -> list[list[str]]:
    out = []
    for r in results:
        out.append(
            [
                f"completed visible in GET, p99 at {r.config.jobs:,} jobs",
                f"<= {VISIBLE_TARGET_MS:.0f} ms",
                f"{r.visible.show(r.visible.p99)} ms",
                verdict(r.visible.n > 0 and r.visible.p99 <= VISIBLE_TARGET_MS),
            ]
        )
        out.append(
            [
                f"completed callback received, p99 at {r.config.jobs:,} jobs",
                f"<= {CALLBACK_TARGET_MS:.0f} ms",
                f"{r.callback_final.show(r.callback_final.p99)} ms",
                verdict(r.callback_final.n > 0 and r.callback_final.p99 <= CALLBACK_TARGET_MS),
            ]
        )
    return out


def context(results: list[DriveResult]) -> list[list[str]]:
    out = []
    for r in results:
        out.append(
            [
                f"{r.config.jobs:,}",
                *r.event_lag.cells()[:3],
                *r.callback_progress.cells()[:2],
                " / ".join(r.post_latency.cells()[:2]),
                str(r.refused),
                f"{r.callbacks:,} / {r.callback_connections:,}",
                fmt(r.server_loop_lag_p99, 1),
                fmt(r.cpu.get("server"), 0),
                fmt(r.worker_cpu, 0),
                fmt(r.cpu.get("simulator"), 0),
                fmt(r.cpu.get("bench"), 0),
                fmt(r.others_cpu, 0),
            ]
        )
    return out


def report(results: list[DriveResult], command: str) -> str:
    head = (
        f"Command: `{command}`  \nDate: {date.today().isoformat()}  \n"
        f"Machine: {machine_description()}  \nMeasured: {source_description(ARGS.src)}\n"
    )
    latency = table(
        "Result emitted by the simulator -> seen by the client (ms)",
        [
            "jobs",
            "running (mean)",
            "results",
            "GET p50",
            "GET p99",
            "GET max",
            "GET n",
            "callback p50",
            "callback p99",
            "callback max",
            "callback n",
        ],
        rows(results),
    )
    goal = table("Targets", ["figure", "target", "measured", ""], targets(results))
    more = table(
        "Context (same runs; CPU in % of one core)",
        [
            "jobs",
            "event lag p50 ms",
            "event lag p99 ms",
            "event lag max ms",
            "progress callback p50 ms",
            "progress callback p99 ms",
            "POST answer p50 / p99 ms",
            "POSTs refused",
            "callbacks / TCP connections",
            "server loop lag p99 ms",
            "server CPU",
            "worker CPU",
            "simulator CPU",
            "bench CPU",
            "other processes CPU",
        ],
        context(results),
    )
    return "\n".join([head, latency, goal, more])


async def main() -> None:
    results = await run_levels(ARGS, lambda jobs: 1.0 if jobs <= 300 else ARGS.sample)
    print(report(results, " ".join(["python -m bench.latency", *sys.argv[1:]])))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    add_level_arguments(parser, "100,3000")
    parser.add_argument("--sample", type=float, default=0.1, help="GET-polled share above 300")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100 jobs, 5 updates each, 15 s"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.levels, args.window, args.points = "100", 15.0, 5
    return args


ARGS = parse([])

if __name__ == "__main__":
    ARGS = parse()
    run(main)
