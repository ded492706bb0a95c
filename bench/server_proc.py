"""mjapi's server as the benchmarks run it: ``python -m bench.server_proc [--instrument]``.

Without ``--instrument`` this is exactly ``mjapi serve`` (settings from ``MJAPI_*``; uvicorn
with the same arguments and event loop). With it, three counters are added, from outside mjapi's
code, for the scale benchmark:

* every coroutine method of the store is wrapped to count calls, so the store write rate is
  measured, not derived; the job writes are timed too, and each one that succeeded is noted
  with its time, the job's ``replyRef``, status and progress (``GET /_bench/applied``): when
  an event from the simulator was applied and persisted;
* the transport's event stream is wrapped to count the Discord events handed to the engine;
* the wall time of each ``save_job`` is kept (``save_job_ms``: p50 / p99 / max since the last
  ``?reset``), to tell how much of the event lag the store's writes are;
* a 20 ms timer measures the event loop's lag;
* ``gc.callbacks`` add up the time the garbage collector runs (``gc_seconds``);

and ``GET /_bench/stats`` answers them (counters cumulative, loop lag since the last ``?reset``).
The wrappers cost a counter update per call.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.common import LoopLag, Summary

#: store methods that change the database (the rest read); unknown names count as writes
READ_PREFIXES = (
    "get_",
    "list_",
    "token_owner",
    "next_user_id",
    "unfinished",
    "count_",
    "find_",
    "pending_",
    "webhook_secret",
)


#: store methods whose first argument is a job written to the database
JOB_WRITES = ("insert_job", "save_job")


@dataclass
class AppliedColumns:
    """(replyRef, status, progress, epoch seconds) of every job write that succeeded."""

    refs: list[str]
    statuses: list[str]
    progress: list[int | None]
    times: list[float]
    #: when the engine read the event that made the change from the transport (None: unknown)
    received: list[float | None]

    def add(
        self, ref: str, status: str, progress: int | None, at: float, received: float | None
    ) -> None:
        self.refs.append(ref)
        self.statuses.append(status)
        self.progress.append(progress)
        self.times.append(at)
        self.received.append(received)

    def rows(self) -> list[tuple[str, str, int | None, float, float | None]]:
        columns = (self.refs, self.statuses, self.progress, self.times, self.received)
        return list(zip(*columns, strict=True))


class Counters:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.events = 0
        self.lag = LoopLag()
        self.store: Any = None
        #: seconds each save_job took, since the last reset
        self.save_seconds: list[float] = []
        #: kept as four columns of scalars, not a tuple per write: thousands of new tuples a
        #: second would make the garbage collector run several times as often as in mjapi
        #: alone (it counts container objects), and its pauses are part of what is measured
        self.applied = AppliedColumns([], [], [], [], [])
        #: (jobid, status, progress) -> when the engine read that event from the transport;
        #: taken out when the change is written
        self.received: dict[tuple[str, str, int | None], float] = {}
        self.gc_seconds = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_seconds += time.perf_counter() - self._gc_started

    def snapshot(self, reset: bool) -> dict[str, Any]:
        if reset:  # events whose change was never written (merged, refused) would pile up
            self.received.clear()
        writes = {k: v for k, v in self.calls.items() if not k.startswith(READ_PREFIXES)}
        return {
            "store_calls": dict(self.calls),
            "store_seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "store_writes": sum(writes.values()),
            "events": self.events,
            "loop_lag_ms": self.lag.take(reset),
            "save_job_ms": self._save_job_ms(reset),
            "batches": self._batch_stats(),
            "gc_seconds": self.gc_seconds,
            "time": time.time(),
        }

    def _save_job_ms(self, reset: bool) -> dict[str, float]:
        summary = Summary.of_seconds(self.save_seconds)
        if reset:
            self.save_seconds = []
        return {"n": summary.n, "p50": summary.p50, "p99": summary.p99, "max": summary.max}

    def _batch_stats(self) -> dict[str, int]:
        """The SQLite store's group-commit counters (``SqliteStore.batch_stats``), if any."""
        stats = getattr(self.store, "batch_stats", None)
        return {} if stats is None else dict(vars(stats))

    def wrap_store(self, store: Any) -> None:
        self.store = store
        for name in dir(store):
            if name.startswith("_") or name in ("open", "close"):
                continue
            method = getattr(store, name)
            if not asyncio.iscoroutinefunction(method):
                continue
            if name in JOB_WRITES:
                vars(store)[name] = self._timed(name, method)
            else:
                vars(store)[name] = self._counted(name, method)

    def _counted(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """``method`` counting its calls. Not a coroutine of its own: an extra coroutine and
        frame on each of thousands of store calls a second would be CPU the measured server
        spends on being measured (it was ~2 % of the server's samples at 3,000 jobs)."""
        calls = self.calls

        def counted(*args: Any, **kwargs: Any) -> Awaitable[Any]:
            calls[name] = calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted

    def _timed(
        self, name: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """A job write counted, timed, and noted once it succeeded (the event lag's end)."""

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await method(*args, **kwargs)
            finally:
                took = time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1
                self.seconds[name] = self.seconds.get(name, 0.0) + took
                if name == "save_job":
                    self.save_seconds.append(took)
            if result is not False and args:
                self._applied(args[0])
            return result

        return timed

    def _applied(self, job: Any) -> None:
        """A job change is in the database: note when, for the benchmark's jobs."""
        ref = getattr(job, "reply_ref", None)
        if ref:
            status = getattr(job, "status", None)
            status_name = str(getattr(status, "value", status))
            progress = getattr(job, "progress", None)
            key = (getattr(job, "jobid", ""), status_name, _progress_key(status_name, progress))
            received = self.received.pop(key, None)
            self.applied.add(ref, status_name, progress, time.time(), received)

    def wrap_events(self, transport: Any) -> None:
        original = transport.events

        received = self.received

        async def events() -> AsyncIterator[Any]:
            async for event in original():
                self.events += 1
                key = _event_key(event)
                if key is not None:
                    received[key] = time.time()
                yield event

        vars(transport)["events"] = events


def _event_key(event: Any) -> tuple[str, str, int | None] | None:
    """The (jobid, status, progress) the job has once ``event`` is applied (``_applied``)."""
    kind = type(event).__name__
    if kind == "JobStarted":
        return (event.jobid, "started", None)
    if kind == "JobProgressed":
        return (event.jobid, "progress", event.percent)
    if kind == "JobCompleted":
        return (event.jobid, "completed", None)
    return None


def _progress_key(status: str, progress: int | None) -> int | None:
    """Progress tells job changes apart only while the job is in ``progress``."""
    return progress if status == "progress" else None


def _instrument(counters: Counters) -> dict[str, Any]:
    """Patch mjapi's composition root (in this process) so that what it builds is counted."""
    import mjapi.app as composition

    open_store = composition.open_configured_store
    make_transport = composition.discord_transport

    async def counted_store(settings: Any) -> Any:
        store = await open_store(settings)
        counters.wrap_store(store)
        return store

    def counted_transport(settings: Any, clock: Any) -> Any:
        transport = make_transport(settings, clock)
        counters.wrap_events(transport)
        return transport

    composition.open_configured_store = counted_store
    return {"transport_factory": counted_transport}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instrument", action="store_true")
    args = parser.parse_args()

    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from mjapi import cli, gc_tuning, logs
    from mjapi.app import create_app
    from mjapi.settings import Settings

    settings = Settings()
    logs.configure(settings.log_level)
    counters = Counters()
    extra = _instrument(counters) if args.instrument else {}
    app = create_app(settings, **extra)
    if args.instrument:

        async def stats(request: Request) -> JSONResponse:
            return JSONResponse(counters.snapshot("reset" in request.query_params))

        async def applied(request: Request) -> JSONResponse:
            return JSONResponse(counters.applied.rows())

        app.add_route("/_bench/stats", stats)
        app.add_route("/_bench/applied", applied)
    gc_tuning.tune_for_server()  # as ``mjapi serve`` does, after building the app
    # what ``mjapi serve`` does: uvicorn.run(app, **uvicorn_options(settings)); an mjapi from
    # before ``uvicorn_options`` (``--src``) ran uvicorn with these arguments
    options = getattr(cli, "uvicorn_options", None)
    kwargs = (
        options(settings)
        if options is not None
        else {"host": settings.host, "port": settings.port, "log_config": None}
    )
    config = uvicorn.Config(app, **kwargs)
    server = uvicorn.Server(config)

    async def serve() -> None:
        if args.instrument:
            counters.lag.start()
        await server.serve()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
