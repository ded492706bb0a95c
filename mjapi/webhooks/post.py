"""One attempt: POST a delivery's exact body, signed, and say how it went.

The answer's status decides the attempt. The client (``CallbackClient``; in the server
``mjapi.net.h1.KeepAliveClient``) reads and drops the answer's body so that the connection can
carry the receiver's next callback, and gives up only the connection when that body is too long,
too slow or broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from mjapi import __version__
from mjapi.clock import Clock
from mjapi.domain.deliveries import Attempt, Delivery
from mjapi.net.guard import Refused
from mjapi.net.h1 import CallFailed
from mjapi.webhooks import signing

USER_AGENT = f"mjapi/{__version__} (webhooks)"
#: Longest error text kept with an attempt.
ERROR_LIMIT = 300


class CallbackClient(Protocol):
    """What the outbox needs of HTTP: POST a body, learn the status."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], limit: float) -> int:
        """The answer's status; raises ``Refused``, ``TimeoutError`` or ``CallFailed``."""
        ...

    async def aclose(self) -> None: ...


async def post(
    client: CallbackClient, clock: Clock, delivery: Delivery, secret: str, limit: float
) -> Attempt:
    """POST ``delivery`` once; never raises for anything the receiver or network does.

    ``limit`` bounds the whole exchange, answer body included.
    """
    at, started = clock.now(), clock.monotonic()
    headers = signing.headers(secret, delivery.event_id, int(at.timestamp()), delivery.body)
    headers["content-type"] = "application/json"
    headers["user-agent"] = USER_AGENT
    status, failure = await _exchange(client, delivery, headers, limit)
    error = _error(status, failure)
    duration = round((clock.monotonic() - started) * 1000)
    number = delivery.attempt_count + 1
    return Attempt(number, at, duration, status, error[:ERROR_LIMIT] if error else None)


async def _exchange(
    client: CallbackClient, delivery: Delivery, headers: Mapping[str, str], limit: float
) -> tuple[int | None, str | None]:
    """The answer's status (None if none came) and what went wrong (None if nothing did)."""
    try:
        return await client.post(delivery.url, delivery.body.encode(), headers, limit), None
    except Refused as refusal:
        return None, f"refused by the URL guard: {refusal.why}"
    except TimeoutError:
        return None, f"no answer within {limit:g} s"
    except CallFailed as exc:
        return None, str(exc)


def _error(status: int | None, failure: str | None) -> str | None:
    """The attempt's error: the answer's status when one came, else what went wrong."""
    if status is None:
        return failure
    return None if 200 <= status < 300 else f"answered HTTP {status}"
