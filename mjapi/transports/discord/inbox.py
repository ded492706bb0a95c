"""Gateway messages handled as they are parsed, not one task wake-up per message.

websockets' asyncio connection queues every incoming message for ``recv()``; the reading task
then wakes once per message. At thousands of gateway messages a second (3,000 running jobs send
about one each a second) that wake-up, the queue and the awaits around them were a measurable
share of the server's CPU (bench/README.md, ninth pass). Almost every message only dispatches
an event, which is synchronous anyway; only a few (HELLO, a heartbeat request, a reconnect
order) need the runner's task, to send or to end the connection.

So ``InboxConnection`` hands each complete data message to an ``Inbox`` from the socket's
``data_received``. The inbox reads it at once (inflate, decode, the session's decision), runs
its dispatches there and then, and queues only what needs the runner's task. Order is kept: once
anything is queued, or while the runner performs a queued entry, later messages queue behind
it, dispatches included. After a message that ends the connection (``Reconnect``/``Fatal``),
nothing more is read from it, as when the runner stopped calling ``recv()``.

Reading a message moves the session (its sequence number above all), so a message read must
not be forgotten: when a connection ends with entries still queued, ``stop`` hands them back
and the runner delivers their dispatches (a RESUME asks only for what came after). While
entries wait, reading pauses once ``PAUSE_AT`` are queued, as websockets' own queue did, so a
runner stuck on a send cannot make the queue grow without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode

from mjapi.transports.discord.gateway import Action, Dispatch, Fatal, Reconnect

log = logging.getLogger(__name__)

#: One websocket message's actions: what ``GatewayRunner._read`` makes of it.
Reader = Callable[[str | bytes], list[Action]]

#: Queued entries at which reading pauses; it resumes once the runner has taken them all.
PAUSE_AT = 16


class Inbox:
    """One connection's messages, read in arrival order (see the module docstring)."""

    def __init__(
        self,
        read: Reader,
        dispatch: Callable[[Dispatch], None],
        *,
        pause: Callable[[], None] = lambda: None,
        resume: Callable[[], None] = lambda: None,
    ) -> None:
        self._read = read
        self._dispatch = dispatch
        self._pause, self._resume = pause, resume
        self._paused = False
        #: action lists for the runner, or what reading a message raised (raised in turn)
        self._queued: deque[list[Action] | Exception] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._stopped = False
        #: set by the runner while it performs a queued entry: later messages wait behind it
        self.busy = False

    def deliver(self, message: str | bytes) -> None:
        """A complete message arrived: handle it now, or queue it for the runner."""
        if self._stopped:
            return
        try:
            actions = self._read(message)
        except Exception as exc:  # a bug in reading: the runner's task raises it, in turn
            self._stopped = True
            self._enqueue(exc)
            return
        if not actions:
            return
        if any(isinstance(action, Reconnect | Fatal) for action in actions):
            self._stopped = True  # the connection ends here: nothing after it is read
        dispatches = [action for action in actions if isinstance(action, Dispatch)]
        if self._queued or self.busy or len(dispatches) != len(actions):
            self._enqueue(actions)
            return
        for dispatch in dispatches:
            self._dispatch(dispatch)

    def _enqueue(self, entry: list[Action] | Exception) -> None:
        self._queued.append(entry)
        self._wake.set()
        if len(self._queued) >= PAUSE_AT and not self._paused:
            self._paused = True
            self._pause()

    def lost(self) -> None:
        """The connection is closed: the runner learns it after what is queued."""
        self._closed = True
        self._wake.set()

    def stop(self) -> list[list[Action]]:
        """Read nothing more (the connection ends); the entries read but not yet performed.

        The caller delivers their dispatches, or knowingly drops them (the runner is stopped).
        """
        self._stopped = True
        left: list[list[Action]] = []
        for entry in self._queued:
            if isinstance(entry, Exception):  # never raised now: at least it is not silent
                log.error("reading a gateway message failed", exc_info=entry)
            else:
                left.append(entry)
        self._queued.clear()
        if self._paused:  # the closing handshake still has to read the peer's close frame
            self._paused = False
            self._resume()
        return left

    async def next(self) -> list[Action] | None:
        """The next queued entry, or None once the connection closed and nothing is queued.

        Raises what reading a message raised, after the entries read before it.
        """
        while True:
            if self._queued:
                entry = self._queued.popleft()
                if self._paused and not self._queued:
                    self._paused = False
                    self._resume()
                if isinstance(entry, Exception):
                    raise entry
                return entry
            if self._closed:
                return None
            self._wake.clear()
            await self._wake.wait()


class InboxConnection(ClientConnection):
    """A client connection that gives complete data messages to an ``Inbox``, not to ``recv()``.

    Messages that arrive before ``attach`` (HELLO can come in the same read as the handshake's
    answer) are kept and handed over by it. Fragmented messages are put together here, as the
    websockets assembler would; control frames (ping, pong, close) stay websockets' business.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox: Inbox | None = None
        self._early: list[str | bytes] = []
        self._lost = False
        self._fragments: list[bytes] = []
        self._text = False

    def pause_reading(self) -> None:
        """Stop reading the socket (the inbox's queue is full)."""
        if not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def attach(self, inbox: Inbox) -> None:
        self._inbox = inbox
        early, self._early = self._early, []
        for message in early:
            inbox.deliver(message)
        if self._lost:
            inbox.lost()

    def process_event(self, event: Any) -> None:
        if self.response is None or not isinstance(event, Frame):
            super().process_event(event)  # the handshake's answer
            return
        if event.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragments, self._text = [bytes(event.data)], event.opcode is Opcode.TEXT
        elif event.opcode is Opcode.CONT:
            self._fragments.append(bytes(event.data))
        else:
            super().process_event(event)  # ping, pong, close
            return
        if event.fin:
            data, self._fragments = b"".join(self._fragments), []
            if not self._text:
                self._hand_over(data)
                return
            try:
                text = data.decode()
            except UnicodeDecodeError:
                log.warning("ignoring a gateway text message that is not UTF-8")
                return
            self._hand_over(text)

    def _hand_over(self, message: str | bytes) -> None:
        if self._inbox is None:
            self._early.append(message)
        else:
            self._inbox.deliver(message)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._lost = True
        if self._inbox is not None:
            self._inbox.lost()
