"""``H1Transport`` under a real ``httpx.AsyncClient``, against raw loopback servers.

Discord REST calls go through httpx with this transport underneath, so these tests hold it to
what ``DiscordRest`` and the rate limiter rely on: requests on the wire exactly as httpx built
them (bodies whole, with a Content-Length), answers as httpx would give them, keep-alive, and
httpx's error classes with the split the rate limiter retries on (``ConnectError`` and
``ConnectTimeout`` only when nothing was sent). The servers, the recording dial (``Routes``) and
the test CA come from ``test_h1_client``; nothing sleeps except where a time limit is tested.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from mjapi.net.dial import Dial, open_tcp
from mjapi.net.h1_transport import MAX_BODY, H1Transport
from tests.integration.test_h1_client import (
    LIMIT,
    LOOPBACK,
    OK,
    SETTLE,
    Peer,
    Request,
    Routes,
    answer_then_stop_sending,
    answering,
    answering_once_then_closing,
    authority,
    bounded,
    elapsed_since,
    first_then,
    holding,
    serve,
)

#: The client's own headers, like those ``DiscordRest`` sends (Accept-Encoding pinned: httpx's
#: default depends on which decoders are installed).
CLIENT_HEADERS = {
    "Authorization": "Bot MTIz.token",
    "User-Agent": "DiscordBot (https://mjapi.example, 1.0)",
    "Accept-Encoding": "gzip",
}
#: Every request's fields after Host, in httpx's order.
COMMON_FIELDS = (
    b"Accept: */*\r\n"
    b"Connection: keep-alive\r\n"
    b"Authorization: Bot MTIz.token\r\n"
    b"User-Agent: DiscordBot (https://mjapi.example, 1.0)\r\n"
    b"Accept-Encoding: gzip"
)
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
#: Where the TLS tests' URLs point (the dial leads the name to the loopback server).
DISCORD_HOST = "discord.example"


@asynccontextmanager
async def discord(
    dial: Dial,
    limits: httpx.Timeout | None = None,
    *,
    tls: ssl.SSLContext | None = None,
    max_body: int = MAX_BODY,
) -> AsyncIterator[httpx.AsyncClient]:
    """httpx as ``DiscordRest`` uses it, on ``H1Transport`` over ``dial``.

    Loopback exchanges take milliseconds; SETTLE bounds them so a transport that waits for
    bytes that never come fails the test instead of hanging it.
    """
    transport = H1Transport(dial=dial, tls=tls, max_body=max_body)
    async with httpx.AsyncClient(
        transport=transport, headers=CLIENT_HEADERS, timeout=limits or httpx.Timeout(SETTLE)
    ) as client:
        yield client


def head(request_line: bytes, port: int, *fields: bytes) -> bytes:
    """A request's head as the server reads it (no blank line): httpx's fields, then ``fields``."""
    lines = [request_line, b"Host: %s:%d" % (LOOPBACK.encode("ascii"), port), COMMON_FIELDS]
    return b"\r\n".join([*lines, *fields])


def has_field(request: Request, name: bytes) -> bool:
    return any(line.lower().startswith(name + b":") for line in request.head.split(b"\r\n"))


# -- requests on the wire ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "options", "fields", "body"),
    [
        ("GET", {}, [], b""),
        ("DELETE", {}, [], b""),
        ("POST", {}, [b"Content-Length: 0"], b""),
        ("PUT", {}, [b"Content-Length: 0"], b""),
        (
            "PATCH",
            {"json": {"content": "hi"}, "headers": {"X-Audit-Log-Reason": "edit"}},
            [
                b"X-Audit-Log-Reason: edit",
                b"Content-Type: application/json",
                b"Content-Length: 16",
            ],
            b'{"content":"hi"}',
        ),
        (
            "POST",
            {"content": b"hello", "headers": {"Content-Type": "text/plain"}},
            [b"Content-Type: text/plain", b"Content-Length: 5"],
            b"hello",
        ),
        (
            "DELETE",
            {"content": b"{}", "headers": {"Content-Type": "application/json"}},
            [b"Content-Type: application/json", b"Content-Length: 2"],
            b"{}",
        ),
    ],
    ids=["get", "delete", "empty-post", "empty-put", "patch-json", "post-bytes", "delete-body"],
)
async def test_a_request_arrives_exactly_as_httpx_built_it(
    method: str, options: dict[str, Any], fields: list[bytes], body: bytes
) -> None:
    async with serve(answering(OK)) as server, discord(Routes()) as client:
        url = server.url("/api/v10/channels/42/messages?limit=50&q=ä b")
        response = await client.request(method, url, **options)
    assert response.status_code == 200 and response.content == b"ok"
    line = b"%s /api/v10/channels/42/messages?limit=50&q=%%C3%%A4%%20b HTTP/1.1" % method.encode()
    assert server.requests == [Request(head(line, server.port, *fields), body, 1)]


async def test_a_body_of_unknown_length_is_sent_whole_with_a_content_length() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b'{"content":', b' "streamed"', b"}"):
            yield part

    async with serve(answering(OK)) as server, discord(Routes()) as client:
        response = await client.post(server.url("/api/v10/x"), content=parts())
    assert response.status_code == 200
    # httpx asked for chunked; the body goes whole, so no Transfer-Encoding reaches the server.
    line = b"POST /api/v10/x HTTP/1.1"
    fields = b"Content-Length: 23"
    assert server.requests == [
        Request(head(line, server.port, fields), b'{"content": "streamed"}', 1)
    ]
    assert not has_field(server.requests[0], b"transfer-encoding")


async def test_a_multipart_upload_arrives_intact() -> None:
    image = bytes(range(256)) * 40  # every byte value, CR and LF included
    upload: dict[str, Any] = {
        "files": {"files[0]": ("grid.png", image, "image/png")},
        "data": {"payload_json": '{"attachments":[{"id":0}]}'},
        "headers": {"Content-Type": "multipart/form-data; boundary=mjapi-test-boundary"},
    }
    async with serve(answering(OK)) as server, discord(Routes()) as client:
        url = server.url("/api/v10/channels/42/attachments")
        expected = await client.build_request("POST", url, **upload).aread()
        response = await client.post(url, **upload)
    assert response.status_code == 200
    assert b'filename="grid.png"' in expected and image in expected
    fields = (
        b"Content-Type: multipart/form-data; boundary=mjapi-test-boundary",
        b"Content-Length: %d" % len(expected),
    )
    line = b"POST /api/v10/channels/42/attachments HTTP/1.1"
    assert server.requests == [Request(head(line, server.port, *fields), expected, 1)]


# -- answers -----------------------------------------------------------------------------------


async def test_an_answer_keeps_its_status_reason_and_every_header() -> None:
    answer = (
        b"HTTP/1.1 201 Created Here\r\n"
        b"Content-Type: application/json\r\n"
        b"X-RateLimit-Bucket: abc123\r\n"
        b"Set-Cookie: a=1\r\n"
        b"Set-Cookie: b=2\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    async with serve(answering(answer)) as server, discord(Routes()) as client:
        response = await client.get(server.url())
    assert (response.status_code, response.reason_phrase) == (201, "Created Here")
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["x-ratelimit-bucket"] == "abc123"
    assert response.http_version == "HTTP/1.1"
    assert response.json() == {}


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nhello, world",
    ],
    ids=["length", "chunked-with-trailers", "until-close"],
)
async def test_a_body_arrives_whole_however_it_is_framed(answer: bytes) -> None:
    # The server closes after one answer: an until-close body ends there, the others before.
    async with serve(answering_once_then_closing(answer)) as server, discord(Routes()) as client:
        response = await client.get(server.url())
    assert response.content == b"hello, world"


async def test_a_gzip_body_is_decoded_by_the_client() -> None:
    zipped = gzip.compress(b'{"id": "1", "content": "hello"}')
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(zipped), zipped)
    )
    async with serve(answering(answer)) as server, discord(Routes()) as client:
        response = await client.get(server.url())
    assert response.json() == {"id": "1", "content": "hello"}


async def test_a_head_request_reads_no_body_and_keeps_its_connection() -> None:
    # Reading the announced 5 bytes would wait for an answer the server never sends.
    announced = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    async with serve(answering(announced, OK)) as server, discord(Routes()) as client:
        response = await client.head(server.url())
        following = await client.get(server.url())
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "5"
    assert following.content == b"ok"
    assert server.connections() == [1, 1]


# -- keep-alive --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        OK,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        NO_CONTENT,
    ],
    ids=["length", "chunked", "204"],
)
async def test_requests_to_one_origin_share_one_connection(answer: bytes) -> None:
    routes = Routes()
    async with serve(answering(answer)) as server, discord(routes) as client:
        url = server.url()
        responses = [await client.get(url), await client.post(url, json={}), await client.get(url)]
    assert [response.status_code for response in responses] == [responses[0].status_code] * 3
    assert routes.dialled == [(LOOPBACK, server.port)]
    assert server.connections() == [1, 1, 1]


@pytest.mark.parametrize(
    ("answer", "server_closes"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 200 OK\r\n\r\nok", True),
    ],
    ids=["connection-close", "http-1.0", "until-close"],
)
async def test_an_answer_that_ends_its_connection_makes_the_next_request_open_one(
    answer: bytes, server_closes: bool
) -> None:
    # A server that keeps the connection open would answer on it: reuse would show.
    script = answering_once_then_closing(answer) if server_closes else answering(answer)
    routes = Routes()
    async with serve(script) as server, discord(routes) as client:
        contents = [(await client.get(server.url())).content for _ in range(2)]
        if not server_closes:  # the client closed it: the server read its EOF
            await server.until(lambda: server.hangups >= 1)
    assert contents == [b"ok", b"ok"]
    assert len(routes.dialled) == 2 and server.connections() == [1, 2]


# -- max_body ----------------------------------------------------------------------------------

OVER = b"a" * 17


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + OVER,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n%s\r\n0\r\n\r\n" % OVER,
        # Never closed by the server: only the limit can end the read before SETTLE.
        b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 4096,
    ],
    ids=["length", "chunked", "until-close"],
)
async def test_a_body_longer_than_max_body_fails_and_costs_its_connection(answer: bytes) -> None:
    async with (
        serve(first_then(holding(answer), answering(OK))) as server,
        discord(Routes(), max_body=16) as client,
    ):
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await client.get(server.url())
        await server.until(lambda: server.hangups == 1)
        following = await client.get(server.url())
    assert following.content == b"ok"
    assert server.connections() == [1, 2]


async def test_a_body_of_exactly_max_body_is_read_and_keeps_its_connection() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + b"a" * 16
    async with serve(answering(answer)) as server, discord(Routes(), max_body=16) as client:
        contents = [(await client.get(server.url())).content for _ in range(2)]
    assert contents == [b"a" * 16] * 2
    assert server.connections() == [1, 1]


# -- failures and their classes ------------------------------------------------------------------


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused."""
    with socket.socket() as bound:
        bound.bind((LOOPBACK, 0))
        yield bound.getsockname()[1]


async def test_a_refused_connection_is_a_connect_error() -> None:
    with closed_port() as port:
        async with discord(open_tcp) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://{LOOPBACK}:{port}/api/v10/gateway")


async def test_a_dial_that_hangs_is_a_connect_timeout() -> None:
    async def hanging(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with discord(hanging, httpx.Timeout(5, connect=0.1)) as client:
        start = asyncio.get_running_loop().time()
        with pytest.raises(httpx.ConnectTimeout):
            async with bounded():
                await client.get("http://discord.example/api/v10/gateway")
        took = elapsed_since(start)
    assert 0.09 <= took < 0.6


async def test_no_answer_within_the_read_timeout_is_a_read_timeout() -> None:
    async with (
        serve(holding()) as server,
        discord(Routes(), httpx.Timeout(5, read=LIMIT)) as client,
    ):
        start = asyncio.get_running_loop().time()
        with pytest.raises(httpx.ReadTimeout):
            async with bounded():
                await client.get(server.url())
        took = elapsed_since(start)
        await server.until(lambda: server.hangups == 1)
    assert LIMIT * 0.9 <= took < LIMIT + 0.5
    assert len(server.requests) == 1


async def test_a_fresh_connection_closed_without_an_answer_is_a_protocol_error() -> None:
    # Not a ConnectError: the request was sent, so the rate limiter must not send a POST again.
    # A retry would find an answering server on the next connection.
    async with (
        serve(first_then(answering_once_then_closing(b""), answering(OK))) as server,
        discord(Routes()) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url(), json={"type": 2})
    assert server.accepted == 1 and len(server.requests) == 1


async def test_a_kept_connection_the_server_closed_while_idle_is_replaced() -> None:
    routes = Routes()
    async with (
        serve(first_then(answer_then_stop_sending, answering(OK))) as server,
        discord(routes) as client,
    ):
        first = await client.post(server.url(), content=b"first")
        await routes.readers[0].closed_by_peer()
        second = await client.post(server.url(), content=b"second")
    assert (first.content, second.content) == (b"ok", b"ok")
    assert [(r.body, r.connection) for r in server.requests] == [(b"first", 1), (b"second", 2)]


async def test_a_kept_connection_that_dies_after_the_request_is_not_sent_again() -> None:
    async def answer_once_then_close_unanswered(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()  # the server's race: it had decided to close, then the request came

    # A second sending would reach an answering server and succeed.
    async with (
        serve(first_then(answer_once_then_close_unanswered, answering(OK))) as server,
        discord(Routes()) as client,
    ):
        await client.post(server.url(), content=b"0")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(server.url(), content=b"1")
    assert [(r.body, r.connection) for r in server.requests] == [(b"0", 1), (b"1", 1)]
    assert server.accepted == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HELLO THERE\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-",  # then the server closes
    ],
    ids=["garbage", "http-2", "four-digits", "cut-head"],
)
async def test_an_answer_that_is_no_http_1_answer_is_a_protocol_error(answer: bytes) -> None:
    async with serve(answering_once_then_closing(answer)) as server, discord(Routes()) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url())
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Audit-Log-Reason": "a\r\nX-Injected: 1"},
        {"X-Audit-Log-Reason": "a\nX-Injected: 1"},
        {"X-Audit-Log-Reason": "a\r"},
        {"X-Audit\r\nX-Injected": "1"},
    ],
    ids=["crlf", "lf", "cr", "crlf-in-name"],
)
async def test_a_header_with_a_line_break_fails_before_anything_is_sent(
    headers: dict[str, str],
) -> None:
    routes = Routes()
    async with serve(answering(OK)) as server, discord(routes) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url(), headers=headers)
    assert routes.dialled == [] and server.requests == []


async def test_a_header_with_a_line_break_leaves_the_kept_connection_alone() -> None:
    routes = Routes()
    async with serve(answering(OK)) as server, discord(routes) as client:
        await client.get(server.url())
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url(), headers={"X-Audit-Log-Reason": "a\r\nX: 1"})
        await client.get(server.url())
    assert len(routes.dialled) == 1 and server.connections() == [1, 1]


async def test_a_scheme_other_than_http_is_unsupported_and_never_dialled() -> None:
    routes = Routes()
    async with discord(routes) as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.get(f"ftp://{LOOPBACK}/file")
    assert routes.dialled == []


# -- TLS ---------------------------------------------------------------------------------------


async def test_https_is_verified_for_the_urls_name_and_keeps_its_connection() -> None:
    sni: list[str] = []
    context = authority("Test CA").server_context(DISCORD_HOST, sni)
    async with serve(answering(OK), tls=context) as server:
        routes = Routes({DISCORD_HOST: server.port})
        tls = authority("Test CA").client_context()
        async with discord(routes, tls=tls) as client:
            url = f"https://{DISCORD_HOST}/api/v10/users/@me"
            contents = [(await client.get(url)).content for _ in range(2)]
    assert contents == [b"ok", b"ok"]
    assert sni == [DISCORD_HOST]
    assert routes.dialled == [(DISCORD_HOST, 443)]
    assert server.connections() == [1, 1]
    assert server.requests[0].head.startswith(
        b"GET /api/v10/users/@me HTTP/1.1\r\nHost: %s\r\n" % DISCORD_HOST.encode("ascii")
    )


@pytest.mark.parametrize(
    ("certified", "issuer"),
    [("other.example", "Test CA"), (DISCORD_HOST, "Untrusted CA")],
    ids=["wrong-name", "untrusted-issuer"],
)
async def test_a_certificate_that_does_not_prove_the_name_is_a_connect_error(
    certified: str, issuer: str
) -> None:
    sni: list[str] = []
    context = authority(issuer).server_context(certified, sni)
    async with serve(answering(OK), tls=context) as server:
        routes = Routes({DISCORD_HOST: server.port})
        tls = authority("Test CA").client_context()
        async with discord(routes, tls=tls) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://{DISCORD_HOST}/api/v10/users/@me")
    assert sni == [DISCORD_HOST]
    assert server.requests == []
