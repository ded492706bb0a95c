"""The callbacks' HTTP/1.1 client (``mjapi.net.h1.KeepAliveClient``) against raw loopback servers.

A ``RawServer`` runs a script per accepted connection and records every request it read with
the number of the connection that carried it, so a test states exactly what went over which
connection. The client dials through ``Routes``: real loopback sockets whose reader
(``WatchedReader``) lets a test wait for the peer's close or for bytes to arrive; nothing here
sleeps to let time pass, except where a time limit is what is tested (limits of 0.2 s).

Names resolve through a table, never DNS; public test addresses are dialled only by ``Routes``,
which leads them to loopback servers. ``test_dial.py`` reuses these helpers.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from mjapi.net.addresses import Address
from mjapi.net.dial import READ_LIMIT
from mjapi.net.guard import Refused, ResolutionFailed, Resolver, UrlGuard
from mjapi.net.h1 import CallFailed, KeepAliveClient

LOOPBACK = "127.0.0.1"
#: Public addresses test names resolve to (the guard lets them through); only ``Routes`` dials them.
PUBLIC_IP = "93.184.216.34"
OTHER_PUBLIC_IP = "93.184.216.35"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#: Seconds a post may take where time is not the subject.
LONG = 30.0
#: The time limit of the tests about time limits.
LIMIT = 0.2
#: Longest wait for a loopback server or socket to reach a state; reaching it fails the test.
SETTLE = 2.0


# -- a raw HTTP/1 server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as the server read it: head (no blank line), body, and its connection."""

    head: bytes
    body: bytes
    connection: int


class Peer:
    """The server's end of one accepted connection (``number`` counts from 1)."""

    def __init__(
        self,
        server: RawServer,
        number: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.number = number
        self.reader = reader
        self.writer = writer

    async def request(self) -> Request | None:
        """The next request, recorded; None once the client closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            body = await self.reader.readexactly(_content_length(head))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.server.hangups += 1
            self.server.changed()
            return None
        request = Request(head[:-4], body, self.number)
        self.server.requests.append(request)
        self.server.changed()
        return request

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def drain_requests(self) -> None:
        """Read (and record) requests without answering until the client closes."""
        while await self.request() is not None:
            pass


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


#: What a server does with one accepted connection.
Script = Callable[[Peer], Awaitable[None]]


class RawServer:
    """An HTTP/1 server made of a script per connection; records what it read and saw."""

    def __init__(self, script: Script, changes: asyncio.Event | None = None) -> None:
        self.script = script
        self.port = 0
        self.accepted = 0
        #: connections the client closed (the server read EOF where a request could start)
        self.hangups = 0
        self.requests: list[Request] = []
        self._changed = changes or asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    def url(self, path: str = "/hook") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def connections(self) -> list[int]:
        """The connection of each request, in arrival order."""
        return [request.connection for request in self.requests]

    def changed(self) -> None:
        self._changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        """Wait until ``done()`` holds (re-checked whenever the server records something)."""
        async with asyncio.timeout(SETTLE):
            while not done():
                self._changed.clear()
                await self._changed.wait()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self.changed()
        try:
            await self.script(Peer(self, self.accepted, reader, writer))
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or stop() ended a script still waiting
        finally:
            writer.close()
            self._tasks.discard(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def serve(
    script: Script, *, tls: ssl.SSLContext | None = None, changes: asyncio.Event | None = None
) -> AsyncIterator[RawServer]:
    """A ``RawServer`` listening on a free loopback port (TLS when ``tls`` is given).

    Servers given the same ``changes`` event wake each other's ``until``: a condition on
    several servers can be awaited on any one of them.
    """
    server = RawServer(script, changes)
    listener = await asyncio.start_server(server.serve, LOOPBACK, 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await server.stop()
        await listener.wait_closed()


def answering(*answers: bytes) -> Script:
    """Answer the requests of a connection with ``answers`` in turn (the last one repeats)."""

    async def script(peer: Peer) -> None:
        sent = 0
        while await peer.request() is not None:
            await peer.send(answers[min(sent, len(answers) - 1)])
            sent += 1

    return script


def answering_once_then_closing(answer: bytes) -> Script:
    async def script(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send(answer)

    return script


def holding(answer: bytes = b"") -> Script:
    """Read a request, send ``answer`` (maybe nothing, maybe part of one), then never more."""

    async def script(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send(answer)
            await peer.drain_requests()

    return script


def first_then(first: Script, rest: Script) -> Script:
    """``first`` on the first connection, ``rest`` on every later one."""

    async def script(peer: Peer) -> None:
        await (first if peer.number == 1 else rest)(peer)

    return script


class Gate:
    """Holds each answer until ``size`` requests wait for one, then lets all of them go."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._waiting: list[asyncio.Future[None]] = []

    async def wait(self) -> None:
        arrival = asyncio.get_running_loop().create_future()
        self._waiting.append(arrival)
        if len(self._waiting) == self.size:
            for waiting in self._waiting:
                waiting.set_result(None)
            self._waiting = []
        await arrival


def answering_together(gate: Gate) -> Script:
    async def script(peer: Peer) -> None:
        while await peer.request() is not None:
            await gate.wait()
            await peer.send(OK)

    return script


# -- the client's side: dial, names, TLS -------------------------------------------------------


class WatchedReader(asyncio.StreamReader):
    """A stream reader a test can wait on: until bytes, or the peer's EOF, reached it."""

    def __init__(self) -> None:
        super().__init__(limit=READ_LIMIT)
        self.received = 0
        self.eof_seen = asyncio.Event()
        self._fed = asyncio.Event()

    def feed_data(self, data: Iterable[Any]) -> None:
        super().feed_data(data)
        self.received += len(bytes(data))
        self._fed.set()

    def feed_eof(self) -> None:
        super().feed_eof()
        self.eof_seen.set()

    async def received_at_least(self, count: int) -> None:
        async with asyncio.timeout(SETTLE):
            while self.received < count:
                self._fed.clear()
                await self._fed.wait()

    async def closed_by_peer(self) -> None:
        async with asyncio.timeout(SETTLE):
            await self.eof_seen.wait()


class Routes:
    """The test's ``Dial``: records every dial; leads routed addresses to loopback ports.

    Loopback itself is dialled as it is; ``refused`` addresses and anything unrouted refuse.
    """

    def __init__(self, routes: dict[str, int] | None = None, refused: Iterable[str] = ()) -> None:
        self.routes = dict(routes or {})
        self.refused = set(refused)
        self.dialled: list[tuple[str, int]] = []
        self.readers: list[WatchedReader] = []

    async def __call__(
        self, address: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.dialled.append((address, port))
        if address in self.refused or (address not in self.routes and address != LOOPBACK):
            raise ConnectionRefusedError(f"{address} is outside this test's loopback world")
        reader = WatchedReader()
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_connection(
            lambda: asyncio.StreamReaderProtocol(reader), LOOPBACK, self.routes.get(address, port)
        )
        self.readers.append(reader)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def names(table: dict[str, list[str]]) -> Resolver:
    """A resolver answering from ``table`` (unknown names have no address)."""

    async def resolve(host: str, port: int) -> list[Address]:
        if host not in table:
            raise ResolutionFailed(host)
        return [ip_address(address) for address in table[host]]

    return resolve


@asynccontextmanager
async def keepalive(
    routes: Routes, guard: UrlGuard | None = None, **options: Any
) -> AsyncIterator[KeepAliveClient]:
    """A client over ``routes`` (private URLs allowed unless ``guard`` says otherwise)."""
    client = KeepAliveClient(guard or UrlGuard(allow_private=True), dial=routes, **options)
    try:
        yield client
    finally:
        await client.aclose()


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class Authority:
    """A certificate authority made for the test run."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this authority only."""
        pem = self.certificate.public_bytes(Encoding.PEM).decode("ascii")
        return ssl.create_default_context(cadata=pem)

    def server_context(self, host: str, sni: list[str]) -> ssl.SSLContext:
        """A server context with a certificate for ``host``; records each SNI name in ``sni``."""
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            _validity(x509.CertificateBuilder())
            .subject_name(_name(host))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
            cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert_file.write_bytes(certificate.public_bytes(Encoding.PEM))
            key_file.write_bytes(
                key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            )
            context.load_cert_chain(cert_file, key_file)

        def record(connection: ssl.SSLObject, name: str, context: ssl.SSLContext) -> None:
            sni.append(name)

        context.sni_callback = record
        return context


@functools.cache
def authority(common_name: str) -> Authority:
    """The test run's CA of that name (made once; EC keys, so making one is quick)."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, certificate)


def elapsed_since(start: float) -> float:
    return asyncio.get_running_loop().time() - start


def bounded() -> asyncio.Timeout:
    """SETTLE seconds at most: a client that ignored its limit fails the test, not hangs it."""
    return asyncio.timeout(SETTLE)


# -- keep-alive and the request on the wire ----------------------------------------------------


async def test_posts_to_one_url_share_one_connection_and_carry_the_exact_request() -> None:
    routes = Routes()
    headers = {"content-type": "application/json", "X-Signature": "t=1,v1=abc"}
    async with serve(answering(OK)) as server, keepalive(routes) as client:
        url = server.url("/hook/a b?event=1&x=ä")
        statuses = [await client.post(url, b'{"n":%d}' % n, headers, LONG) for n in range(3)]
    assert statuses == [200, 200, 200]
    assert client.opened == 1 and server.accepted == 1
    head = (
        "POST /hook/a%20b?event=1&x=%C3%A4 HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "content-type: application/json\r\n"
        "X-Signature: t=1,v1=abc\r\n"
        "Content-Length: 7"
    ).encode("ascii")
    assert server.requests == [Request(head, b'{"n":%d}' % n, 1) for n in range(3)]


@pytest.mark.parametrize(
    ("url", "resolved", "port", "host"),
    [
        ("http://hooks.example/hook", "hooks.example", 80, b"hooks.example"),
        ("http://hooks.example:8080/hook", "hooks.example", 8080, b"hooks.example:8080"),
        ("http://bücher.example/hook", "xn--bcher-kva.example", 80, b"xn--bcher-kva.example"),
    ],
)
async def test_a_public_name_is_dialled_by_its_address_and_named_in_the_host_header(
    url: str, resolved: str, port: int, host: bytes
) -> None:
    async with serve(answering(OK)) as server:
        routes = Routes({PUBLIC_IP: server.port})
        guard = UrlGuard(resolver=names({resolved: [PUBLIC_IP]}))
        async with keepalive(routes, guard) as client:
            assert await client.post(url, b"{}", {}, LONG) == 200
    assert routes.dialled == [(PUBLIC_IP, port)]
    assert server.requests[0].head == b"POST /hook HTTP/1.1\r\nHost: %s\r\nContent-Length: 2" % host


@pytest.mark.parametrize(
    ("url", "authorization"),
    [
        ("http://user:secret@127.0.0.1:{port}/hook", b"dXNlcjpzZWNyZXQ="),  # user:secret
        ("http://us%3Aer:p%40ss@127.0.0.1:{port}/hook", b"dXM6ZXI6cEBzcw=="),  # us:er:p@ss
        ("http://token@127.0.0.1:{port}/hook", b"dG9rZW46"),  # token:
    ],
)
async def test_user_info_in_the_url_becomes_basic_authorization(
    url: str, authorization: bytes
) -> None:
    async with serve(answering(OK)) as server, keepalive(Routes()) as client:
        assert await client.post(url.format(port=server.port), b"{}", {}, LONG) == 200
    assert server.requests[0].head == (
        b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Basic %s\r\n"
        b"Content-Length: 2" % (server.port, authorization)
    )


# -- answers: which ones keep their connection -------------------------------------------------

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"
)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (OK, 200),
        (CHUNKED, 200),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200),
        (
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
            201,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204),
        # A 304 may name the length of a body it does not have.
        (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", 304),
        (b"HTTP/1.1 202\r\nContent-Length: 0\r\n\r\n", 202),
        (b"HTTP/1.1 500 Oops\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", 500),
    ],
    ids=["length", "chunked", "chunked-plain", "gzip-chunked", "204", "304", "no-reason", "500"],
)
async def test_a_complete_answer_keeps_its_connection(answer: bytes, status: int) -> None:
    async with serve(answering(answer)) as server, keepalive(Routes()) as client:
        statuses = [await client.post(server.url(), b"{}", {}, 1.0) for _ in range(3)]
    assert statuses == [status] * 3
    assert client.opened == 1 and server.connections() == [1, 1, 1]


@pytest.mark.parametrize(
    ("answer", "status", "server_closes"),
    [
        (b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 201, False),
        (b"HTTP/1.1 201 Created\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", 201, False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, False),
        (b"HTTP/1.1 200 OK\r\n\r\nthe body ends when the connection does", 200, True),
        (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: gzip\r\n\r\nzipped", 202, True),
    ],
    ids=["connection-close", "connection-Close", "http-1.0", "until-close", "not-chunked"],
)
async def test_an_answer_that_ends_its_connection_leaves_the_next_post_a_new_one(
    answer: bytes, status: int, server_closes: bool
) -> None:
    # A server that keeps the connection open would answer on it: reuse would show.
    script = answering_once_then_closing(answer) if server_closes else answering(answer)
    async with serve(script) as server, keepalive(Routes()) as client:
        statuses = [await client.post(server.url(), b"{}", {}, LONG) for _ in range(2)]
        if not server_closes:
            await server.until(lambda: server.hangups >= 1)
    assert statuses == [status, status]
    assert client.opened == 2 and server.connections() == [1, 2]


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + b"a" * 16, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + b"a" * 17, False),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n%s\r\n0\r\n\r\n"
            % (b"a" * 16),
            True,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"10\r\n%s\r\n1\r\nb\r\n0\r\n\r\n" % (b"a" * 16),
            False,
        ),
    ],
    ids=["length-at-limit", "length-over-limit", "chunked-at-limit", "chunked-over-limit"],
)
async def test_a_body_longer_than_the_answer_limit_costs_its_connection_not_the_status(
    answer: bytes, kept: bool
) -> None:
    async with serve(answering(answer)) as server, keepalive(Routes(), answer_limit=16) as client:
        statuses = [await client.post(server.url(), b"{}", {}, LONG) for _ in range(2)]
        if not kept:
            await server.until(lambda: server.hangups >= 1)
    assert statuses == [200, 200]
    assert client.opened == (1 if kept else 2)
    assert server.connections() == ([1, 1] if kept else [1, 2])


async def test_a_body_until_close_is_read_no_further_than_the_answer_limit() -> None:
    # The server never closes: only the answer limit can end the read before LONG.
    answer = b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 4096
    async with serve(holding(answer)) as server, keepalive(Routes(), answer_limit=16) as client:
        async with bounded():
            assert await client.post(server.url(), b"{}", {}, LONG) == 200
        await server.until(lambda: server.hangups == 1)


@pytest.mark.parametrize("where", ["extension", "trailer"])
async def test_a_chunk_line_longer_than_the_read_limit_costs_only_the_connection(
    where: str,
) -> None:
    long_line = b"a" * (READ_LIMIT + 10)
    body = (
        b"1;x=%s\r\nx\r\n0\r\n\r\n" % long_line
        if where == "extension"
        else b"1\r\nx\r\n0\r\nX-Trailer: %s\r\n\r\n" % long_line
    )
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    async with serve(holding(answer)) as server, keepalive(Routes()) as client:
        assert await client.post(server.url(), b"{}", {}, LONG) == 200
        await server.until(lambda: server.hangups == 1)


async def test_interim_answers_before_the_final_one_are_skipped() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    )
    async with serve(answering(answer)) as server, keepalive(Routes()) as client:
        statuses = [await client.post(server.url(), b"{}", {}, LONG) for _ in range(2)]
    assert statuses == [201, 201]
    assert client.opened == 1


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "switched protocols"),
        (b"HELLO THERE\r\n\r\n", "not an HTTP/1 answer"),
        (b"HTTP/2 200\r\n\r\n", "not an HTTP/1 answer"),
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP/1 answer"),
        (b"HTTP/1.1 100 Continue\r\n\r\nSSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1 answer"),
        (
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (READ_LIMIT + 10) + b"\r\n\r\n",
            f"head is longer than {READ_LIMIT} bytes",
        ),
    ],
    ids=["101", "garbage", "http-2", "four-digits", "garbage-after-100", "huge-head"],
)
async def test_an_answer_that_is_no_http_1_answer_fails_and_closes(
    answer: bytes, message: str
) -> None:
    async with serve(holding(answer)) as server, keepalive(Routes()) as client:
        with pytest.raises(CallFailed, match=message):
            await client.post(server.url(), b"{}", {}, LONG)
        await server.until(lambda: server.hangups == 1)
    assert len(server.requests) == 1


# -- connections that end: kept ones are replaced, fresh ones fail -----------------------------


async def answer_then_stop_sending(peer: Peer) -> None:
    """Answer one request, then close the sending side (the server still reads)."""
    await peer.request()
    await peer.send(OK)
    peer.writer.write_eof()  # still reading: a request sent on this connection would show
    await peer.drain_requests()


async def test_a_kept_connection_the_receiver_closed_while_idle_is_not_used_again() -> None:
    routes = Routes()
    async with (
        serve(first_then(answer_then_stop_sending, answering(OK))) as server,
        keepalive(routes) as client,
    ):
        assert await client.post(server.url(), b"first", {}, LONG) == 200
        await routes.readers[0].closed_by_peer()
        assert await client.post(server.url(), b"second", {}, LONG) == 200
    assert client.opened == 2
    assert [(r.body, r.connection) for r in server.requests] == [(b"first", 1), (b"second", 2)]


async def test_a_kept_connection_closed_just_before_reuse_is_replaced() -> None:
    # No waiting: the close is noticed when the connection is taken, or else on the write or
    # read of the request; either way the request reaches the receiver once, on a new connection.
    async with serve(answering_once_then_closing(OK)) as server, keepalive(Routes()) as client:
        statuses = [await client.post(server.url(), b"%d" % n, {}, LONG) for n in range(3)]
    assert statuses == [200, 200, 200]
    assert client.opened == 3
    assert [(r.body, r.connection) for r in server.requests] == [(b"0", 1), (b"1", 2), (b"2", 3)]


async def test_a_reused_connection_closed_after_reading_the_request_is_retried_once() -> None:
    async def answer_once_then_close_unanswered(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()  # the receiver's race: it had decided to close, then the request came

    async with (
        serve(first_then(answer_once_then_close_unanswered, answering(OK))) as server,
        keepalive(Routes()) as client,
    ):
        statuses = [await client.post(server.url(), b"%d" % n, {}, LONG) for n in range(2)]
    assert statuses == [200, 200]
    assert client.opened == 2
    assert [(r.body, r.connection) for r in server.requests] == [(b"0", 1), (b"1", 1), (b"1", 2)]


async def test_a_fresh_connection_closed_without_an_answer_fails_without_a_retry() -> None:
    async with serve(answering_once_then_closing(b"")) as server, keepalive(Routes()) as client:
        with pytest.raises(CallFailed, match="closed before an answer came"):
            await client.post(server.url(), b"{}", {}, LONG)
    assert client.opened == 1 and server.accepted == 1 and len(server.requests) == 1


async def test_a_reused_connection_closed_in_the_middle_of_an_answer_is_not_retried() -> None:
    async def answer_then_break_off(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-")

    async with serve(answer_then_break_off) as server, keepalive(Routes()) as client:
        assert await client.post(server.url(), b"0", {}, LONG) == 200
        with pytest.raises(CallFailed, match="closed in the middle of the answer"):
            await client.post(server.url(), b"1", {}, LONG)
    assert client.opened == 1 and server.connections() == [1, 1]


# -- time limits -------------------------------------------------------------------------------


async def test_no_status_within_the_limit_is_a_timeout_and_costs_the_connection() -> None:
    async with serve(holding()) as server, keepalive(Routes()) as client:
        start = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            async with bounded():
                await client.post(server.url(), b"{}", {}, LIMIT)
        took = elapsed_since(start)
        await server.until(lambda: server.hangups == 1)
    assert LIMIT * 0.9 <= took < LIMIT + 0.5


async def test_a_resolver_that_hangs_is_a_timeout() -> None:
    async def hanging(host: str, port: int) -> list[Address]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    routes = Routes()
    async with keepalive(routes, UrlGuard(resolver=hanging)) as client:
        start = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            async with bounded():
                await client.post("http://hooks.example/hook", b"{}", {}, LIMIT)
        took = elapsed_since(start)
    assert LIMIT * 0.9 <= took < LIMIT + 0.5
    assert routes.dialled == []


async def test_a_body_that_stalls_gives_the_status_at_the_limit_and_costs_the_connection() -> None:
    stalled = holding(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    async with serve(first_then(stalled, answering(OK))) as server, keepalive(Routes()) as client:
        start = asyncio.get_running_loop().time()
        async with bounded():
            assert await client.post(server.url(), b"{}", {}, LIMIT) == 200
        took = elapsed_since(start)
        await server.until(lambda: server.hangups == 1)
        assert await client.post(server.url(), b"{}", {}, LONG) == 200
    assert LIMIT * 0.9 <= took < LIMIT + 0.5
    assert client.opened == 2 and server.connections() == [1, 2]


# -- idle connections: expiry and caps ---------------------------------------------------------


async def test_a_connection_idle_for_idle_expiry_is_closed_instead_of_used() -> None:
    clock = [0.0]
    options: dict[str, Any] = {"idle_expiry": 5.0, "monotonic": lambda: clock[0]}
    async with serve(answering(OK)) as server, keepalive(Routes(), **options) as client:
        await client.post(server.url(), b"{}", {}, LONG)
        clock[0] = 4.9  # idle for just under the expiry: used again
        await client.post(server.url(), b"{}", {}, LONG)
        assert client.opened == 1
        clock[0] = 4.9 + 5.0  # idle for the expiry exactly: closed, a new one opened
        await client.post(server.url(), b"{}", {}, LONG)
        await server.until(lambda: server.hangups == 1)
    assert client.opened == 2 and server.connections() == [1, 1, 2]


async def test_expired_connections_to_other_receivers_are_closed_too() -> None:
    clock = [0.0]
    options: dict[str, Any] = {"idle_expiry": 5.0, "monotonic": lambda: clock[0]}
    async with (
        serve(answering(OK)) as left,
        serve(answering(OK)) as right,
        keepalive(Routes(), **options) as client,
    ):
        await client.post(left.url(), b"{}", {}, LONG)
        clock[0] = 6.0
        await client.post(right.url(), b"{}", {}, LONG)  # nothing is posted to left again
        await left.until(lambda: left.hangups == 1)
        assert right.hangups == 0


async def test_at_most_max_idle_connections_are_kept_per_receiver() -> None:
    async def four_at_once(client: KeepAliveClient, url: str) -> None:
        posts = (client.post(url, b"{}", {}, LONG) for _ in range(4))
        assert await asyncio.gather(*posts) == [200] * 4

    async with (
        serve(answering_together(Gate(4))) as server,
        keepalive(Routes(), max_idle=2) as client,
    ):
        await four_at_once(client, server.url())
        assert client.opened == 4
        await server.until(lambda: server.hangups == 2)  # the two beyond max_idle
        await four_at_once(client, server.url())
        assert client.opened == 6  # two kept ones used, two new


async def test_at_most_max_idle_total_connections_are_kept_in_all() -> None:
    changes = asyncio.Event()
    async with (
        serve(answering_together(Gate(2)), changes=changes) as left,
        serve(answering_together(Gate(2)), changes=changes) as right,
        keepalive(Routes(), max_idle=8, max_idle_total=3) as client,
    ):
        urls = [left.url(), left.url(), right.url(), right.url()]
        for opened in (4, 5):  # the second round finds three kept connections
            posts = (client.post(url, b"{}", {}, LONG) for url in urls)
            assert await asyncio.gather(*posts) == [200] * 4
            assert client.opened == opened
        await left.until(lambda: left.hangups + right.hangups == 2)  # one beyond the cap a round


# -- the URL guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://ten.example/hook", "it resolves to a private address (10.0.0.5)"),
        ("http://loopback.example/hook", "it resolves to a loopback address (127.0.0.1)"),
        ("http://mixed.example/hook", "it resolves to a private address (10.0.0.5)"),
        ("http://127.0.0.1:9/hook", "it is a loopback address (127.0.0.1)"),
        ("http://[::1]:9/hook", "it is a loopback address (::1)"),
        ("ftp://hooks.example/hook", "its scheme is ftp, only http and https are"),
        ("file:///etc/passwd", "its scheme is file, only http and https are"),
        ("hooks.example/hook", "its scheme is missing, only http and https are"),
    ],
)
async def test_a_url_the_guard_refuses_is_never_dialled(url: str, why: str) -> None:
    resolver = names(
        {
            "ten.example": ["10.0.0.5"],
            "loopback.example": [LOOPBACK],
            "mixed.example": [PUBLIC_IP, "10.0.0.5"],
            "hooks.example": [PUBLIC_IP],
        }
    )
    routes = Routes()
    async with keepalive(routes, UrlGuard(resolver=resolver)) as client:
        with pytest.raises(Refused) as refused:
            await client.post(url, b"{}", {}, LONG)
    assert refused.value.why == why
    assert routes.dialled == [] and client.opened == 0


async def test_the_next_public_address_is_tried_when_one_refuses() -> None:
    async with serve(answering(OK)) as server:
        routes = Routes({OTHER_PUBLIC_IP: server.port}, refused=[PUBLIC_IP])
        guard = UrlGuard(resolver=names({"hooks.example": [PUBLIC_IP, OTHER_PUBLIC_IP]}))
        async with keepalive(routes, guard) as client:
            assert await client.post("http://hooks.example/hook", b"{}", {}, LONG) == 200
    assert routes.dialled == [(PUBLIC_IP, 80), (OTHER_PUBLIC_IP, 80)]
    assert client.opened == 1


async def test_no_address_that_accepts_fails() -> None:
    routes = Routes(refused=[PUBLIC_IP, OTHER_PUBLIC_IP])
    guard = UrlGuard(resolver=names({"hooks.example": [PUBLIC_IP, OTHER_PUBLIC_IP]}))
    async with keepalive(routes, guard) as client:
        with pytest.raises(CallFailed, match=re.escape("could not connect to hooks.example:80")):
            await client.post("http://hooks.example/hook", b"{}", {}, LONG)
    assert len(routes.dialled) == 2 and client.opened == 0


@pytest.mark.parametrize("table", [{"hooks.example": []}, {}], ids=["empty", "unknown"])
async def test_a_name_without_an_address_fails(table: dict[str, list[str]]) -> None:
    routes = Routes()
    async with keepalive(routes, UrlGuard(resolver=names(table))) as client:
        with pytest.raises(CallFailed, match=re.escape("hooks.example has no address")):
            await client.post("http://hooks.example/hook", b"{}", {}, LONG)
    assert routes.dialled == []


# -- TLS ---------------------------------------------------------------------------------------


@asynccontextmanager
async def tls_receiver(
    certified: str, sni: list[str], issuer: str = "Test CA"
) -> AsyncIterator[tuple[RawServer, Routes]]:
    """A TLS server with a certificate for ``certified``, where ``PUBLIC_IP`` is routed."""
    context = authority(issuer).server_context(certified, sni)
    async with serve(answering(OK), tls=context) as server:
        yield server, Routes({PUBLIC_IP: server.port})


TLS_NAMES = UrlGuard(
    resolver=names({"hooks.example": [PUBLIC_IP], "xn--bcher-kva.example": [PUBLIC_IP]})
)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://hooks.example/hook", "hooks.example"),
        ("https://bücher.example/hook", "xn--bcher-kva.example"),
    ],
)
async def test_https_goes_over_tls_for_the_urls_name_and_keeps_its_connection(
    url: str, name: str
) -> None:
    sni: list[str] = []
    async with tls_receiver(name, sni) as (server, routes):
        tls = authority("Test CA").client_context()
        async with keepalive(routes, TLS_NAMES, tls=tls) as client:
            statuses = [await client.post(url, b"{}", {}, LONG) for _ in range(3)]
    assert statuses == [200] * 3
    assert sni == [name]
    assert routes.dialled == [(PUBLIC_IP, 443)]
    assert client.opened == 1 and server.connections() == [1, 1, 1]
    host = b"POST /hook HTTP/1.1\r\nHost: %s\r\n" % name.encode("ascii")
    assert server.requests[0].head.startswith(host)


@pytest.mark.parametrize(
    ("certified", "issuer"),
    [("other.example", "Test CA"), ("hooks.example", "Untrusted CA")],
    ids=["wrong-name", "untrusted-issuer"],
)
async def test_a_certificate_that_does_not_prove_the_name_fails(
    certified: str, issuer: str
) -> None:
    sni: list[str] = []
    async with tls_receiver(certified, sni, issuer) as (server, routes):
        tls = authority("Test CA").client_context()
        async with keepalive(routes, TLS_NAMES, tls=tls) as client:
            with pytest.raises(CallFailed, match=re.escape("TLS with hooks.example failed")):
                await client.post("https://hooks.example/hook", b"{}", {}, LONG)
    assert sni == ["hooks.example"]
    assert server.requests == []


# -- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Event": "a\nX-Injected: 1"},
        {"X-Event": "a\rX-Injected: 1"},
        {"X-Event": "a\r\nX-Injected: 1"},
        {"X-Event": "a\r\n"},
        {"X-Event\r\nX-Injected": "1"},
    ],
    ids=["lf", "cr", "crlf", "crlf-at-end", "crlf-in-name"],
)
async def test_a_header_with_a_line_break_fails_before_anything_is_sent(
    headers: dict[str, str],
) -> None:
    async with serve(answering(OK)) as server, keepalive(Routes()) as client:
        with pytest.raises(CallFailed, match="line break"):
            await client.post(server.url(), b"{}", headers, LONG)
    assert client.opened == 0 and server.accepted == 0


# -- fixed bugs ---------------------------------------------------------------------------------


async def test_bytes_sent_after_a_complete_answer_are_not_taken_for_the_next_answer() -> None:
    unasked = b"HTTP/1.1 500 Unasked\r\nContent-Length: 0\r\n\r\n"
    release = asyncio.Event()

    async def answer_then_babble(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await release.wait()
        await peer.send(unasked)
        await peer.drain_requests()

    routes = Routes()
    async with (
        serve(first_then(answer_then_babble, answering(OK))) as server,
        keepalive(routes) as client,
    ):
        assert await client.post(server.url(), b"0", {}, LONG) == 200
        release.set()
        await routes.readers[0].received_at_least(len(OK) + len(unasked))
        status = await client.post(server.url(), b"1", {}, LONG)
    assert status == 200
    assert client.opened == 2


@pytest.mark.parametrize(
    "lengths", [b"Content-Length: 2\r\nContent-Length: 3", b"Content-Length: two"]
)
async def test_an_unframed_answer_gives_its_status_without_waiting_for_the_body(
    lengths: bytes,
) -> None:
    answer = b"HTTP/1.1 200 OK\r\n%s\r\n\r\nok" % lengths
    async with serve(holding(answer)) as server, keepalive(Routes()) as client:
        async with asyncio.timeout(0.5):  # far beyond a loopback exchange, far below LONG
            assert await client.post(server.url(), b"{}", {}, LONG) == 200
        await server.until(lambda: server.hangups == 1)


@pytest.mark.parametrize("size", [b"0x2", b"+2", b"0_2", b""])
async def test_a_chunk_size_that_is_not_plain_hex_costs_only_the_connection(size: bytes) -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\nok\r\n0\r\n\r\n" % size
    async with serve(answering(answer)) as server, keepalive(Routes()) as client:
        statuses = [await client.post(server.url(), b"{}", {}, LONG) for _ in range(2)]
        await server.until(lambda: server.hangups >= 1)
    assert statuses == [200, 200]
    assert client.opened == 2


async def test_a_header_that_is_not_latin_1_fails_before_anything_is_sent() -> None:
    async with serve(answering(OK)) as server, keepalive(Routes()) as client:
        with pytest.raises(CallFailed, match="Latin-1"):
            await client.post(server.url(), b"{}", {"X-Price": "5 €"}, LONG)
    assert client.opened == 0 and server.accepted == 0
