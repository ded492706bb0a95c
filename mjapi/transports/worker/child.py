"""The worker process: a ``DiscordTransport`` driven by the server over the socket pair.

The server sends ``("init", WorkerConfig)`` first, then ``("call", id, method, args, kwargs)``,
``("forget", channel, jobid)`` and finally ``("close",)``. The worker answers ``("ready",)``,
``("return", id, value)`` or ``("raise", id, error)`` per call, ``("events", [...])`` with the
transport's events in order, and ``("closed",)`` once the transport is closed. When the socket
closes without ``close`` (the server died), the worker closes the transport and exits.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
from typing import Any

from mjapi import logs
from mjapi.domain.accounts import Account
from mjapi.domain.events import BackendEvent
from mjapi.errors import MjapiError, TransportError
from mjapi.transports.discord import DiscordTransport
from mjapi.transports.worker.pipe import Pipe
from mjapi.transports.worker.protocol import CALLS, WorkerConfig

log = logging.getLogger(__name__)


class Worker:
    """Runs the calls the server sends and forwards the transport's events."""

    def __init__(self) -> None:
        self._pipe: Pipe | None = None
        self._transport: DiscordTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._events: list[BackendEvent] = []
        self.done = asyncio.Event()

    def pipe(self) -> Pipe:
        """This worker's end of the socket pair (made before any byte is read from it)."""
        self._pipe = Pipe(self.on_message, self.on_lost)
        return self._pipe

    def on_message(self, message: Any) -> None:
        kind = message[0]
        if kind == "call":
            self._spawn(self._call(*message[1:]))
        elif kind == "forget" and self._transport is not None:
            self._transport.forget(message[1], message[2])
        elif kind == "init":
            self._start(message[1])
        elif kind == "close":
            self._spawn(self._close())

    def on_lost(self, exc: BaseException | None) -> None:
        if exc is not None:
            log.error("connection to the server broken: %r", exc)
        self._spawn(self._close(answer=False))

    def _start(self, config: WorkerConfig) -> None:
        logs.configure(config.log_level)
        self._transport = DiscordTransport(config.discord_url, ready_timeout=config.ready_timeout)
        self._spawn(self._forward_events(self._transport))
        self._send(("ready",))

    async def _call(self, call_id: int, method: str, args: tuple[Any, ...], kwargs: Any) -> None:
        if self._transport is None or method not in CALLS:
            self._send(("raise", call_id, TransportError(f"worker cannot run {method!r}")))
            return
        _register_secrets(method, args)
        try:
            value = await getattr(self._transport, method)(*args, **kwargs)
        except Exception as exc:
            if not isinstance(exc, MjapiError):  # a bug: its traceback stays here
                log.exception("%s failed in the Discord worker", method)
            self._send(("raise", call_id, _portable(method, exc)))
        else:
            self._send(("return", call_id, value))

    async def _forward_events(self, transport: DiscordTransport) -> None:
        async for event in transport.events():
            # The events of one loop turn leave together (the transport's queue is drained
            # without waiting, so the flush below runs after the last of them).
            if not self._events:
                asyncio.get_running_loop().call_soon(self._flush_events)
            self._events.append(event)

    def _flush_events(self) -> None:
        events, self._events = self._events, []
        if events:
            self._send(("events", events))

    async def _close(self, *, answer: bool = True) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            await transport.close()
            self._flush_events()
        if answer:
            self._send(("closed",))
        if self._pipe is not None:
            self._pipe.close()
        self.done.set()

    def _send(self, message: object) -> None:
        if self._pipe is not None:
            self._pipe.send(message)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _register_secrets(method: str, args: tuple[Any, ...]) -> None:
    """The worker's log lines mask the tokens it is given, as the server's do."""
    for arg in args:
        if isinstance(arg, Account):
            logs.register_secret(arg.discord_token)
    if method in ("identify", "identify_server_channel") and args and isinstance(args[0], str):
        logs.register_secret(args[0])


def _portable(method: str, exc: Exception) -> Exception:
    """``exc`` if it survives pickling; otherwise a TransportError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return TransportError(f"{method} failed in the Discord worker: {type(exc).__name__}")
    return exc


async def serve(fd: int) -> None:
    """Serve the server on the inherited socket ``fd`` until it closes us."""
    worker = Worker()
    sock = socket.socket(fileno=fd)
    loop = asyncio.get_running_loop()
    await loop.create_unix_connection(worker.pipe, sock=sock)
    await worker.done.wait()
