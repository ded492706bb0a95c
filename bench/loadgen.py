"""Load generator for the API overhead benchmark, run as its own process (on uvloop).

``python -m bench.loadgen SPEC.json`` reads the requests to send (already encoded HTTP/1.1
requests; one is picked at random for each send) and how to send them, and prints one JSON
object with the result:

* ``closed``: ``connections`` keep-alive connections, each sending its next request as soon as
  the previous answer arrived, for ``duration`` seconds after ``warmup`` seconds: the most the
  server does with that many clients;
* ``open``: requests scheduled at a fixed ``rate`` over ``duration`` seconds, sent on up to
  ``connections`` connections; each latency counts from the *scheduled* time, so a server that
  falls behind shows it (no coordinated omission).

Latencies are wall-clock from writing the request to having read the whole answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import HttpConn, percentile, run

#: seconds an open-loop run may take after its schedule ended to send what is still queued
DRAIN_SECONDS = 10.0


class Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.port: int = spec["port"]
        self.requests: list[bytes] = [r.encode("latin-1") for r in spec["requests"]]
        self.ok = set(spec.get("ok", [200]))
        self.connections: int = spec["connections"]
        self.duration: float = spec["duration"]
        self.warmup: float = spec.get("warmup", 0.0)
        self.rate: float = spec.get("rate", 0.0)
        self.max_requests: int = spec.get("max_requests", 0) or 10**12
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.sent = 0
        self._rng = random.Random(1)

    def _pick(self) -> bytes:
        return self.requests[self._rng.randrange(len(self.requests))]

    def _record(self, status: int, latency: float) -> None:
        self.statuses[status] += 1
        self.latencies.append(latency)

    # -- closed loop ------------------------------------------------------------------------

    async def closed(self) -> float:
        start = time.perf_counter()
        measure_from = start + self.warmup
        stop_at = measure_from + self.duration
        conns = [HttpConn(self.port) for _ in range(self.connections)]
        await asyncio.gather(*(self._closed_worker(c, measure_from, stop_at) for c in conns))
        ended = min(stop_at, time.perf_counter())
        for conn in conns:
            conn.close()
        return max(ended - measure_from, 1e-9)

    async def _closed_worker(self, conn: HttpConn, measure_from: float, stop_at: float) -> None:
        while True:
            sent = time.perf_counter()
            if sent >= stop_at or self.sent >= self.max_requests:
                return
            self.sent += 1
            try:
                status, _ = await conn.send(self._pick())
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.errors += 1
                await asyncio.sleep(0.01)
                continue
            if sent >= measure_from:
                self._record(status, time.perf_counter() - sent)

    # -- open loop --------------------------------------------------------------------------

    async def open(self) -> float:
        queue: asyncio.Queue[float | None] = asyncio.Queue()
        conns = [HttpConn(self.port) for _ in range(self.connections)]
        workers = [asyncio.create_task(self._open_worker(c, queue)) for c in conns]
        start = time.perf_counter() + 0.05
        total = min(int(self.rate * self.duration), self.max_requests)
        scheduled = 0
        while scheduled < total:
            now = time.perf_counter()
            while scheduled < total and start + scheduled / self.rate <= now:
                queue.put_nowait(start + scheduled / self.rate)
                scheduled += 1
            await asyncio.sleep(max(0.0, start + scheduled / self.rate - time.perf_counter()))
        for _ in workers:
            queue.put_nowait(None)
        _done, pending = await asyncio.wait(workers, timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for conn in conns:
            conn.close()
        # requests never sent count as errors: the server could not take the rate
        self.errors += total - self.sent
        return self.duration

    async def _open_worker(self, conn: HttpConn, queue: asyncio.Queue[float | None]) -> None:
        while True:
            due = await queue.get()
            if due is None:
                return
            self.sent += 1
            try:
                status, _ = await conn.send(self._pick())
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.errors += 1
                continue
            self._record(status, time.perf_counter() - due)

    def report(self, mode: str, elapsed: float) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies]
        ok = sum(n for status, n in self.statuses.items() if status in self.ok)
        return {
            "mode": mode,
            "connections": self.connections,
            "rate": self.rate,
            "seconds": elapsed,
            "answered": len(ms),
            "ok": ok,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "rps": ok / elapsed if elapsed else 0.0,
            "p50_ms": percentile(ms, 50),
            "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else None,
            # this process's own CPU time, for the caller's CPU accounting
            "cpu_seconds": time.process_time(),
        }


async def _main(spec: dict[str, Any]) -> dict[str, Any]:
    load = Load(spec)
    mode = spec["mode"]
    elapsed = await (load.closed() if mode == "closed" else load.open())
    return load.report(mode, elapsed)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    with contextlib.suppress(KeyboardInterrupt):
        result = run(lambda: _main(spec))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
