"""``H1Client``: httpx's ``AsyncClient`` on ``H1Transport``, with a short way for plain requests.

httpx's client runs every request through steps Discord REST never needs (auth flows,
redirects, event hooks, a log line) and some that cost the most: building ``httpx.Request``,
merging the client's headers into the request's (``httpx.Headers``) and the cookie jar
(``http.cookiejar`` through urllib request adapters). Measured per request (a loopback
server answering a JSON POST, CPU of the client, on a busy 2-core machine):
``AsyncClient.request`` on ``H1Transport`` 530-600 us, ``H1Client.direct`` 245 us (the
webhooks' bare ``KeepAliveClient.post``: 172 us). Every Midjourney job posts one interaction.

``direct`` writes what ``request`` would write, byte for byte: the request line and Host as
httpx forms them from the URL (parsed by httpx, once per URL), the client's default headers
(``Accept``, ``Accept-Encoding``, ``Connection``, ``User-Agent``) merged with the request's as
httpx merges them, the JSON body as httpx encodes it with its ``Content-Type`` and
``Content-Length``. It goes through ``H1Transport.exchange`` (same connections, time limits and
errors) and comes back as an ``httpx.Response`` read and decoded as ``request``'s would be,
except that it carries no ``request``.

Cookies are kept the way a browser keeps them for the sites it talks to, simplified: per host,
by name; a ``Set-Cookie`` with ``Max-Age`` <= 0 or an ``Expires`` in the past removes one;
``Domain``, ``Path`` and ``Secure`` are not consulted (each host is one API origin here), and
cookies do not expire while the process runs. They live apart from the client's own jar, which
``request`` keeps using for anything else (uploads, the Vary (Region) editor).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from mjapi.net.h1 import Origin
from mjapi.net.h1_transport import H1Transport, origin_of, response_of

#: Seconds every request may take when the caller sets no other timeout.
DEFAULT_TIMEOUT = 20.0


class H1Client(httpx.AsyncClient):
    """An ``AsyncClient`` whose ``direct`` skips httpx's generic request steps (module doc)."""

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, transport: H1Transport | None = None
    ) -> None:
        self._h1 = transport or H1Transport()
        super().__init__(timeout=timeout, transport=self._h1)
        self._limit = timeout
        #: lower-case name -> (name as sent, value): the client's default headers
        self._defaults = {
            name.decode("latin-1").lower(): (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.headers.raw
        }
        #: host -> cookie name -> value
        self._cookie_store: dict[str, dict[str, str]] = {}

    async def direct(
        self, method: str, url: str, *, json: Any = None, headers: Mapping[str, str]
    ) -> httpx.Response:
        """``request(method, url, json=json, headers=headers)`` without httpx's generic steps.

        The same bytes go on the wire (``tests/integration/test_h1_client_direct.py`` holds it
        to that); raises httpx's errors as ``request`` does, and ``UnicodeEncodeError`` for a
        header value that is not ASCII, as httpx does.
        """
        target = _target(method, url)
        body = b"" if json is None else _json_bytes(json)
        wire = b"".join((target.line, self._fields(headers, target.host), _framing(method, body)))
        status, head, content = await self._h1.exchange(
            target.origin, wire + body, method, self._limit, self._limit
        )
        response = response_of(status, head, content)
        await response.aread()
        self._keep_cookies(target.host, response)
        return response

    def _fields(self, headers: Mapping[str, str], host: str) -> bytes:
        """The header lines after Host, merged as httpx merges the client's and the request's:
        the defaults the request does not name, in their order, then the request's own."""
        named = {name.lower() for name in headers}
        merged = [pair for key, pair in self._defaults.items() if key not in named]
        merged.extend(headers.items())
        cookies = self._cookie_store.get(host)
        if cookies:
            merged.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items())))
        for field in merged:
            if any("\r" in part or "\n" in part for part in field):
                raise httpx.LocalProtocolError("a header contains a line break")
        text = "".join(f"{name}: {value}\r\n" for name, value in merged)
        return text.encode("ascii")  # httpx's own rule for header values given as text

    def _keep_cookies(self, host: str, response: httpx.Response) -> None:
        for line in response.headers.get_list("set-cookie"):
            parsed = parse_set_cookie(line)
            if parsed is None:
                continue
            name, value, alive = parsed
            jar = self._cookie_store.setdefault(host, {})
            if alive:
                jar[name] = value
            else:
                jar.pop(name, None)


def parse_set_cookie(line: str, now: datetime | None = None) -> tuple[str, str, bool] | None:
    """``(name, value, alive)`` of one ``Set-Cookie`` value; None when it names no cookie.

    ``alive`` is False when the server removes the cookie (``Max-Age`` <= 0, ``Expires`` past).
    """
    pair, *attributes = line.split(";")
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    # Only what can go back in a Cookie header: one odd byte kept would fail every later
    # request to the host (header values are ASCII), so such a cookie is ignored instead.
    if not eq or not name or not _sendable(name) or (value and not _sendable(value)):
        return None
    by_max_age: bool | None = None
    by_expires: bool | None = None
    for attribute in attributes:
        key, _, setting = attribute.partition("=")
        key = key.strip().lower()
        if key == "max-age":
            by_max_age = _max_age_alive(setting.strip())
        elif key == "expires":
            by_expires = _expires_alive(setting.strip(), now or datetime.now(UTC))
    # Max-Age wins over Expires (RFC 6265 §5.3 step 3).
    alive = by_max_age if by_max_age is not None else by_expires
    return name, value, alive is not False


def _sendable(text: str) -> bool:
    """Printable ASCII without spaces: what a cookie name or value may be sent as."""
    return text.isascii() and text.isprintable() and " " not in text


def _max_age_alive(setting: str) -> bool | None:
    try:
        return int(setting) > 0
    except ValueError:
        return None  # an unreadable Max-Age is ignored (RFC 6265 §5.2.2)


def _expires_alive(setting: str, now: datetime) -> bool | None:
    try:
        moment = parsedate_to_datetime(setting)
    except (TypeError, ValueError):
        return None  # an unreadable Expires is ignored (RFC 6265 §5.2.1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment > now


@dataclass(frozen=True)
class _Target:
    origin: Origin
    host: str
    #: the request line and the Host field, as httpx writes them
    line: bytes


@functools.lru_cache(maxsize=1024)
def _target(method: str, url: str) -> _Target:
    """``url`` parsed the way httpx parses it (percent-encoding, IDNA), once per URL."""
    parsed = httpx.URL(url)
    origin = origin_of(parsed)
    line = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (
        method.encode("ascii"),
        parsed.raw_path,
        parsed.netloc,
    )
    return _Target(origin, parsed.host, line)


def _json_bytes(value: Any) -> bytes:
    # Exactly httpx's encoding of ``json=`` (compact, UTF-8, no NaN).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _framing(method: str, body: bytes) -> bytes:
    """The body's fields and the blank line, as ``H1Transport`` frames httpx's requests."""
    if not body:
        return b"Content-Length: 0\r\n\r\n" if method in ("POST", "PUT", "PATCH") else b"\r\n"
    return b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
