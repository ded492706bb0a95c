"""Messages between the server and its Discord worker: pickled, length-prefixed, batched.

Both ends are mjapi's own processes joined by a private socket pair, so pickle is safe here;
it is also the cheapest way to move the transport's dataclasses (a progress event is a few
microseconds to encode and decode). Messages sent during one turn of the event loop leave in
one write: at thousands of events a second, a system call per event would be a cost of its own.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from collections.abc import Callable
from typing import Any, cast

HEADER = struct.Struct("!I")
#: Largest message accepted (a blend's five uploads travel in one call).
MAX_MESSAGE = 512 * 1024 * 1024


class PipeError(Exception):
    """The peer sent something that is not a message (a bug, or not our peer)."""


def encode(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    if len(body) > MAX_MESSAGE:
        raise PipeError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE}")
    return HEADER.pack(len(body)) + body


class Decoder:
    """Bytes in, whole messages out; keeps a partial message for the next bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buffer = self._buffer
        buffer += data
        messages: list[Any] = []
        start = 0
        while len(buffer) - start >= HEADER.size:
            (size,) = HEADER.unpack_from(buffer, start)
            if size > MAX_MESSAGE:
                raise PipeError(f"message of {size} bytes announced")
            end = start + HEADER.size + size
            if len(buffer) < end:
                break
            messages.append(pickle.loads(buffer[start + HEADER.size : end]))
            start = end
        del buffer[:start]
        return messages


class Pipe(asyncio.Protocol):
    """One end of the socket pair: ``send`` queues a message, ``on_message`` receives each."""

    def __init__(
        self,
        on_message: Callable[[Any], None],
        on_lost: Callable[[BaseException | None], None],
    ) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._decoder = Decoder()
        self._transport: asyncio.Transport | None = None
        self._outgoing: list[bytes] = []
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but have its methods
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
        except Exception as exc:  # a broken stream cannot be resynchronised
            self.close()
            self._lose(exc)
            return
        for message in messages:
            self._on_message(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose(exc)

    def send(self, message: object) -> None:
        """Queue ``message``; everything queued in this loop turn goes out in one write."""
        if self.lost:
            return
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(encode(message))

    def close(self) -> None:
        """Send what is queued, then close the socket."""
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def _flush(self) -> None:
        if self._outgoing and self._transport is not None and not self.lost:
            self._transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def _lose(self, exc: BaseException | None) -> None:
        if not self.lost:
            self.lost = True
            self._outgoing.clear()
            self._on_lost(exc)
