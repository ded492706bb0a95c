"""The URL guard: which hosts a URL may reach, decided on the addresses it resolves to."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import ip_address

import httpx

from mjapi.errors import BadRequest
from mjapi.net.addresses import Address, MalformedHost, forbidden_reason, ip_literal

#: ``(host, port) -> addresses``; tests inject one so that no test ever asks a real DNS server.
Resolver = Callable[[str, int], Awaitable[Sequence[Address]]]

DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """The server will not connect to this URL; ``why`` completes "URL ... is not allowed: "."""

    def __init__(self, why: str) -> None:
        self.why = why
        super().__init__(why)


class ResolutionFailed(Exception):
    """The host name has no address (or the resolver failed): nothing to connect to."""


@dataclass(frozen=True)
class Target:
    """Where a URL leads: its scheme, its host (ASCII, no brackets) and its port."""

    scheme: str
    host: str
    port: int


def target_of(url: str) -> Target:
    """Parse ``url`` the way httpx will when it sends the request; only http(s) passes."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused("it is not a valid URL") from exc
    if parsed.scheme not in DEFAULT_PORTS:
        raise Refused(f"its scheme is {parsed.scheme or 'missing'}, only http and https are")
    # raw_host is what httpx connects to: IDNA-encoded, userinfo and brackets removed.
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise Refused("it has no host")
    return Target(parsed.scheme, host, parsed.port or DEFAULT_PORTS[parsed.scheme])


def refused_url(url: str, refusal: Refused, *, redirected_from: str | None = None) -> BadRequest:
    """The 400 a client gets for a URL the server will not fetch or call."""
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    return BadRequest(f"URL {url} is not allowed: {refusal.why}{via}")


async def system_resolver(host: str, port: int) -> list[Address]:
    """``getaddrinfo`` through the event loop (a worker thread), so no request blocks the loop."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise ResolutionFailed(host) from exc
    return [ip_address(str(info[4][0])) for info in infos]


class UrlGuard:
    """Refuses hosts that are, or resolve to, non-public addresses (unless private is allowed)."""

    def __init__(self, *, allow_private: bool = False, resolver: Resolver = system_resolver):
        self.allow_private = allow_private
        self._resolve = resolver

    async def check(self, url: str) -> None:
        """Raise ``Refused`` unless ``url`` is http(s) and every address of its host is allowed."""
        target = target_of(url)
        await self.addresses(target.host, target.port)

    async def addresses(self, host: str, port: int) -> list[Address]:
        """The addresses to connect to for ``host``, every one of them allowed.

        A host name with one bad address among good ones is refused as a whole: connecting to
        "any good one" would let the resolver's order decide, and DNS answers are the attacker's.
        """
        try:
            literal = ip_literal(host)
        except MalformedHost as exc:
            raise Refused(f"its host {host} is not a valid IP address") from exc
        if literal is not None:
            self._require_allowed(literal, "is")
            return [literal]
        found = list(dict.fromkeys(await self._resolve(host, port)))
        if not found:
            raise ResolutionFailed(host)
        for address in found:
            self._require_allowed(address, "resolves to")
        return found

    def _require_allowed(self, address: Address, verb: str) -> None:
        if self.allow_private:
            return
        reason = forbidden_reason(address)
        if reason is not None:
            raise Refused(f"it {verb} {reason} ({address})")
