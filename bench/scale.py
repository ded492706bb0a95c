"""Issue 6, item 3: scale, from 300 to 3,000 concurrent jobs with progress every ~1 s each.

``python -m bench.scale [--levels 300,1000,3000] [--window 60] [--quick] [--src DIR]``

For each level a fresh simulator and server run on loopback with ceil(N/15) accounts of 15
slots (3,000 jobs: 200 accounts); N jobs are kept running (``bench.workload``), each showing
``--points`` progress updates one step delay (1 s) apart, each with a ``replyUrl`` (callbacks
on, like a useapi client; ``--no-callbacks`` measures without them). The server is
``bench.server_proc --instrument`` (``mjapi serve`` plus counters). Over the measurement window:

* CPU: the server process's user + system time over wall time (100 % = one core busy);
* peak RSS: the server's VmHWM (``/proc/<pid>/status``) at the end of the run;
* event lag: simulator emitted a job message -> mjapi's engine applied it (the job's ``updated``,
  read from the callbacks; ms resolution); every message emitted in the window counts;
* store write rate: calls of the store's writing methods per second (counted in the server).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from bench.common import fmt, machine_description, run, source_description, table, verdict
from bench.workload import DriveResult, add_level_arguments, low, mean, run_levels

RSS_TARGET_MB = 500.0
LAG_TARGET_MS = 100.0


def rows(results: list[DriveResult]) -> list[list[str]]:
    out = []
    for r in results:
        out.append(
            [
                f"{r.config.jobs:,}",
                str(r.accounts),
                f"{mean(r.concurrency):,.0f} (p5 {low(r.concurrency):,.0f})",
                fmt(r.cpu.get("server"), 0),
                fmt(r.worker_cpu, 0),
                fmt(r.server_peak_rss_mb, 0),
                *r.event_lag.cells(),
                " / ".join(r.to_engine.cells()[:2]),
                " / ".join(r.to_store.cells()[:2]),
                fmt(r.rate("store_writes"), 0),
                fmt(r.store_ms("save_job"), 2),
                fmt(r.save_job_p99, 1),
                r.batching,
                fmt(r.rate("events"), 0),
                fmt(r.server_loop_lag_p99, 1),
                fmt(100 * r.rate("gc_seconds"), 1),
                str(r.refused),
                fmt(r.cpu.get("simulator"), 0),
                fmt(r.cpu.get("bench"), 0),
                fmt(r.others_cpu, 0),
            ]
        )
    return out


def growth(results: list[DriveResult]) -> list[list[str]]:
    base = results[0]
    out = []
    for r in results:
        jobs = r.config.jobs / base.config.jobs

        def ratio(a: float | None, b: float | None) -> str:
            return f"x{a / b:.1f}" if a and b else "n/a"

        out.append(
            [
                f"{r.config.jobs:,} (x{jobs:.1f})",
                ratio(r.cpu.get("server"), base.cpu.get("server")),
                ratio(r.server_peak_rss_mb, base.server_peak_rss_mb),
                ratio(r.event_lag.p99, base.event_lag.p99),
                ratio(r.rate("store_writes"), base.rate("store_writes")),
            ]
        )
    return out


def targets(results: list[DriveResult]) -> list[list[str]]:
    out = []
    for r in results:
        out.append(
            [
                f"peak RSS at {r.config.jobs:,} jobs",
                f"<= {RSS_TARGET_MB:.0f} MB",
                f"{r.server_peak_rss_mb:.0f} MB",
                verdict(r.server_peak_rss_mb <= RSS_TARGET_MB),
            ]
        )
        out.append(
            [
                f"event lag p99 at {r.config.jobs:,} jobs",
                f"<= {LAG_TARGET_MS:.0f} ms",
                f"{r.event_lag.show(r.event_lag.p99)} ms",
                verdict(r.event_lag.n > 0 and r.event_lag.p99 <= LAG_TARGET_MS),
            ]
        )
    return out


def report(results: list[DriveResult]) -> str:
    command = " ".join(["python -m bench.scale", *sys.argv[1:]])
    head = (
        f"Command: `{command}`  \nDate: {date.today().isoformat()}  \n"
        f"Machine: {machine_description()}  \nMeasured: {source_description(ARGS.src)}  \n"
        f"Each job: {ARGS.points} progress updates {ARGS.step_delay:g} s apart; callbacks "
        f"{'on' if not ARGS.no_callbacks else 'off'}; {ARGS.window:.0f} s measured per level.\n"
    )
    main = table(
        "Scale",
        [
            "jobs",
            "accounts",
            "running (mean)",
            "server CPU %",
            "worker CPU %",
            "server peak RSS MB (with worker)",
            "event lag p50 ms",
            "event lag p99 ms",
            "event lag max ms",
            "events measured",
            "emitted -> engine read it, p50 / p99 ms",
            "engine read -> stored, p50 / p99 ms",
            "store writes/s",
            "save_job ms (mean)",
            "save_job ms p99",
            "writes per batch (run together)",
            "gateway events/s",
            "server loop lag p99 ms",
            "server GC % of wall",
            "POSTs refused",
            "simulator CPU %",
            "bench CPU %",
            "other processes CPU %",
        ],
        rows(results),
    )
    grow = table(
        "Growth from the first level",
        ["jobs", "server CPU", "peak RSS", "event lag p99", "store writes/s"],
        growth(results),
    )
    goal = table("Targets", ["figure", "target", "measured", ""], targets(results))
    return "\n".join([head, main, grow, goal])


async def main() -> None:
    # no GET polling of completions here: bench.latency does it
    results = await run_levels(ARGS, lambda jobs: 0.0, callbacks=not ARGS.no_callbacks)
    print(report(results))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    add_level_arguments(parser, "300,1000,3000")
    parser.add_argument("--no-callbacks", action="store_true", help="jobs without replyUrl")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 jobs, 15 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.levels, args.window, args.points = "300", 15.0, 5
    return args


ARGS = parse([])

if __name__ == "__main__":
    ARGS = parse()
    run(main)
