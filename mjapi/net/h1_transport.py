"""httpx's transport on mjapi's own HTTP/1.1 connections (``h1``), for Discord REST.

Measured per request (a 204 from a loopback server, CPU of the client): httpx's own transport
700-1,600 us (httpcore's pool checks every connection on every request, anyio's cancel scopes
cost more than the reads), httpx's client part alone about 80 us. ``DiscordRest`` and the rate
limiter keep httpx's API (requests, responses, error classes), and tests keep their mock
transports; only the wire underneath changes.

Kept from httpx's transport: keep-alive per origin (a kept connection found dead is not tried
again: the request fails, as with httpx), TLS verified against certifi's roots with the URL's
host name, HTTP/1.1, httpx's error classes with the same split between "nothing was sent"
(``ConnectError``, ``ConnectTimeout``: the rate limiter may retry those) and everything after.
The request's connect timeout bounds connecting; its read timeout bounds the exchange from
sending to the last byte of the answer. Answers are read whole, at most ``MAX_BODY`` bytes;
the client decodes them (gzip and friends) as usual.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from mjapi.net.dial import Dial, open_tcp
from mjapi.net.guard import DEFAULT_PORTS
from mjapi.net.h1 import (
    CallFailed,
    Connection,
    Framing,
    KeepAliveClient,
    Origin,
    StaleConnection,
    body_chunks,
)

#: Longest answer read (a channel's message history is the longest Discord answer mjapi reads).
MAX_BODY = 32 * 1024 * 1024
#: Seconds when a request carries no timeout of its own.
DEFAULT_TIMEOUT = 20.0

_READ_ERRORS = (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


class H1Transport(httpx.AsyncBaseTransport):
    """Requests over kept-alive HTTP/1.1 connections straight to the URL's host."""

    def __init__(
        self,
        *,
        dial: Dial = open_tcp,
        tls: ssl.SSLContext | None = None,
        max_idle: int = 20,
        max_body: int = MAX_BODY,
    ) -> None:
        # Only the pool's parts are used: a kept connection found dead fails the request
        # (never sent twice), unlike ``KeepAliveClient.post``.
        self._connections = KeepAliveClient(None, dial=dial, tls=tls, max_idle=max_idle)
        self._max_body = max_body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        origin = origin_of(request.url)
        wire = _head(request, body) + body  # refused before any connection is taken
        connect_limit, read_limit = _limits(request)
        status, head, content = await self.exchange(
            origin, wire, request.method, connect_limit, read_limit
        )
        return response_of(status, head, content)

    async def exchange(
        self, origin: Origin, wire: bytes, method: str, connect_limit: float, read_limit: float
    ) -> tuple[int, bytes, bytes]:
        """Send ``wire`` (a whole request) to ``origin``: the answer's status, head and body.

        Raises httpx's errors, with the split described in the module doc.
        """
        connection = await self._connection(origin, connect_limit)
        keep = False
        try:
            async with asyncio.timeout(read_limit):
                status, framing, head = await self._connections.exchange(connection, wire)
                content, keep = await self._read_body(connection, framing, method)
        except StaleConnection as exc:
            raise httpx.RemoteProtocolError("server disconnected without an answer") from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no complete answer within {read_limit:g} s") from exc
        except CallFailed as exc:
            raise httpx.RemoteProtocolError(str(exc)) from exc
        except _READ_ERRORS as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        finally:
            if keep:
                self._connections.keep(origin, connection)
            else:
                connection.close()
        return status, head, content

    async def aclose(self) -> None:
        await self._connections.aclose()

    async def _connection(self, origin: Origin, limit: float) -> Connection:
        kept = self._connections.reuse(origin)
        if kept is not None:
            return kept
        try:
            async with asyncio.timeout(limit):
                return await self._connections.connect(origin)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection within {limit:g} s") from exc
        except CallFailed as exc:
            raise httpx.ConnectError(str(exc)) from exc

    async def _read_body(
        self, connection: Connection, framing: Framing, method: str
    ) -> tuple[bytes, bool]:
        """The whole body, and whether the connection can serve another request."""
        if method == "HEAD":
            return b"", framing.keep and not framing.chunked
        parts: list[bytes] = []
        size = 0
        async for part in body_chunks(connection.reader, framing):
            size += len(part)
            if size > self._max_body:
                raise CallFailed(f"the answer is longer than {self._max_body} bytes")
            parts.append(part)
        return b"".join(parts), framing.keep


def origin_of(url: httpx.URL) -> Origin:
    """Where ``url``'s requests go (httpx.UnsupportedProtocol for anything but http(s))."""
    if url.scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"{url.scheme or 'no'} scheme: only http and https")
    port = url.port or DEFAULT_PORTS[url.scheme]
    return Origin(url.scheme, url.raw_host.decode("ascii"), port, b"")


def _limits(request: httpx.Request) -> tuple[float, float]:
    timeouts = request.extensions.get("timeout") or {}
    connect = timeouts.get("connect") or DEFAULT_TIMEOUT
    read = timeouts.get("read") or DEFAULT_TIMEOUT
    return float(connect), float(read)


def _head(request: httpx.Request, body: bytes) -> bytes:
    """The request line and fields; the body is whole, so it goes with a Content-Length."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if b"\r" in name + value or b"\n" in name + value:
            raise httpx.LocalProtocolError("a header contains a line break")
        if name.lower() not in (b"content-length", b"transfer-encoding"):
            lines.append(b"%s: %s\r\n" % (name, value))
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    return b"".join(lines)


def response_of(status: int, head: bytes, content: bytes) -> httpx.Response:
    """The ``httpx.Response`` of an answer read whole (not read yet: ``aread`` decodes it)."""
    reason, headers = _fields(head)
    return httpx.Response(
        status,
        headers=headers,
        stream=httpx.ByteStream(content),
        extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
    )


def _fields(head: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The reason phrase and the header fields of an answer's head."""
    status_line, *lines = head.rstrip(b"\r\n").split(b"\r\n")
    reason = status_line.split(b" ", 2)[2] if status_line.count(b" ") >= 2 else b""
    fields = []
    for line in lines:
        name, _, value = line.partition(b":")
        fields.append((name.strip(), value.strip()))
    return reason, fields
