"""``H1Client.direct`` against raw loopback servers: the same request on the wire as
``AsyncClient.request`` sends, the same answer, and cookies kept like a browser keeps them."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from mjapi.net.h1_client import H1Client
from mjapi.net.h1_transport import H1Transport
from tests.integration.test_h1_client import OK, SETTLE, Routes, answering, serve

#: What DiscordRest sends with every request (the token is raw, no prefix).
DISCORD_HEADERS = {"Authorization": "MTIz.abc.def", "User-Agent": "Mozilla/5.0 (X11) Chrome/120"}
INTERACTION = {"type": 2, "nonce": "1234567890", "data": {"name": "imagine", "options": []}}


@asynccontextmanager
async def client() -> AsyncIterator[H1Client]:
    """An ``H1Client`` as ``discord_client()`` makes it, dialling the loopback servers."""
    async with H1Client(timeout=SETTLE, transport=H1Transport(dial=Routes())) as made:
        yield made


REACTION = "/api/v9/channels/1/messages/2/reactions/%E2%9C%89%EF%B8%8F/%40me"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v9/users/@me", None),
        ("POST", "/api/v9/interactions", INTERACTION),
        ("PUT", REACTION, None),
        ("POST", "/api/v9/users/@me/channels", {"recipients": ["1"], "note": "caf\u00e9 \u2028"}),
        ("GET", "/api/v9/channels/1/messages?limit=50", None),
    ],
    ids=["get", "post-json", "reaction-put", "post-unicode", "get-query"],
)
async def test_direct_sends_what_request_sends(method: str, path: str, body: Any) -> None:
    async with serve(answering(OK)) as server, client() as http:
        url = server.url(path)
        by_request = await http.request(method, url, json=body, headers=DISCORD_HEADERS)
        by_direct = await http.direct(method, url, json=body, headers=DISCORD_HEADERS)
    first, second = server.requests
    assert (first.head, first.body) == (second.head, second.body)
    assert second.connection == first.connection  # the same kept connection
    assert (by_direct.status_code, by_direct.content) == (by_request.status_code, b"ok")


async def test_direct_decodes_the_answer_as_request_does() -> None:
    zipped = gzip.compress(b'{"id": "1", "content": "hello"}')
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(zipped), zipped)
    )
    async with serve(answering(answer)) as server, client() as http:
        by_request = await http.request("GET", server.url("/m"), headers=DISCORD_HEADERS)
        by_direct = await http.direct("GET", server.url("/m"), headers=DISCORD_HEADERS)
    assert by_direct.json() == by_request.json() == {"id": "1", "content": "hello"}
    assert by_direct.headers == by_request.headers


def with_cookies(*set_cookies: bytes) -> bytes:
    fields = b"".join(b"Set-Cookie: %s\r\n" % line for line in set_cookies)
    return b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok"


def cookie_field(head: bytes) -> bytes | None:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"cookie:"):
            return line
    return None


async def test_cookies_set_by_the_server_come_back_until_it_removes_them() -> None:
    answers = (
        with_cookies(b"__dcfduid=one; Path=/; HttpOnly", b"__cfruid=two; Secure"),
        with_cookies(b"__cfruid=three; Max-Age=600"),
        with_cookies(b"__dcfduid=; Max-Age=0"),
        OK,
    )
    async with serve(answering(*answers)) as server, client() as http:
        for _ in range(4):
            await http.direct("GET", server.url("/api/v9/users/@me"), headers=DISCORD_HEADERS)
    sent = [cookie_field(request.head) for request in server.requests]
    assert sent == [
        None,
        b"Cookie: __dcfduid=one; __cfruid=two",
        b"Cookie: __dcfduid=one; __cfruid=three",
        b"Cookie: __cfruid=three",
    ]


async def test_cookies_stay_with_the_host_that_set_them() -> None:
    async with serve(answering(with_cookies(b"a=1"))) as setter, serve(answering(OK)) as other:
        routes = Routes({"localhost": other.port})
        async with H1Client(timeout=SETTLE, transport=H1Transport(dial=routes)) as http:
            await http.direct("GET", setter.url("/x"), headers=DISCORD_HEADERS)
            # Same host (the loopback address), another port: cookies ignore ports (RFC 6265
            # §8.5); another host name gets none.
            await http.direct("GET", other.url("/x"), headers=DISCORD_HEADERS)
            await http.direct("GET", f"http://localhost:{other.port}/x", headers=DISCORD_HEADERS)
    assert cookie_field(other.requests[0].head) == b"Cookie: a=1"
    assert cookie_field(other.requests[1].head) is None


@pytest.mark.parametrize(
    "token",
    ["MTIz.\u00e9t\u00e9", "MTIz\r\nX-Injected: 1", "MTIz\rX", "MTIz\nX"],
    ids=["non-ascii", "crlf", "cr", "lf"],
)
async def test_a_token_unfit_for_a_header_fails_as_with_request(token: str) -> None:
    # DiscordRest turns these into "not a valid header value" without echoing the token.
    headers = {**DISCORD_HEADERS, "Authorization": token}
    async with serve(answering(OK)) as server, client() as http:
        with pytest.raises(Exception) as by_request:
            await http.request("GET", server.url("/x"), headers=headers)
        with pytest.raises(Exception) as by_direct:
            await http.direct("GET", server.url("/x"), headers=headers)
    assert type(by_direct.value) is type(by_request.value)
    assert server.requests == []


async def test_a_cookie_that_cannot_be_sent_back_is_ignored() -> None:
    # Kept, it would make every later request to the host fail (header values are ASCII).
    answers = (with_cookies(b"odd=caf\xc3\xa9", b"ok=1"), OK)
    async with serve(answering(*answers)) as server, client() as http:
        await http.direct("GET", server.url("/x"), headers=DISCORD_HEADERS)
        second = await http.direct("GET", server.url("/x"), headers=DISCORD_HEADERS)
    assert second.status_code == 200
    assert cookie_field(server.requests[1].head) == b"Cookie: ok=1"
