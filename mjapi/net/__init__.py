"""Outbound URL safety: the server only fetches or calls public http(s) addresses.

Clients name URLs the server connects to (``blendUrls``, ``describeUrl``, ``replyUrl``). Without
care that is server-side request forgery: ``http://169.254.169.254/`` reads cloud credentials,
``http://127.0.0.1:5432/`` probes the database. The rules, in one place:

- **Scheme** http or https only (``guard.target_of``).
- **Addresses**: the host is resolved (``getaddrinfo`` through the event loop; the resolver is
  injectable) and *every* address must be public. Private, loopback, link-local, multicast,
  unspecified, reserved, carrier-grade NAT and cloud metadata addresses are refused, including
  their IPv4-mapped, NAT64, IPv4-compatible and 6to4 IPv6 forms (``addresses.py``). IP literals,
  also in the legacy numeric forms (``http://2130706433/``, ``http://0x7f.1/``), are checked the
  same way.
- **Pinning**: the check happens inside the connection itself. ``transport.GuardedBackend`` is
  the network backend of httpcore (httpx's engine): asked to connect to ``images.example:443``,
  it resolves the name, checks the answers and opens the socket to the checked IP. There is no
  second lookup an attacker's DNS could answer differently (rebinding), and because only the
  socket's destination changes, TLS still sends SNI and verifies the certificate for the name,
  and the Host header is the URL's. Rewriting URLs to IPs would have to redo all three by hand.
- **Callbacks** (``h1.KeepAliveClient``) open their connections the same way: resolve, check every
  address, dial a checked address (``dial.Dial``), start TLS with the URL's host name.
- **Redirects** are followed by the caller, one hop at a time (at most 5, see ``fetch.py``); each
  hop opens its connections through the same backend, so each is checked.

``MJAPI_ALLOW_PRIVATE_URLS`` switches the address rules off (development, the demo, tests with
loopback receivers); the scheme rule stays.
"""

from mjapi.net.guard import Refused, ResolutionFailed, Resolver, UrlGuard, refused_url
from mjapi.net.transport import GuardedTransport, Outbound

__all__ = [
    "GuardedTransport",
    "Outbound",
    "Refused",
    "ResolutionFailed",
    "Resolver",
    "UrlGuard",
    "refused_url",
]
