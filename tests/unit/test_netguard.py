"""The URL guard without a network: address classes, URL tricks, and the pinning backend.

Every resolver here is a dictionary, every dial a recorder: no test asks DNS or opens a socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address

import httpcore
import pytest

from mjapi.net import Refused, ResolutionFailed, UrlGuard, refused_url
from mjapi.net.addresses import (
    LINK_LOCAL,
    LOOPBACK,
    METADATA,
    MULTICAST,
    PRIVATE,
    RESERVED,
    SHARED,
    UNSPECIFIED,
    Address,
    MalformedHost,
    embedded_ipv4,
    forbidden_reason,
    ip_literal,
)
from mjapi.net.transport import GuardedBackend

PUBLIC = "93.184.216.34"


class FakeResolver:
    """Answers from a table and records every question."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[Address]:
        self.asked.append(host)
        if host not in self.table:
            raise ResolutionFailed(host)
        return [ip_address(a) for a in self.table[host]]


NAMES = {
    "images.example": [PUBLIC],
    "localhost.": ["127.0.0.1"],
    "ten.example": ["10.0.0.5"],
    "mixed.example": [PUBLIC, "10.0.0.5"],
    "v6.example": ["2606:4700::1111"],
    "xn--bcher-kva.example": [PUBLIC],
}


def guard(allow_private: bool = False) -> tuple[UrlGuard, FakeResolver]:
    resolver = FakeResolver(dict(NAMES))
    return UrlGuard(allow_private=allow_private, resolver=resolver), resolver


async def why_refused(url: str, allow_private: bool = False) -> str:
    with pytest.raises(Refused) as caught:
        await guard(allow_private)[0].check(url)
    return caught.value.why


# -- address classes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", LOOPBACK),
        ("127.255.255.254", LOOPBACK),
        ("10.0.0.5", PRIVATE),
        ("172.16.0.1", PRIVATE),
        ("172.31.255.255", PRIVATE),
        ("192.168.1.1", PRIVATE),
        ("169.254.169.254", METADATA),
        ("169.254.1.1", LINK_LOCAL),
        ("100.64.0.1", SHARED),
        ("100.100.100.200", SHARED),
        ("0.0.0.0", UNSPECIFIED),
        ("0.1.2.3", UNSPECIFIED),
        ("224.0.0.1", MULTICAST),
        ("239.255.255.250", MULTICAST),
        ("255.255.255.255", RESERVED),
        ("240.0.0.1", RESERVED),
        ("192.0.2.10", RESERVED),
        ("198.18.0.1", RESERVED),
        ("192.0.0.192", RESERVED),
        ("::1", LOOPBACK),
        ("::", UNSPECIFIED),
        ("fc00::1", PRIVATE),
        ("fd12:3456:789a::1", PRIVATE),
        ("fd00:ec2::254", METADATA),
        ("fe80::1", LINK_LOCAL),
        ("fe80::1%eth0", LINK_LOCAL),
        ("fec0::1", PRIVATE),
        ("ff02::1", MULTICAST),
        ("::ffff:127.0.0.1", LOOPBACK),
        ("::ffff:10.0.0.1", PRIVATE),
        ("::ffff:169.254.169.254", METADATA),
        ("::ffff:0:a00:1", PRIVATE),  # IPv4-translated 10.0.0.1
        ("64:ff9b::a00:1", PRIVATE),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", LOOPBACK),
        ("::127.0.0.1", LOOPBACK),  # IPv4-compatible
        ("2002:7f00:1::1", LOOPBACK),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", METADATA),  # 6to4 of 169.254.169.254
        ("64:ff9b:1::1", RESERVED),
        ("2001::1", RESERVED),  # Teredo
        ("2001:db8::1", RESERVED),
        ("100::1", RESERVED),
    ],
)
def test_non_public_addresses_are_refused_with_their_class(address: str, reason: str) -> None:
    assert forbidden_reason(ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC,
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",  # just below carrier-grade NAT
        "100.128.0.0",  # just above it
        "172.32.0.1",  # just above 172.16/12
        "11.0.0.1",
        "2606:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:93.184.216.34",  # mapped public IPv4 reaches the public IPv4
        "64:ff9b::5db8:d822",  # NAT64 of a public IPv4
        "2002:5db8:d822::1",  # 6to4 of a public IPv4
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ip_address(address)) is None


# -- IP literals in URL hosts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("::1", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_literal_forms_are_read_as_the_resolver_would(host: str, address: str) -> None:
    assert ip_literal(host) == ip_address(address)


@pytest.mark.parametrize("host", ["images.example", "localhost", "1e100.net", "0x.example", ""])
def test_host_names_are_not_literals(host: str) -> None:
    assert ip_literal(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.256", "256.1.1.1", "1.2.3.4.5", "0x7g.1", "4294967296", "1_0.0.0.1", "a.123"]
)
def test_numeric_hosts_that_are_no_address_are_malformed(host: str) -> None:
    with pytest.raises(MalformedHost):
        ip_literal(host)


# -- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/", "it is a loopback address (127.0.0.1)"),
        ("http://evil@127.0.0.1/", "it is a loopback address (127.0.0.1)"),
        ("http://images.example:80@127.0.0.1/", "it is a loopback address (127.0.0.1)"),
        ("http://2130706433/", "it is a loopback address (127.0.0.1)"),
        ("http://0x7f.1/", "it is a loopback address (127.0.0.1)"),
        ("http://017700000001/", "it is a loopback address (127.0.0.1)"),
        ("http://127.0.0.1./", "it is a loopback address (127.0.0.1)"),
        ("https://[::1]:8443/x", "it is a loopback address (::1)"),
        ("http://[::ffff:127.0.0.1]/", "it is a loopback address (::ffff:7f00:1)"),
        ("http://[fe80::1]/", "it is a link-local address (fe80::1)"),
        ("http://169.254.169.254/latest/meta-data/", "it is a cloud metadata address"),
        ("http://0.0.0.0:8000/", "it is an unspecified address (0.0.0.0)"),
        ("http://localhost./", "it resolves to a loopback address (127.0.0.1)"),
        ("http://ten.example/a.png", "it resolves to a private address (10.0.0.5)"),
        ("http://mixed.example/a.png", "it resolves to a private address (10.0.0.5)"),
        ("http://1.2.3.4.5/", "its host 1.2.3.4.5 is not a valid IP address"),
        ("http://0x7g.1/", "its host 0x7g.1 is not a valid IP address"),
        ("http://1.2.3.256/", "it is not a valid URL"),
        ("ftp://images.example/a.png", "its scheme is ftp, only http and https are"),
        ("file:///etc/passwd", "its scheme is file, only http and https are"),
        ("gopher://images.example/", "its scheme is gopher, only http and https are"),
        ("/relative/path", "its scheme is missing, only http and https are"),
        ("http:///nohost", "it has no host"),
        ("http://a\x00b/", "it is not a valid URL"),
    ],
)
async def test_urls_that_lead_to_forbidden_places_are_refused(url: str, why: str) -> None:
    assert (await why_refused(url)).startswith(why)


@pytest.mark.parametrize(
    "url",
    [
        "http://images.example/a.png",
        "https://images.example:8443/a.png?x=1",
        "http://127.0.0.1@images.example/",  # userinfo is not the host
        "https://v6.example/",
        "http://[2606:4700::1111]/",
        f"http://{PUBLIC}/a.png",
        "https://bücher.example/",
    ],
)
async def test_public_urls_pass(url: str) -> None:
    await guard()[0].check(url)


async def test_the_resolver_gets_the_ascii_host_and_literals_never_reach_it() -> None:
    checker, resolver = guard()
    await checker.check("https://bücher.example/")
    await checker.check(f"http://{PUBLIC}/")
    with pytest.raises(Refused):
        await checker.check("http://2130706433/")
    assert resolver.asked == ["xn--bcher-kva.example"]


async def test_an_unknown_host_is_a_resolution_failure_not_a_refusal() -> None:
    with pytest.raises(ResolutionFailed):
        await guard()[0].check("http://nowhere.example/")


async def test_allowing_private_lets_addresses_through_but_not_other_schemes() -> None:
    checker, _ = guard(allow_private=True)
    await checker.check("http://127.0.0.1:8000/hook")
    await checker.check("http://ten.example/")
    assert await why_refused("ftp://127.0.0.1/", allow_private=True) == (
        "its scheme is ftp, only http and https are"
    )


def test_the_client_message_names_the_url_and_the_reason() -> None:
    error = refused_url("http://10.0.0.5/x.png", Refused("it is a private address (10.0.0.5)"))
    assert error.status == 400
    assert (
        error.message
        == "URL http://10.0.0.5/x.png is not allowed: it is a private address (10.0.0.5)"
    )
    via = refused_url("http://10.0.0.5/", Refused("why"), redirected_from="http://a.example/")
    assert (
        via.message
        == "URL http://10.0.0.5/ is not allowed: why (redirected from http://a.example/)"
    )


# -- the pinning backend ------------------------------------------------------------------------


class Connected(Exception):
    """Raised by ``RecordingDial`` where a real dial would return the new connection."""


class RecordingDial:
    """A ``Dial`` that records what would be dialled; addresses in ``down`` refuse the connection.

    It opens nothing: a dial that would succeed raises ``Connected`` instead.
    """

    def __init__(self, down: Iterable[str] = ()) -> None:
        self.dialled: list[tuple[str, int]] = []
        self.down = set(down)

    async def __call__(
        self, address: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.dialled.append((address, port))
        if address in self.down:
            raise ConnectionRefusedError(f"{address} is down")
        raise Connected(address)


async def test_the_backend_connects_to_the_checked_address_not_the_name() -> None:
    dial = RecordingDial()
    with pytest.raises(Connected):
        await GuardedBackend(guard()[0], dial).connect_tcp("images.example", 443)
    assert dial.dialled == [(PUBLIC, 443)]


@pytest.mark.parametrize("host", ["10.0.0.5", "2130706433", "::1", "ten.example", "mixed.example"])
async def test_the_backend_never_dials_a_refused_host(host: str) -> None:
    dial = RecordingDial()
    with pytest.raises(Refused):
        await GuardedBackend(guard()[0], dial).connect_tcp(host, 80)
    assert dial.dialled == []


async def test_each_connection_is_checked_again_so_rebinding_finds_the_door_shut() -> None:
    checker, resolver = guard()
    dial = RecordingDial()
    backend = GuardedBackend(checker, dial)
    with pytest.raises(Connected):
        await backend.connect_tcp("images.example", 80)
    resolver.table["images.example"] = ["10.0.0.5"]  # the attacker's DNS answers differently now
    with pytest.raises(Refused):
        await backend.connect_tcp("images.example", 80)
    assert dial.dialled == [(PUBLIC, 80)]


async def test_the_next_checked_address_is_tried_when_one_is_down() -> None:
    checker, resolver = guard()
    resolver.table["two.example"] = [PUBLIC, "2606:4700::1111"]
    dial = RecordingDial(down=[PUBLIC])
    with pytest.raises(Connected):
        await GuardedBackend(checker, dial).connect_tcp("two.example", 80)
    assert dial.dialled == [(PUBLIC, 80), ("2606:4700::1111", 80)]


async def test_when_every_address_is_down_it_is_a_connect_error() -> None:
    checker, resolver = guard()
    resolver.table["two.example"] = [PUBLIC, "2606:4700::1111"]
    dial = RecordingDial(down=[PUBLIC, "2606:4700::1111"])
    with pytest.raises(httpcore.ConnectError):
        await GuardedBackend(checker, dial).connect_tcp("two.example", 80)
    assert dial.dialled == [(PUBLIC, 80), ("2606:4700::1111", 80)]


async def test_an_unknown_host_is_a_connect_error() -> None:
    with pytest.raises(httpcore.ConnectError):
        await GuardedBackend(guard()[0], RecordingDial()).connect_tcp("nowhere.example", 80)


async def test_unix_sockets_are_never_used() -> None:
    with pytest.raises(httpcore.ConnectError):
        await GuardedBackend(guard()[0], RecordingDial()).connect_unix_socket("/run/docker.sock")


def test_ipv4_embedding_reads_where_each_form_keeps_it() -> None:
    ten = IPv4Address("10.0.0.1")
    assert embedded_ipv4(IPv6Address("64:ff9b::a00:1")) == ten
    assert embedded_ipv4(IPv6Address("::ffff:10.0.0.1")) == ten
    assert embedded_ipv4(IPv6Address("2002:a00:1::")) == ten
    assert embedded_ipv4(IPv6Address("2606:4700::1111")) is None
