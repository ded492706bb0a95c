"""An httpx transport whose every TCP connection goes to an address the guard just checked.

httpcore (httpx's engine) opens connections through a pluggable network backend and hands it the
URL's host name. ``GuardedBackend`` is that backend: it resolves the name itself, checks every
address, then connects to a checked address, never to the name. So the address checked is the
address connected to (no DNS rebinding window), redirects and keep-alive reuse need no special
case, and TLS is untouched: httpcore still runs the handshake with the URL's host name, so SNI
and certificate verification are those of the name, and the Host header comes from the URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from mjapi.net.addresses import Address
from mjapi.net.dial import Dial, DialBackend, open_tcp
from mjapi.net.guard import ResolutionFailed, UrlGuard
from mjapi.net.h1 import KeepAliveClient

SocketOptions = Iterable[Any]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks the host, then dials a checked address with ``dial``."""

    def __init__(self, guard: UrlGuard, dial: Dial = open_tcp) -> None:
        self._guard = guard
        # Tests inject a dial that leads checked public addresses to loopback servers.
        self._dial = DialBackend(dial)

    # The parameter names are httpcore's interface (hence the ASYNC109 exemptions).
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._checked(host, port, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._dial.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address may answer, as a browser would try it
        assert failure is not None  # addresses is never empty
        raise failure

    async def _checked(self, host: str, port: int, seconds: float | None) -> list[Address]:
        # Refused passes through unchanged: it is no network error and must not be retried.
        try:
            async with asyncio.timeout(seconds):
                return await self._guard.addresses(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from exc
        except ResolutionFailed as exc:
            raise httpcore.ConnectError(f"{host} has no address") from exc

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("outbound URLs never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._dial.sleep(seconds)


class AsyncioTransport(httpx.AsyncBaseTransport):
    """httpx's default transport, minus proxies and unix sockets, over asyncio streams.

    ``backend`` opens the connections (``DialBackend`` by default: straight to the host). httpx's
    own transport would go through anyio, which costs more CPU per request than the rest of it.
    """

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend | None = None,
        *,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend or DialBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        outgoing = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = await self._pool.handle_async_request(outgoing)
        assert isinstance(answer.stream, AsyncIterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_ResponseBody(answer.stream),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class GuardedTransport(AsyncioTransport):
    """``AsyncioTransport`` whose every connection goes through a ``GuardedBackend``."""

    def __init__(
        self, guard: UrlGuard, *, dial: Dial = open_tcp, limits: httpx.Limits | None = None
    ) -> None:
        super().__init__(GuardedBackend(guard, dial), limits=limits)


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


#: httpcore's errors and the httpx errors callers catch; the most specific come first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """Callers catch ``httpx.HTTPError``; httpcore raises its own classes."""
    try:
        yield
    except Exception as exc:
        for raised, mapped in _ERRORS:
            if isinstance(exc, raised):
                raise mapped(str(exc)) from exc
        raise


@dataclass(frozen=True)
class Outbound:
    """How the server reaches the URLs its clients name (images, callbacks)."""

    guard: UrlGuard
    #: how checked addresses are dialled (tests route them to loopback servers)
    dial: Dial = open_tcp

    def client(self, timeout: float, limits: httpx.Limits | None = None) -> httpx.AsyncClient:
        """A client that follows no redirect itself: callers check each hop (see fetch.py).

        ``limits``: the connection pool's (httpx's defaults when None).
        """
        transport = GuardedTransport(self.guard, dial=self.dial, limits=limits)
        return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)

    def poster(self, max_idle: int) -> KeepAliveClient:
        """The callbacks' client, keeping up to ``max_idle`` idle connections per receiver."""
        return KeepAliveClient(self.guard, dial=self.dial, max_idle=max_idle)
