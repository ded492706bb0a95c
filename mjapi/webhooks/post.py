"""One attempt: POST a delivery's exact body, signed, and say how it went."""

from __future__ import annotations

import asyncio

import httpx

from mjapi import __version__
from mjapi.clock import Clock
from mjapi.domain.deliveries import Attempt, Delivery
from mjapi.net.guard import Refused
from mjapi.webhooks import signing

USER_AGENT = f"mjapi/{__version__} (webhooks)"
#: Longest error text kept with an attempt.
ERROR_LIMIT = 300


async def post(
    client: httpx.AsyncClient, clock: Clock, delivery: Delivery, secret: str, limit: float
) -> Attempt:
    """POST ``delivery`` once; never raises for anything the receiver or network does."""
    at, started = clock.now(), clock.monotonic()
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signing.headers(secret, delivery.event_id, int(at.timestamp()), delivery.body),
    }
    status: int | None = None
    error: str | None = None
    try:
        # The whole exchange is bounded, not only each read: a receiver that drips bytes must
        # not hold the attempt forever.
        async with asyncio.timeout(limit):
            # Streamed and never read: a receiver's answer body is not ours to hold in memory.
            request = client.stream("POST", delivery.url, content=delivery.body, headers=headers)
            async with request as response:
                status = response.status_code
    except Refused as refusal:
        error = f"refused by the URL guard: {refusal.why}"
    except TimeoutError:
        error = f"no answer within {limit:g} s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if status is not None and not 200 <= status < 300:
        error = f"answered HTTP {status}"
    duration = round((clock.monotonic() - started) * 1000)
    number = delivery.attempt_count + 1
    return Attempt(number, at, duration, status, error[:ERROR_LIMIT] if error else None)
