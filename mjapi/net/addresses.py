"""Which IP addresses the server may connect to on a client's behalf. Pure: no sockets, no DNS.

``forbidden_reason`` names why an address is off limits (private, loopback, cloud metadata, ...)
or returns ``None`` for a public one. Explicit range tables come first, so the reason is exact
and does not depend on the Python patch release (``ipaddress``'s own lists changed in 3.11.x and
3.12.x); the ``ipaddress`` properties are the backstop for anything the tables miss.

``ip_literal`` reads a URL host the way the C resolver would: besides the usual dotted quad and
IPv6 it accepts the legacy numeric forms (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``)
that ``getaddrinfo`` turns into addresses without any DNS, and that a naive check would take for
host names.
"""

from __future__ import annotations

import string
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

LOOPBACK = "a loopback address"
PRIVATE = "a private address"
LINK_LOCAL = "a link-local address"
METADATA = "a cloud metadata address"
SHARED = "a carrier-grade NAT address"
MULTICAST = "a multicast address"
UNSPECIFIED = "an unspecified address"
RESERVED = "a reserved address"
NOT_GLOBAL = "a non-public address"

_V4_RANGES: tuple[tuple[Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("169.254.169.254/32", METADATA),  # AWS, GCP, Azure, OpenStack instance metadata
        ("0.0.0.0/8", UNSPECIFIED),  # "this network": 0.0.0.0 reaches the local host on Linux
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", SHARED),  # RFC 6598; also Alibaba's metadata at 100.100.100.200
        ("127.0.0.0/8", LOOPBACK),
        ("169.254.0.0/16", LINK_LOCAL),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", RESERVED),  # IETF protocol assignments (Oracle metadata 192.0.0.192)
        ("192.0.2.0/24", RESERVED),  # documentation
        ("192.88.99.0/24", RESERVED),  # 6to4 relay anycast
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", RESERVED),  # benchmarking
        ("198.51.100.0/24", RESERVED),  # documentation
        ("203.0.113.0/24", RESERVED),  # documentation
        ("224.0.0.0/4", MULTICAST),
        ("240.0.0.0/4", RESERVED),  # includes the broadcast address 255.255.255.255
    )
)

#: Checked before the IPv4-embedding forms below: ``::`` and ``::1`` sit inside ``::/96``.
_V6_FIRST: tuple[tuple[Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("fd00:ec2::254/128", METADATA),  # AWS instance metadata over IPv6
    )
)

_V6_RANGES: tuple[tuple[Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("::/8", RESERVED),
        ("64:ff9b:1::/48", RESERVED),  # local-use NAT64 (RFC 8215): may translate to anything
        ("100::/64", RESERVED),  # discard-only
        ("2001::/23", RESERVED),  # IETF protocol assignments, Teredo (2001::/32) included
        ("2001:db8::/32", RESERVED),  # documentation
        ("3fff::/20", RESERVED),  # documentation (RFC 9637)
        ("5f00::/16", RESERVED),  # SRv6 SIDs
        ("fc00::/7", PRIVATE),  # unique local
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", PRIVATE),  # deprecated site-local
        ("ff00::/8", MULTICAST),
    )
)

#: IPv6 forms that carry an IPv4 address in their low 32 bits and reach it when connected to.
_V4_IN_LOW_BITS: tuple[IPv6Network, ...] = tuple(
    IPv6Network(network)
    for network in (
        "::ffff:0:0/96",  # IPv4-mapped: a dual-stack socket connects to the IPv4 address
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b::/96",  # well-known NAT64 prefix
        "::/96",  # deprecated IPv4-compatible
    )
)


def forbidden_reason(address: Address) -> str | None:
    """Why the server must not connect to ``address`` ("a private address"), or None."""
    if isinstance(address, IPv6Address):
        return _ipv6_reason(address)
    return _in_table(address, _V4_RANGES) or _by_properties(address)


def _ipv6_reason(address: IPv6Address) -> str | None:
    # A scope id (fe80::1%eth0) does not change what the address is.
    bare = IPv6Address(address.packed)
    reason = _in_table(bare, _V6_FIRST)
    if reason is not None:
        return reason
    embedded = embedded_ipv4(bare)
    if embedded is not None:
        # The wrapper goes where the IPv4 address goes: judge that one.
        return forbidden_reason(embedded)
    return _in_table(bare, _V6_RANGES) or _by_properties(bare)


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64, IPv4-compatible or 6to4 address leads to."""
    if any(address in network for network in _V4_IN_LOW_BITS):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _in_table(address: Address, table: tuple[tuple[Network, str], ...]) -> str | None:
    for network, reason in table:
        if address in network:
            return reason
    return None


def _by_properties(address: Address) -> str | None:
    """The backstop: whatever ``ipaddress`` knows to be special is refused too."""
    checks = (
        (address.is_loopback, LOOPBACK),
        (address.is_link_local, LINK_LOCAL),
        (address.is_multicast, MULTICAST),
        (address.is_unspecified, UNSPECIFIED),
        (address.is_private, PRIVATE),
        (address.is_reserved, RESERVED),
        (not address.is_global, NOT_GLOBAL),
    )
    return next((reason for matches, reason in checks if matches), None)


class MalformedHost(ValueError):
    """A host that ends in a number but is no valid IPv4 address (``1.2.3.999``, ``0x7g``)."""


def ip_literal(host: str) -> Address | None:
    """The address a URL host names literally, or None for a host name to resolve.

    ``host`` is the URL's host without IPv6 brackets. Raises ``MalformedHost`` for numeric hosts
    that are no address: the C resolver would interpret them in platform-specific ways.
    """
    if ":" in host:
        try:
            return ip_address(host)
        except ValueError as exc:
            raise MalformedHost(host) from exc
    name = host.removesuffix(".")  # "127.0.0.1." is still 127.0.0.1
    if not _ends_in_number(name):
        return None
    found = _legacy_ipv4(name)
    if found is None:
        raise MalformedHost(host)
    return found


def _ends_in_number(name: str) -> bool:
    """The WHATWG URL rule: a host whose last label is numeric must be an IPv4 address."""
    last = name.rsplit(".", 1)[-1]
    return _number(last) is not None


def _legacy_ipv4(name: str) -> IPv4Address | None:
    """``inet_aton``'s forms: 1 to 4 parts, each decimal, octal (0...) or hex (0x...).

    The last part fills the bytes the earlier ones left: ``127.1`` is 127.0.0.1.
    """
    parts = name.split(".")
    if len(parts) > 4:
        return None
    numbers = [_number(part) for part in parts]
    head, last = numbers[:-1], numbers[-1]
    if last is None or any(n is None or n > 255 for n in head):
        return None
    if last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for position, byte in enumerate(head):
        value += (byte or 0) << (8 * (3 - position))
    return IPv4Address(value)


def _number(part: str) -> int | None:
    """One numeric part, or None. Checked by hand: ``int()`` also takes ``_``, spaces and ``١``."""
    if part[:2].lower() == "0x":
        digits, base, alphabet = part[2:], 16, string.hexdigits
    elif len(part) > 1 and part.startswith("0"):
        digits, base, alphabet = part[1:], 8, string.octdigits
    else:
        digits, base, alphabet = part, 10, string.digits
    if base == 10 and not digits:
        return None
    if not all(c in alphabet for c in digits):
        return None
    return int(digits, base) if digits else 0
