"""httpcore over ``mjapi.net.dial`` (``DialBackend``, ``AsyncioStream``) and loopback servers.

Downloads go through httpx, ``transport.GuardedTransport`` and ``GuardedBackend``, which dials
with ``DialBackend`` and hands httpcore ``AsyncioStream`` connections. These tests hold the
adapter to what httpcore relies on: reads and writes with httpcore's error classes, TLS started
in place with the URL's name, and ``get_extra_info("is_readable")`` telling an idle connection
the server closed from one that can carry the next request. The servers, the recording dial
(``Routes``) and the test CA come from ``test_h1_client``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpcore
import httpx
import pytest

from mjapi.net.dial import Dial, DialBackend, open_tcp
from mjapi.net.guard import UrlGuard
from mjapi.net.transport import GuardedBackend, GuardedTransport
from tests.integration.test_h1_client import (
    LIMIT,
    LOOPBACK,
    PUBLIC_IP,
    SETTLE,
    Peer,
    Routes,
    answering,
    authority,
    first_then,
    holding,
    names,
    serve,
)

HELLO = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


@asynccontextmanager
async def guarded(dial: Dial, limits: httpx.Timeout) -> AsyncIterator[httpx.AsyncClient]:
    """httpx as downloads use it (private URLs allowed: the servers are on loopback)."""
    transport = GuardedTransport(UrlGuard(allow_private=True), dial=dial)
    async with httpx.AsyncClient(transport=transport, timeout=limits) as client:
        yield client


@asynccontextmanager
async def pool_for_images(routes: Routes) -> AsyncIterator[httpcore.AsyncConnectionPool]:
    """httpcore trusting the test CA, with images.example resolving to a routed public address."""
    guard = UrlGuard(resolver=names({"images.example": [PUBLIC_IP]}))
    async with httpcore.AsyncConnectionPool(
        ssl_context=authority("Test CA").client_context(),
        network_backend=GuardedBackend(guard, routes),
    ) as pool:
        yield pool


WAIT = httpx.Timeout(SETTLE)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_get_goes_over_a_dialled_connection() -> None:
    routes = Routes()
    async with serve(answering(HELLO)) as server, guarded(routes, WAIT) as client:
        answer = await client.get(server.url("/img.png?size=2"))
    assert answer.status_code == 200 and answer.content == b"hello"
    head = b"GET /img.png?size=2 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port
    assert server.requests[0].head.startswith(head)
    assert routes.dialled == [(LOOPBACK, server.port)]
    stream = answer.extensions["network_stream"]
    assert stream.get_extra_info("server_addr") == (LOOPBACK, server.port)
    assert stream.get_extra_info("client_addr")[0] == LOOPBACK


async def test_requests_to_one_server_reuse_the_connection() -> None:
    routes = Routes()
    async with serve(answering(HELLO)) as server, guarded(routes, WAIT) as client:
        answers = [await client.get(server.url()) for _ in range(3)]
    assert [a.content for a in answers] == [b"hello"] * 3
    assert len(routes.dialled) == 1 and server.connections() == [1, 1, 1]


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def answer_then_stop_sending(peer: Peer) -> None:
        await peer.request()
        await peer.send(HELLO)
        peer.writer.write_eof()  # still reading: a request sent on this connection would show
        await peer.drain_requests()

    routes = Routes()
    async with (
        serve(first_then(answer_then_stop_sending, answering(HELLO))) as server,
        guarded(routes, WAIT) as client,
    ):
        assert (await client.get(server.url())).content == b"hello"
        await routes.readers[0].closed_by_peer()
        assert (await client.get(server.url())).content == b"hello"
    assert len(routes.dialled) == 2 and server.connections() == [1, 2]


async def test_an_idle_connection_the_server_sent_bytes_on_is_not_reused() -> None:
    unasked = b"HTTP/1.1 500 Unasked\r\nContent-Length: 0\r\n\r\n"
    release = asyncio.Event()

    async def answer_then_babble(peer: Peer) -> None:
        await peer.request()
        await peer.send(HELLO)
        await release.wait()
        await peer.send(unasked)
        await peer.drain_requests()

    routes = Routes()
    async with (
        serve(first_then(answer_then_babble, answering(HELLO))) as server,
        guarded(routes, WAIT) as client,
    ):
        assert (await client.get(server.url())).content == b"hello"
        release.set()
        await routes.readers[0].received_at_least(len(HELLO) + len(unasked))
        status = (await client.get(server.url())).status_code
    assert status == 200
    assert len(routes.dialled) == 2


async def test_no_answer_within_the_read_timeout_is_a_read_timeout() -> None:
    timeout = httpx.Timeout(SETTLE, read=LIMIT)
    async with serve(holding()) as server, guarded(Routes(), timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url())
        await server.until(lambda: server.hangups == 1)


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with guarded(open_tcp, WAIT) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://{LOOPBACK}:{closed_port()}/img.png")


async def test_a_dial_that_hangs_is_a_connect_timeout() -> None:
    dialled: list[tuple[str, int]] = []

    async def hanging(address: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        dialled.append((address, port))
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with guarded(hanging, httpx.Timeout(SETTLE, connect=LIMIT)) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.get(f"http://{LOOPBACK}:9/img.png")
    assert dialled == [(LOOPBACK, 9)]


async def test_tls_starts_on_the_dialled_connection_with_the_urls_name() -> None:
    sni: list[str] = []
    context = authority("Test CA").server_context("images.example", sni)
    async with serve(answering(HELLO), tls=context) as server:
        routes = Routes({PUBLIC_IP: server.port})
        async with pool_for_images(routes) as pool:
            answers = [await pool.request("GET", "https://images.example/img.png") for _ in "ab"]
    assert [(a.status, a.content) for a in answers] == [(200, b"hello")] * 2
    assert sni == ["images.example"]
    assert routes.dialled == [(PUBLIC_IP, 443)] and server.connections() == [1, 1]
    ssl_object = answers[0].extensions["network_stream"].get_extra_info("ssl_object")
    assert ssl_object is not None and ssl_object.server_hostname == "images.example"


async def test_a_certificate_for_another_name_is_a_connect_error() -> None:
    context = authority("Test CA").server_context("other.example", [])
    async with (
        serve(answering(HELLO), tls=context) as server,
        pool_for_images(Routes({PUBLIC_IP: server.port})) as pool,
    ):
        with pytest.raises(httpcore.ConnectError, match="TLS"):
            await pool.request("GET", "https://images.example/img.png")
    assert server.requests == []


async def test_a_tls_handshake_that_hangs_is_a_connect_timeout() -> None:
    # A plain TCP server: the client's hello is never answered.
    async with (
        serve(holding()) as server,
        pool_for_images(Routes({PUBLIC_IP: server.port})) as pool,
    ):
        with pytest.raises(httpcore.ConnectTimeout):
            timeouts = {"timeout": {"connect": LIMIT}}
            await pool.request("GET", "https://images.example/", extensions=timeouts)


async def test_unix_sockets_are_never_dialled() -> None:
    with pytest.raises(httpcore.ConnectError):
        await DialBackend().connect_unix_socket("/run/docker.sock")
