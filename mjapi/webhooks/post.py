"""One attempt: POST a delivery's exact body, signed, and say how it went.

The answer's status decides the attempt; its body is read and dropped, at most ``ANSWER_LIMIT``
bytes of it. Reading it to the end is what lets the connection serve the receiver's next
callback (httpcore keeps a connection only once its response is complete): without it every
callback paid a new TCP connection. A longer answer is abandoned and its connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator
from typing import cast

import httpx

from mjapi import __version__
from mjapi.clock import Clock
from mjapi.domain.deliveries import Attempt, Delivery
from mjapi.net.guard import Refused
from mjapi.webhooks import signing

USER_AGENT = f"mjapi/{__version__} (webhooks)"
#: Longest error text kept with an attempt.
ERROR_LIMIT = 300
#: Most bytes of a receiver's answer read to keep its connection; beyond it, it is closed.
ANSWER_LIMIT = 64 * 1024
#: Receiver URLs kept parsed (a handful in practice; the bound only caps memory).
PARSED_URLS = 1024


async def post(
    client: httpx.AsyncClient, clock: Clock, delivery: Delivery, secret: str, limit: float
) -> Attempt:
    """POST ``delivery`` once; never raises for anything the receiver or network does.

    ``limit`` bounds the whole exchange, answer body included. Once the status has arrived it is
    the outcome: a body that is too long, too slow or broken only costs its connection.
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
    client: httpx.AsyncClient, delivery: Delivery, headers: dict[str, str], limit: float
) -> tuple[int | None, str | None]:
    """The answer's status (None if none came) and what went wrong (None if nothing did)."""
    status: int | None = None
    try:
        # The whole exchange is bounded, not only each read: a receiver that drips bytes must
        # not hold the attempt forever.
        async with asyncio.timeout(limit):
            url = parsed_url(delivery.url)
            request = client.stream("POST", url, content=delivery.body, headers=headers)
            async with request as response:
                status = response.status_code
                await discard_answer(response)
    except Refused as refusal:
        return status, f"refused by the URL guard: {refusal.why}"
    except TimeoutError:
        return status, f"no answer within {limit:g} s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return status, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return status, None


async def discard_answer(response: httpx.Response, limit: int = ANSWER_LIMIT) -> None:
    """Read ``response``'s body to its end and drop it, unless it is longer than ``limit``.

    At most one network read (64 KiB in httpcore) is held at a time. The raw bytes are read, not
    decoded ones: a compressed answer could inflate a 64 KiB read a thousandfold. Returning
    early leaves the body unfinished, so closing the response closes its connection.
    """
    if response.is_stream_consumed:
        return  # answered from memory (a mock transport): no connection to free
    left = limit
    # An async generator (typed as a mere iterator): closed at once when abandoned.
    raw = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    async with contextlib.aclosing(raw) as parts:
        async for part in parts:
            left -= len(part)
            if left < 0:
                return


@functools.lru_cache(maxsize=PARSED_URLS)
def parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: httpx parses a string URL on every request (measured: about a third
    of building one), and a receiver's callbacks all go to the same few URLs.
    """
    return httpx.URL(url)


def _error(status: int | None, failure: str | None) -> str | None:
    """The attempt's error: the answer's status when one came, else what went wrong."""
    if status is None:
        return failure
    return None if 200 <= status < 300 else f"answered HTTP {status}"
