"""``ProcessTransport``: the ``Transport`` the engine sees when the worker runs Discord.

Every call goes to the worker and its answer (or error, pickled as raised) comes back; events
arrive in batches and are handed out by ``events()`` in the worker's order. The worker is
started by the first call (a server without accounts never starts one).

A worker that dies (killed, out of memory, a crash) is replaced: the calls it was running fail
with ``TransportError``, a new worker is started, every attached account is attached again and
the jobs in flight are resumed in it (``InFlight``), their missed messages read from the
channel history as after a restart. Calls made meanwhile wait for the new worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

import mjapi
from mjapi.clock import Clock, SystemClock
from mjapi.domain.accounts import Account
from mjapi.domain.events import AccountDisabled, BackendEvent
from mjapi.errors import DiscordAuthError, MjapiError, TransportError
from mjapi.transports.base import (
    BlendDimensions,
    ButtonTarget,
    DiscordIdentity,
    Resumable,
    ServerChannel,
    Setting,
    Upload,
)
from mjapi.transports.worker.in_flight import InFlight
from mjapi.transports.worker.pipe import Pipe
from mjapi.transports.worker.protocol import WorkerConfig

log = logging.getLogger(__name__)

WORKER_LOST = "The Discord worker process stopped during the request"
#: Seconds a new worker may take to start and answer ``ready``.
START_TIMEOUT = 30.0
#: Seconds ``close`` waits for the worker to disconnect its accounts before killing it.
CLOSE_TIMEOUT = 15.0
#: Pauses between attempts to start a worker, or to attach an account again, after a failure.
RETRY_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class WorkerStopped(TransportError):
    """The worker process ended while a call was running in it."""

    default_message = WORKER_LOST


class _Worker:
    """One worker process and its end of the socket pair."""

    def __init__(self, process: subprocess.Popen[bytes], pipe: Pipe) -> None:
        self.process = process
        self.pipe = pipe
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.calls: dict[int, asyncio.Future[Any]] = {}


class ProcessTransport:
    """Runs a ``DiscordTransport`` in a worker process and forwards the engine's calls to it."""

    def __init__(self, config: WorkerConfig, *, clock: Clock | None = None) -> None:
        self._config = config
        self._clock = clock or SystemClock()
        self._worker: _Worker | None = None
        self._starting: asyncio.Task[_Worker] | None = None
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[BackendEvent | None] = asyncio.Queue()
        self._attached: dict[str, Account] = {}
        self._in_flight = InFlight()
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False

    def __repr__(self) -> str:
        pid = self._worker.process.pid if self._worker is not None else None
        return f"ProcessTransport({self._config.discord_url!r}, worker={pid})"

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id (None before the first call)."""
        return self._worker.process.pid if self._worker is not None else None

    # -- Transport ----------------------------------------------------------------------------

    async def identify(self, token: str) -> DiscordIdentity:
        identity: DiscordIdentity = await self._call("identify", token)
        return identity

    async def identify_server_channel(self, token: str, channel: ServerChannel) -> DiscordIdentity:
        identity: DiscordIdentity = await self._call("identify_server_channel", token, channel)
        return identity

    async def attach(self, account: Account) -> None:
        await self._call("attach", account)
        self._attached[account.channel] = account

    async def resume(self, account: Account, jobs: Sequence[Resumable]) -> None:
        for job in jobs:  # a later worker resumes them again if this one dies
            self._in_flight.adopt(account.channel, job)
        await self._call("resume", account, list(jobs))

    async def detach(self, channel: str) -> None:
        self._attached.pop(channel, None)
        self._in_flight.forget_channel(channel)
        if self._worker is not None:
            await self._call("detach", channel)

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        return await self._submit(
            account, jobid, "imagine", None, "imagine", account, jobid, prompt
        )

    async def button(
        self,
        account: Account,
        jobid: str,
        target: ButtonTarget,
        *,
        prompt: str | None = None,
        mask: str | None = None,
    ) -> str:
        return await self._submit(
            account, jobid, "button", target, "button", account, jobid, target,
            prompt=prompt, mask=mask,
        )  # fmt: skip

    async def blend(
        self,
        account: Account,
        jobid: str,
        images: Sequence[Upload],
        dimensions: BlendDimensions,
    ) -> str:
        return await self._submit(
            account, jobid, "blend", None, "blend", account, jobid, list(images), dimensions
        )

    async def describe(self, account: Account, jobid: str, image: Upload) -> str:
        return await self._submit(
            account, jobid, "describe", None, "describe", account, jobid, image
        )

    async def seed(self, account: Account, jobid: str, target: ButtonTarget) -> str:
        return await self._submit(
            account, jobid, "seed_async", target, "seed", account, jobid, target
        )

    async def setting(self, account: Account, jobid: str, setting: Setting) -> str:
        return await self._submit(
            account, jobid, setting.value, None, "setting", account, jobid, setting
        )

    def forget(self, channel: str, jobid: str) -> None:
        self._in_flight.forget(jobid)
        worker = self._worker
        if worker is not None and not worker.pipe.lost:
            worker.pipe.send(("forget", channel, jobid))

    async def events(self) -> AsyncGenerator[BackendEvent, None]:
        """The worker's events in its order (every worker's, across replacements), until close."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        """Let the worker disconnect every account, then stop it."""
        self._closing = True
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        worker = self._worker
        if worker is not None:
            await _stop(worker)
        self._queue.put_nowait(None)

    # -- calls ------------------------------------------------------------------------------

    async def _submit(
        self,
        account: Account,
        jobid: str,
        verb: str,
        parent: ButtonTarget | None,
        method: str,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        self._in_flight.submitting(account.channel, jobid, verb, self._clock.now(), parent)
        try:
            nonce: str = await self._call(method, *args, **kwargs)
        except BaseException:
            self._in_flight.forget(jobid)
            raise
        self._in_flight.submitted(jobid, nonce)
        return nonce

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        worker = await self._running()
        if worker.pipe.lost:  # between the start and now: nobody would answer
            raise WorkerStopped()
        call_id = next(self._ids)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.calls[call_id] = answer
        worker.pipe.send(("call", call_id, method, args, kwargs))
        try:
            return await answer
        finally:
            worker.calls.pop(call_id, None)

    async def _running(self) -> _Worker:
        if self._closing:
            raise TransportError("The Discord transport is closed")
        if self._worker is not None and not self._worker.pipe.lost:
            return self._worker
        if self._starting is None:
            self._starting = asyncio.create_task(self._start(), name="discord worker start")
        return await asyncio.shield(self._starting)

    async def _start(self) -> _Worker:
        try:
            for attempt, delay in enumerate((*RETRY_DELAYS, None)):
                try:
                    self._worker = await self._spawn()
                    return self._worker
                except Exception as exc:
                    if delay is None or self._closing:
                        raise TransportError(f"The Discord worker did not start: {exc}") from exc
                    log.error("Discord worker did not start (attempt %d): %s", attempt + 1, exc)
                    await asyncio.sleep(delay)
            raise AssertionError("unreachable")
        finally:
            self._starting = None

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            process = _launch(theirs)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        loop = asyncio.get_running_loop()
        holder: list[_Worker] = []

        def on_message(message: Any) -> None:
            if holder:
                self._on_message(holder[0], message)

        def on_lost(exc: BaseException | None) -> None:
            if holder:
                self._on_lost(holder[0], exc)

        _, pipe = await loop.create_unix_connection(lambda: Pipe(on_message, on_lost), sock=ours)
        worker = _Worker(process, pipe)
        holder.append(worker)
        if pipe.lost:
            await _stop(worker, grace=0)
            raise TransportError(f"the worker exited at once (code {process.poll()})")
        pipe.send(("init", self._config))
        try:
            await asyncio.wait_for(asyncio.shield(worker.ready), START_TIMEOUT)
        except BaseException:
            await _stop(worker, grace=0)
            raise
        log.info("Discord worker started (pid %d)", process.pid)
        return worker

    # -- from the worker ------------------------------------------------------------------------

    def _on_message(self, worker: _Worker, message: Any) -> None:
        kind = message[0]
        if kind == "events":
            for event in message[1]:
                self._in_flight.observe(event)
                self._queue.put_nowait(event)
        elif kind == "return":
            _settle(worker.calls.get(message[1]), value=message[2])
        elif kind == "raise":
            _settle(worker.calls.get(message[1]), error=message[2])
        elif kind == "ready":
            _settle(worker.ready, value=None)
        elif kind == "closed":
            _settle(worker.closed, value=None)

    def _on_lost(self, worker: _Worker, exc: BaseException | None) -> None:
        if not worker.ready.done():
            worker.ready.set_exception(TransportError(f"The Discord worker stopped: {exc}"))
            worker.ready.exception()  # retrieved: the start may have stopped waiting already
        _settle(worker.closed, value=None)
        for answer in worker.calls.values():
            _settle(answer, error=WorkerStopped())
        worker.calls.clear()
        if self._closing or worker is not self._worker:
            return
        log.error(
            "Discord worker (pid %d) stopped unexpectedly%s; starting another",
            worker.process.pid,
            f": {exc!r}" if exc is not None else "",
        )
        self._reap(worker)
        self._spawn_task(self._replace())

    async def _replace(self) -> None:
        """A new worker with every attached account and the jobs in flight (see module doc)."""
        try:
            worker = await self._running()
        except MjapiError as exc:
            log.critical("no Discord worker: %s; jobs cannot be submitted", exc.message)
            return
        log.info(
            "Discord worker %d takes over %d accounts, %d jobs in flight",
            worker.process.pid,
            len(self._attached),
            len(self._in_flight),
        )
        for account in list(self._attached.values()):
            self._spawn_task(self._reattach(account))

    async def _reattach(self, account: Account) -> None:
        channel = account.channel
        for delay in (*RETRY_DELAYS, RETRY_DELAYS[-1]):
            if self._attached.get(channel) is not account:
                return  # detached, or attached again with a new token, meanwhile
            try:
                await self._call("resume", account, self._in_flight.of_channel(channel))
                await self._call("attach", account)
                return
            except DiscordAuthError as exc:
                self._attached.pop(channel, None)
                self._queue.put_nowait(AccountDisabled(channel, exc.message))
                return
            except MjapiError as exc:
                log.warning("account %s not attached to the new worker: %s", channel, exc.message)
            await asyncio.sleep(delay)
        log.error("account %s could not be attached to the new Discord worker", channel)

    def _reap(self, worker: _Worker) -> None:
        self._spawn_task(asyncio.to_thread(_wait_quietly, worker.process))

    def _spawn_task(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _settle(
    future: asyncio.Future[Any] | None, *, value: Any = None, error: BaseException | None = None
) -> None:
    if future is None or future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def _stop(worker: _Worker, grace: float = CLOSE_TIMEOUT) -> None:
    """Ask the worker to close its transport, then make sure the process is gone."""
    if not worker.pipe.lost:
        worker.pipe.send(("close",))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(worker.closed), grace)
    worker.pipe.close()
    await asyncio.to_thread(_wait_quietly, worker.process)


def _launch(sock: socket.socket) -> subprocess.Popen[bytes]:
    """Start a worker on ``sock`` (a fork and exec: a few milliseconds, not worth a thread)."""
    return subprocess.Popen(
        [sys.executable, "-m", "mjapi.transports.worker", str(sock.fileno())],
        pass_fds=(sock.fileno(),),
        stdin=subprocess.DEVNULL,
        env=_worker_environment(),
    )


def _wait_quietly(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _worker_environment() -> dict[str, str]:
    """The server's environment, with this mjapi first on the path (a source checkout too)."""
    env = dict(os.environ)
    root = str(Path(mjapi.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env
