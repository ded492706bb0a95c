"""``ProcessTransport``: the ``Transport`` the engine sees when the worker runs Discord.

Every call goes to the worker and its answer (or error, pickled as raised) comes back; events
arrive in batches and are handed out by ``events()`` in the worker's order. The worker is
started by the first call (a server without accounts never starts one).

A worker that dies (killed, out of memory, a crash) is replaced: the calls it was running fail
with ``TransportError``, a new worker is started, every attached account is attached again and
the jobs in flight are resumed in it (``InFlight``), their missed messages read from the
channel history as after a restart. Submissions meanwhile wait (up to ``TAKEOVER_WAIT``) for
their account to be attached to the new worker. A worker that dies again soon after it started
is replaced after a growing pause, so that a worker that keeps crashing does not make every
account identify to Discord in a tight loop. If no worker can be started at all, the next call
tries again, and the worker it starts takes the accounts over.
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
import time
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
#: A worker that ran this long before dying was no crash loop: its successor starts at once.
STABLE_AFTER = 30.0
#: Seconds a submission waits for its account to be attached to a replacement worker.
TAKEOVER_WAIT = 60.0


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
        self.started = time.monotonic()


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
        #: a worker died: the next one started takes the attached accounts and jobs over
        self._takeover = False
        #: channel -> set once the account is attached to the replacement worker
        self._reattaching: dict[str, asyncio.Event] = {}
        #: workers in a row that died soon after they started (the pause before the next)
        self._quick_deaths = 0

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
        # A dead worker holds nothing to detach; its successor will not attach the channel.
        if self._worker is not None and not self._worker.pipe.lost:
            await self._call("detach", channel)

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        return await self._submit("imagine", account, jobid, prompt)

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
            "button", account, jobid, target, parent=target, prompt=prompt, mask=mask
        )

    async def blend(
        self,
        account: Account,
        jobid: str,
        images: Sequence[Upload],
        dimensions: BlendDimensions,
    ) -> str:
        return await self._submit("blend", account, jobid, list(images), dimensions)

    async def describe(self, account: Account, jobid: str, image: Upload) -> str:
        return await self._submit("describe", account, jobid, image)

    async def seed(self, account: Account, jobid: str, target: ButtonTarget) -> str:
        return await self._submit("seed", account, jobid, target, verb="seed_async", parent=target)

    async def setting(self, account: Account, jobid: str, setting: Setting) -> str:
        return await self._submit("setting", account, jobid, setting, verb=setting.value)

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
        starting = self._starting
        for task in [*self._background, *([starting] if starting is not None else [])]:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if starting is not None:
            with contextlib.suppress(BaseException):
                await starting
        for waiting in self._reattaching.values():
            waiting.set()
        worker = self._worker
        if worker is not None:
            await _stop(worker)
        self._queue.put_nowait(None)

    # -- calls ------------------------------------------------------------------------------

    async def _submit(
        self,
        method: str,
        account: Account,
        jobid: str,
        *args: Any,
        verb: str | None = None,
        parent: ButtonTarget | None = None,
        **kwargs: Any,
    ) -> str:
        """``method(account, jobid, *args, **kwargs)`` in the worker, the job tracked as
        ``verb`` (the useapi verb a restart would resume it as; ``method`` by default)."""
        await self._taken_over(account.channel)
        now = self._clock.now()
        self._in_flight.submitting(account.channel, jobid, verb or method, now, parent)
        try:
            nonce: str = await self._call(method, account, jobid, *args, **kwargs)
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

    async def _taken_over(self, channel: str) -> None:
        """Return once a replacement worker has the account (at once when none is starting)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TAKEOVER_WAIT):
                while (waiting := self._reattaching.get(channel)) is not None:
                    await waiting.wait()
                    if self._closing:
                        return

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
                    worker = self._worker = await self._spawn()
                    if worker.pipe.lost:  # died between its ``ready`` and now
                        raise TransportError("the worker stopped right after it started")
                    if self._takeover:
                        self._takeover = False
                        self._take_over(worker)
                    return worker
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

        try:
            _, pipe = await loop.create_unix_connection(
                lambda: Pipe(on_message, on_lost), sock=ours
            )
        except BaseException:
            ours.close()
            await asyncio.to_thread(_wait_quietly, process)
            raise
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
        self._takeover = True
        for channel in self._attached:
            self._reattaching[channel] = asyncio.Event()  # a former one's waiters wait again
        quick = time.monotonic() - worker.started < STABLE_AFTER
        self._quick_deaths = self._quick_deaths + 1 if quick else 0
        pause = RETRY_DELAYS[min(self._quick_deaths, len(RETRY_DELAYS)) - 1] if quick else 0.0
        self._spawn_task(self._replace(pause))

    async def _replace(self, pause: float) -> None:
        """Start the replacement (``_start`` hands it the accounts), after ``pause`` seconds."""
        await asyncio.sleep(pause)
        try:
            await self._running()
        except MjapiError as exc:
            log.critical("no Discord worker: %s; the next call tries again", exc.message)

    def _take_over(self, worker: _Worker) -> None:
        """Every attached account and its jobs in flight, to the new ``worker``."""
        log.info(
            "Discord worker %d takes over %d accounts, %d jobs in flight",
            worker.process.pid,
            len(self._attached),
            len(self._in_flight),
        )
        for account in list(self._attached.values()):
            waiting = self._reattaching.setdefault(account.channel, asyncio.Event())
            self._spawn_task(self._reattach(account, waiting))

    async def _reattach(self, account: Account, waiting: asyncio.Event) -> None:
        channel = account.channel
        try:
            for delay in (*RETRY_DELAYS, RETRY_DELAYS[-1]):
                if await self._reattached(account):
                    return
                await asyncio.sleep(delay)
            log.error("account %s could not be attached to the new Discord worker", channel)
        finally:
            waiting.set()
            if self._reattaching.get(channel) is waiting:
                del self._reattaching[channel]

    async def _reattached(self, account: Account) -> bool:
        """One attempt; True when there is nothing more to try (done, or not ours to do)."""
        channel = account.channel
        try:
            # detached, or attached again with a new token, meanwhile: not ours any more
            if self._attached.get(channel) is not account:
                return True
            await self._call("resume", account, self._in_flight.of_channel(channel))
            if self._attached.get(channel) is not account:
                return True
            await self._call("attach", account)
            return True
        except WorkerStopped:
            return True  # this worker died too: its successor takes over
        except DiscordAuthError as exc:
            self._attached.pop(channel, None)
            self._queue.put_nowait(AccountDisabled(channel, exc.message))
            return True
        except MjapiError as exc:
            log.warning("account %s not attached to the new worker: %s", channel, exc.message)
            return False

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
        # Not in the server's process group: a Ctrl-C meant for the server must not kill the
        # worker under it (the server closes it, and its accounts' gateways, on its way out).
        start_new_session=True,
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
