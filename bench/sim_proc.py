"""The simulator as the benchmarks run it: ``python -m bench.sim_proc --port P [...]``.

It is ``mjapi simulator`` with three additions, all outside the simulated protocol:

* the timing, the plan concurrency and the images are set from the command line
  (``SimulatorConfig``; the ``mjapi simulator`` command only exposes ``--step-delay``): the
  benchmark needs 15 running jobs per account, three more than any Midjourney plan allows, hence
  an extra "Bench" plan (``plan_concurrency``); images are tiny, without captions, and each
  job's are one of 64 variants made once (``image_variants``), so that the simulator can carry
  3,000 jobs beside the server under test;
* every job message the bot emits is announced with the moment it was handed to the gateway (a
  ``GatewayHub.observe`` observer), as one line
  ``<kind> <tag> <percent> <epoch seconds> [<interaction epoch seconds>]`` (the lines of one
  event-loop turn share a UDP datagram) to
  ``--notify`` (kind ``w`` "Waiting to start", ``p`` a progress edit, ``f`` the result), so the
  benchmark can time what mjapi does with it; ``<tag>`` is the number in the prompt's ``bj<N>x``;
* ``GET /_bench/stats`` answers the simulator's job counters and its own event-loop lag since
  the last ``GET /_bench/stats?reset=1``.

The simulator is the benchmarks' load generator, not what they measure: it is always the
checkout's ``mjapi.simulator``, also when ``--src`` puts another ``mjapi`` first on the path for
the server (an older tree would lack the options used here, and the load would differ).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import socket
import sys
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import LOOPBACK, REPO_ROOT, LoopLag, run

TAG = re.compile(r"\bbj(\d+)x\b")
PERCENT = re.compile(r"\((\d+)%\)")
BENCH_PLAN = "Bench"
#: lines per announcement datagram: about 40 bytes each, well under a loopback datagram's limit
DATAGRAM_LINES = 200


class Announcer:
    """Observes the gateway hub's dispatches to announce job messages over UDP.

    Each line carries the time of its dispatch; the lines of one event-loop turn go out together
    in as few datagrams as fit (one ``sendto`` per message would cost the simulator a system call
    per frame: thousands per second at 3,000 jobs).
    """

    def __init__(self, target: tuple[str, int] | None) -> None:
        self._target = target
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._interactions: dict[str, float] = {}
        self._pending: list[str] = []
        self.sent = 0
        self.dropped = 0

    def dispatched(self, user_id: str, event: str, data: Any) -> None:
        """A ``GatewayHub`` observer: called right after each dispatch."""
        if self._target is not None and isinstance(data, dict):
            self._observe(event, data, time.time())

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
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(line)

    def flush(self) -> None:
        """Send the lines announced so far, up to ``DATAGRAM_LINES`` per datagram."""
        assert self._target is not None
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), DATAGRAM_LINES):
            lines = pending[start : start + DATAGRAM_LINES]
            try:
                self._sock.sendto("\n".join(lines).encode(), self._target)
                self.sent += len(lines)
            except OSError:
                self.dropped += len(lines)


def _checkout_first() -> None:
    """Import ``mjapi`` from the checkout, before any ``--src`` tree (see the docstring)."""
    root = str(REPO_ROOT)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    assert "mjapi" not in sys.modules, "mjapi was imported before the checkout came first"


def _config(args: argparse.Namespace) -> Any:
    from mjapi.simulator import SimulatorConfig

    points = tuple(int(p) for p in args.progress_points.split(",")) if args.progress_points else ()
    return SimulatorConfig(
        step_delay=args.step_delay,
        progress_points=points or SimulatorConfig().progress_points,
        # an extra plan: no Midjourney plan runs 15 jobs at once
        plan_concurrency={BENCH_PLAN: args.concurrency},
        default_plan=BENCH_PLAN,
        grid_size=64,
        preview_size=16,
        captions=args.captions,
        image_variants=0 if args.captions else args.image_variants,
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
        sim.hub.observe(announcer.dispatched)

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
    parser.add_argument(
        "--captions",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="draw the prompt on the images (default: off, as FreeType would cost most CPU)",
    )
    parser.add_argument(
        "--image-variants",
        type=int,
        default=64,
        help="without captions: jobs' pictures are one of N, made once (0: each job its own)",
    )
    parser.add_argument("--wait-queue", type=int, default=10)
    parser.add_argument("--max-attachments", type=int, default=20000)
    parser.add_argument("--rest-limit", type=int, default=50, help="REST requests/s per route")
    parser.add_argument("--notify", default="", help="host:port for the UDP announcements")
    args = parser.parse_args()
    _checkout_first()
    with contextlib.suppress(KeyboardInterrupt):
        run(lambda: _main(args))


if __name__ == "__main__":
    main()
