"""The callbacks' HTTP/1.1 client: POST a body over kept-alive connections, keep the status.

Why not httpx: at 1,000 concurrent jobs (a callback per job per second) httpx, httpcore and
anyio spent about 700 us of CPU per callback (request and header models, the pool's
bookkeeping, a cancel scope per read), two thirds of the server's CPU. A callback needs one
thing from HTTP: send a small POST and learn the status. This client does that in a few tens
of microseconds:

- **Connections** are opened by the URL guard's rules: the host is resolved and every address
  checked (``UrlGuard.addresses``), then a checked address is dialled (``dial.Dial``), never the
  name; TLS starts on that connection with the URL's host name (SNI and certificate checks of
  the name). So the guard holds for each new connection and DNS rebinding has no window.
- **Keep-alive**: after a complete answer the connection is kept (most recently used first, at
  most ``max_idle`` per origin and ``max_idle_total`` in all, each for ``idle_expiry`` s). A kept
  connection the receiver closed in the meantime is noticed before use; if it is closed before
  any byte of an answer came (or reset before the answer's head was in), the request is sent
  once more on a new connection (the race every
  keep-alive client has; receivers see the same event id twice at worst, as with any retry).
- **Answers**: the status line decides. The body is read and dropped, at most ``answer_limit``
  bytes (Content-Length, chunked, or until close); a longer, slower or broken body only costs
  its connection. Interim 1xx answers are skipped.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import httpx

from mjapi.net.dial import READ_LIMIT, Dial, is_reusable, open_tcp, start_tls
from mjapi.net.guard import Refused, ResolutionFailed, UrlGuard, target_of

#: Most bytes of an answer's body read to keep its connection; beyond it the connection closes.
ANSWER_LIMIT = 64 * 1024
#: Receiver URLs kept parsed (a handful in practice; the bound only caps memory).
PARSED_URLS = 1024
_NO_BODY = frozenset({204, 304})
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


class CallFailed(Exception):
    """No status came: the connection or the receiver's answer failed (the text says how)."""


class ConnectFailed(CallFailed):
    """No connection could be opened (nothing was sent)."""


@dataclass(frozen=True)
class Origin:
    """Where a URL's requests go, and the first line and Host header they carry."""

    scheme: str
    host: str
    port: int
    head: bytes  # "POST <target> HTTP/1.1\r\nHost: <host>\r\n"


@functools.lru_cache(maxsize=PARSED_URLS)
def _origin(url: str) -> Origin:
    """``url`` parsed once, the way httpx would (IDNA host, percent-encoded target)."""
    target = target_of(url)  # Refused for anything but a valid http(s) URL with a host
    parsed = httpx.URL(url)
    path = parsed.raw_path.decode("ascii")
    host = parsed.netloc.decode("ascii").rpartition("@")[2]
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")
    if parsed.userinfo:  # https://user:secret@receiver/ authenticates as httpx would: Basic
        user, _, password = (unquote_to_bytes(part) for part in parsed.userinfo.partition(b":"))
        head += b"Authorization: Basic " + base64.b64encode(user + b":" + password) + b"\r\n"
    return Origin(target.scheme, target.host, target.port, head)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class Framing:
    """How the answer's body ends, and whether the connection may serve another request."""

    length: int | None  # bytes of body; None: chunked or until close (see ``chunked``)
    chunked: bool
    keep: bool


class KeepAliveClient:
    """POSTs to client-named URLs through the URL guard, over reused connections.

    ``guard`` None connects to the host name itself (``H1Transport``: the operator's own
    Discord URL).
    """

    def __init__(
        self,
        guard: UrlGuard | None,
        *,
        dial: Dial = open_tcp,
        tls: ssl.SSLContext | None = None,
        max_idle: int = 64,
        max_idle_total: int = 256,
        idle_expiry: float = 5.0,
        answer_limit: int = ANSWER_LIMIT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._guard = guard
        self._dial = dial
        self._tls = tls
        self._max_idle = max_idle
        self._max_idle_total = max_idle_total
        self._idle_expiry = idle_expiry
        self._answer_limit = answer_limit
        self._monotonic = monotonic
        #: (scheme, host, port) -> idle connections, most recently used last
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._idle_count = 0
        self._swept = monotonic()
        #: connections opened so far (a gauge for tests and benchmarks)
        self.opened = 0

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], limit: float) -> int:
        """POST ``body`` to ``url`` and return the answer's status.

        ``limit`` (seconds) bounds everything, connecting and reading the answer's body
        included; once the status is in, running out of time (or a broken body) only costs the
        connection.
        Raises ``Refused`` (the guard's verdict), ``TimeoutError`` (no status in time) or
        ``CallFailed`` (no status at all).
        """
        origin = _origin(url)
        request = _request(origin, body, headers)
        deadline = asyncio.get_running_loop().time() + limit
        connection: Connection | None = None
        status: int | None = None
        keep = False
        try:
            # One scope for the whole exchange (a timer per scope is a measurable cost per
            # callback); the body's part of it only decides whether the connection is kept.
            async with asyncio.timeout_at(deadline):
                connection, status, framing, _ = await self._send(origin, request)
                keep = await self._skip_body_or_drop(connection.reader, framing)
        except TimeoutError:
            if status is None:
                raise
        finally:
            if connection is not None:
                if keep:
                    self.keep(origin, connection)
                else:
                    connection.close()
        return status

    async def _skip_body_or_drop(self, reader: asyncio.StreamReader, framing: Framing) -> bool:
        """Read past the answer's body: True if the connection can carry the next request."""
        try:
            return await self._skip_body(reader, framing)
        except (
            CallFailed,
            OSError,
            ValueError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            return False

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        self._idle_count = 0

    # -- one exchange -------------------------------------------------------------------------

    async def _send(self, origin: Origin, request: bytes) -> tuple[Connection, int, Framing, bytes]:
        """Send on a kept connection if there is one (once more on a new one if it had died)."""
        connection = self.reuse(origin)
        if connection is not None:
            try:
                return connection, *await self.exchange(connection, request)
            except StaleConnection:
                connection.close()  # the receiver closed it meanwhile: once more, on a new one
            except BaseException:
                connection.close()
                raise
        connection = await self.connect(origin)
        try:
            return connection, *await self.exchange(connection, request)
        except StaleConnection as exc:
            connection.close()
            raise CallFailed("the connection closed before an answer came") from exc
        except BaseException:
            connection.close()
            raise

    async def exchange(self, connection: Connection, request: bytes) -> tuple[int, Framing, bytes]:
        """Send ``request``; the answer's status, framing and head (interim answers skipped)."""
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            head = await connection.reader.readuntil(b"\r\n\r\n")
            while _interim(head):
                head = await connection.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise CallFailed("the connection closed in the middle of the answer") from exc
            raise StaleConnection from exc
        except asyncio.LimitOverrunError as exc:
            raise CallFailed(f"the answer's head is longer than {READ_LIMIT} bytes") from exc
        except ConnectionError as exc:
            raise StaleConnection from exc
        except OSError as exc:
            raise CallFailed(f"connection failed: {exc}") from exc
        return (*_parse_head(head), head)

    async def _skip_body(self, reader: asyncio.StreamReader, framing: Framing) -> bool:
        """Read the body to its end and drop it; whether the connection can be used again."""
        if framing.length is not None and framing.length > self._answer_limit:
            return False  # not worth reading
        left = self._answer_limit
        async for part in body_chunks(reader, framing):
            left -= len(part)
            if left < 0:
                return False
        return framing.keep

    # -- connections --------------------------------------------------------------------------

    # The pool's parts, public for ``h1_transport.H1Transport``, which runs its own exchanges.

    def reuse(self, origin: Origin) -> Connection | None:
        """A kept connection to ``origin`` that is still fresh and usable, if there is one."""
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        now = self._monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            fresh = now - connection.idle_since < self._idle_expiry
            if fresh and is_reusable(connection.reader, connection.writer):
                return connection
            connection.close()
        return None

    def keep(self, origin: Origin, connection: Connection) -> None:
        """Keep ``connection`` (its answer fully read) for the origin's next request."""
        now = self._monotonic()
        if now - self._swept >= self._idle_expiry:
            self._sweep(now)
        key = (origin.scheme, origin.host, origin.port)
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self._max_idle or self._idle_count >= self._max_idle_total:
            connection.close()
            return
        connection.idle_since = now
        idle.append(connection)
        self._idle_count += 1

    def _sweep(self, now: float) -> None:
        """Close connections idle for too long, on every origin (receivers come and go)."""
        self._swept = now
        for key, idle in list(self._idle.items()):
            fresh = [c for c in idle if now - c.idle_since < self._idle_expiry]
            for connection in idle:
                if connection not in fresh:
                    connection.close()
            self._idle_count -= len(idle) - len(fresh)
            if fresh:
                self._idle[key] = fresh
            else:
                del self._idle[key]

    async def connect(self, origin: Origin) -> Connection:
        """A new connection to a checked address of the origin's host, TLS started if https."""
        if self._guard is None:
            addresses: list[str] = [origin.host]  # the dial resolves the name itself
        else:
            try:
                checked = await self._guard.addresses(origin.host, origin.port)
            except ResolutionFailed as exc:
                raise ConnectFailed(f"{origin.host} has no address") from exc
            addresses = [str(address) for address in checked]
        failure: OSError | None = None
        for address in addresses:
            try:
                reader, writer = await self._dial(address, origin.port)
            except OSError as exc:
                failure = exc  # the next address may answer, as a browser would try it
                continue
            self.opened += 1
            if origin.scheme == "https":
                await self._start_tls(writer, origin.host)
            return Connection(reader, writer)
        raise ConnectFailed(f"could not connect to {origin.host}:{origin.port}: {failure}")

    async def _start_tls(self, writer: asyncio.StreamWriter, host: str) -> None:
        if self._tls is None:
            self._tls = httpx.create_ssl_context()  # certifi's roots, as downloads use
        try:
            await start_tls(writer, self._tls, host, None)
        except (ssl.SSLError, OSError) as exc:
            writer.close()
            raise ConnectFailed(f"TLS with {host} failed: {exc}") from exc
        except BaseException:
            writer.close()
            raise


async def body_chunks(reader: asyncio.StreamReader, framing: Framing) -> AsyncIterator[bytes]:
    """The answer's body as it arrives, in parts of at most ``READ_LIMIT`` bytes.

    Raises ValueError (a malformed chunk size), ``asyncio.IncompleteReadError`` (the body ended
    early) or ``asyncio.LimitOverrunError`` (a chunk line longer than ``READ_LIMIT``).
    """
    if framing.chunked:
        while size := _chunk_size(await reader.readuntil(b"\r\n")):
            async for part in _exactly(reader, size):
                yield part
            if await reader.readexactly(2) != b"\r\n":
                raise ValueError("a chunk does not end with CRLF")
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass  # trailer fields, dropped
    elif framing.length is None:  # ends when the peer closes
        while part := await reader.read(READ_LIMIT):
            yield part
    else:
        async for part in _exactly(reader, framing.length):
            yield part


async def _exactly(reader: asyncio.StreamReader, size: int) -> AsyncIterator[bytes]:
    while size > 0:
        part = await reader.readexactly(min(size, READ_LIMIT))
        size -= len(part)
        yield part


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(text):
        raise ValueError(f"malformed chunk size {text[:20]!r}")  # int() would take "0x10", "+5"
    return int(text, 16)


class StaleConnection(Exception):
    """The connection ended before any byte of an answer (a kept one may be retried)."""


def _request(origin: Origin, body: bytes, headers: Mapping[str, str]) -> bytes:
    if any("\r" in part or "\n" in part for field in headers.items() for part in field):
        raise CallFailed("a header contains a line break")  # our own headers never do
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    try:
        encoded = lines.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise CallFailed("a header is not Latin-1 text") from exc
    return b"".join((origin.head, encoded, b"Content-Length: %d\r\n\r\n" % len(body), body))


def _status(head: bytes) -> tuple[bytes, int]:
    version, _, rest = head.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or not code.isdigit() or rest[3:4] not in (b" ", b"\r"):
        raise CallFailed(f"not an HTTP/1 answer: {head[:40]!r}")
    return version, int(code)


def _interim(head: bytes) -> bool:
    """A 1xx answer other than 101, which a final answer follows."""
    status = _status(head)[1]
    if status == 101:
        raise CallFailed("the receiver switched protocols")
    return 100 <= status < 200


def _parse_head(head: bytes) -> tuple[int, Framing]:
    version, status = _status(head)
    length: int | None = None
    encoding: bytes | None = None  # Transfer-Encoding's last coding, when there is one
    keep = version == b"HTTP/1.1"
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit() or (length is not None and int(value) != length):
                return status, Framing(0, False, False)  # unframed: read nothing more
            length = int(value)
        elif name == b"transfer-encoding":
            encoding = value.rpartition(b",")[2].strip().lower()
        elif name == b"connection" and b"close" in value.lower():
            keep = False
    if status in _NO_BODY:
        return status, Framing(0, False, keep)
    if encoding is not None:  # it overrides any Content-Length (RFC 9112, 6.3)
        chunked = encoding == b"chunked"
        return status, Framing(None, chunked, keep and chunked)
    if length is None:
        return status, Framing(None, False, False)
    return status, Framing(length, False, keep)


__all__ = [
    "ANSWER_LIMIT",
    "CallFailed",
    "ConnectFailed",
    "Connection",
    "Framing",
    "KeepAliveClient",
    "Origin",
    "Refused",
    "StaleConnection",
    "body_chunks",
]
