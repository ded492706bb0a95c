"""The simulator as the benchmarks run it: ``python -m bench.sim_proc --port P [...]``.

It is ``mjapi simulator`` with three additions, all outside the simulated protocol:

* the timing, the plan concurrency and tiny images are set from the command line (the
  ``mjapi simulator`` command only exposes ``--step-delay``; the benchmark needs 15 running jobs
  per account, three more than any Midjourney plan allows, hence an extra "Bench" plan);
* every job message the bot emits is announced, the moment it is handed to the gateway, as one
  UDP datagram ``<kind> <tag> <percent> <epoch seconds> [<interaction epoch seconds>]`` to
  ``--notify`` (kind ``w`` "Waiting to start", ``p`` a progress edit, ``f`` the result), so the
  benchmark can time what mjapi does with it; ``<tag>`` is the number in the prompt's ``bj<N>x``;
* ``GET /_bench/stats`` answers the simulator's job counters and its own event-loop lag since
  the last ``GET /_bench/stats?reset=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import socket
import time
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import LOOPBACK, LoopLag, run

TAG = re.compile(r"\bbj(\d+)x\b")
PERCENT = re.compile(r"\((\d+)%\)")
BENCH_PLAN = "Bench"


class Announcer:
    """Wraps the gateway hub's ``dispatch`` to announce job messages over UDP."""

    def __init__(self, target: tuple[str, int] | None) -> None:
        self._target = target
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._interactions: dict[str, float] = {}
        self.sent = 0
        self.dropped = 0

    def wrap(self, hub: Any) -> None:
        original = hub.dispatch

        def dispatch(user_id: str, event: str, data: Any) -> None:
            original(user_id, event, data)
            if self._target is not None and isinstance(data, dict):
                self._observe(event, data, time.time())

        vars(hub)["dispatch"] = dispatch

    def _observe(self, event: str, data: dict[str, Any], now: float) -> None:
        if event == "INTERACTION_CREATE":
            nonce = data.get("nonce")
            if isinstance(nonce, str):
                self._interactions[nonce] = now
            return
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            return
        content = data.get("content")
        match = TAG.search(content) if isinstance(content, str) else None
        if match is None or not isinstance(content, str):
            return
        tag = match.group(1)
        if event == "MESSAGE_UPDATE":
            percent = PERCENT.search(content)
            if percent is not None:
                self._send(f"p {tag} {percent.group(1)} {now:.6f}")
        elif "(Waiting to start)" in content:
            asked = self._interactions.pop(str(data.get("nonce")), now)
            self._send(f"w {tag} 0 {now:.6f} {asked:.6f}")
        elif data.get("attachments"):
            self._send(f"f {tag} 100 {now:.6f}")

    def _send(self, line: str) -> None:
        assert self._target is not None
        try:
            self._sock.sendto(line.encode(), self._target)
            self.sent += 1
        except OSError:
            self.dropped += 1


def _config(args: argparse.Namespace) -> Any:
    from mjapi.simulator import SimulatorConfig
    from mjapi.simulator.config import PLAN_CONCURRENCY

    # An extra plan, in this process only: no Midjourney plan runs 15 jobs at once.
    cast(dict[str, int], PLAN_CONCURRENCY)[BENCH_PLAN] = args.concurrency
    points = tuple(int(p) for p in args.progress_points.split(",")) if args.progress_points else ()
    return SimulatorConfig(
        step_delay=args.step_delay,
        progress_points=points or SimulatorConfig().progress_points,
        default_plan=BENCH_PLAN,
        grid_size=64,
        preview_size=16,
        wait_queue_size=args.wait_queue,
        max_stored_attachments=args.max_attachments,
        rate_limits={"default": (args.rest_limit, 1.0)},
    )


async def _main(args: argparse.Namespace) -> None:
    from mjapi.simulator import running_simulator

    target = None
    if args.notify:
        host, _, port = args.notify.rpartition(":")
        target = (host or LOOPBACK, int(port))
    announcer = Announcer(target)
    lag = LoopLag()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_simulator(_config(args), host=LOOPBACK, port=args.port) as sim:
        announcer.wrap(sim.hub)

        async def stats(request: Request) -> JSONResponse:
            jobs = sim.stats.snapshot()["jobs"]
            body = {
                "jobs": jobs,
                "running": jobs["started"] - jobs["completed"],
                "notices": announcer.sent,
                "notices_dropped": announcer.dropped,
                "loop_lag_ms": lag.take(reset="reset" in request.query_params),
            }
            return JSONResponse(body)

        sim.app.router.routes.append(Route("/_bench/stats", stats))
        lag.start()
        print(f"bench simulator on {sim.base_url}", flush=True)
        await stop.wait()
        await lag.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--step-delay", type=float, default=1.0)
    parser.add_argument("--progress-points", default="", help="e.g. 0,15,31 (default: 7 points)")
    parser.add_argument("--concurrency", type=int, default=15, help="jobs run at once per token")
    parser.add_argument("--wait-queue", type=int, default=10)
    parser.add_argument("--max-attachments", type=int, default=20000)
    parser.add_argument("--rest-limit", type=int, default=50, help="REST requests/s per route")
    parser.add_argument("--notify", default="", help="host:port for the UDP announcements")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        run(lambda: _main(args))


if __name__ == "__main__":
    main()
