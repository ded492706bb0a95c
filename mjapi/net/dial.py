"""Opening a TCP connection to an address the URL guard has already checked.

``Dial`` is the single point where outbound traffic touches the network: callbacks
(``h1.KeepAliveClient``) and downloads (httpx through ``transport.GuardedBackend``) both dial
through it, so tests replace one function to route checked public addresses to loopback servers.
A dial only connects; TLS is started on the connection afterwards, with the URL's host name.

``AsyncioStream`` adapts such a connection to httpcore's network stream interface. httpcore's own
backend goes through anyio, whose cancel scopes cost more per read than the reads themselves.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpcore

#: Bytes a connection's reader buffers before it stops reading from the socket (also the longest
#: line ``readuntil`` accepts, hence the longest answer head a client reads).
READ_LIMIT = 64 * 1024

#: ``(address, port) -> (reader, writer)``: a plain TCP connection to exactly that address.
Dial = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def open_tcp(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The real network (asyncio sets TCP_NODELAY on the socket)."""
    return await asyncio.open_connection(address, port, limit=READ_LIMIT)


async def start_tls(
    writer: asyncio.StreamWriter, context: ssl.SSLContext, host: str, seconds: float | None
) -> None:
    """Upgrade the connection in place: SNI and certificate checks are those of ``host``.

    Bounded by ``asyncio.timeout`` (TimeoutError), not asyncio's own handshake timeout, which
    reports itself as a ConnectionAbortedError like any other abort.
    """
    async with asyncio.timeout(seconds):
        await writer.start_tls(context, server_hostname=host)


def is_reusable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """An idle connection the peer has not closed, reset, or sent unasked bytes on.

    asyncio reads the socket as soon as it is readable, so a peer's close shows as EOF on the
    reader, and bytes the peer sent unasked sit in the reader's buffer (which would otherwise be
    read as the answer to the next request). asyncio offers no public way to see that buffer.
    """
    closed = writer.is_closing() or reader.at_eof() or reader.exception() is not None
    unasked = bool(getattr(reader, "_buffer", b""))
    return not (closed or unasked)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """A dialled connection as httpcore's network stream, with httpcore's error classes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout("no data within the read timeout") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout("could not write within the write timeout") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        # Not awaiting the close: a TLS peer that never answers close_notify must not hold us.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        try:
            await start_tls(self._writer, ssl_context, server_hostname or "", timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("TLS handshake took too long") from exc
        except (ssl.SSLError, OSError) as exc:
            raise httpcore.ConnectError(f"TLS: {exc}") from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return not is_reusable(self._reader, self._writer)
        names = {"client_addr": "sockname", "server_addr": "peername"}
        return self._writer.get_extra_info(names.get(info, info))


class DialBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend over a ``Dial`` (outbound URLs never use unix sockets)."""

    def __init__(self, dial: Dial = open_tcp) -> None:
        self._dial = dial

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await self._dial(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} took too long") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("outbound URLs never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
