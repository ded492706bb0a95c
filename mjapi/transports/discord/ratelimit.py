"""Discord REST rate limits and retries for one token (reference §1.8).

Discord announces its limits on every answer: ``X-RateLimit-Bucket`` names the bucket a route
belongs to, ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset-After`` say how many requests are
left in it and when it refills. A 429 says how long to wait (``retry_after`` in the body, else the
``Retry-After`` header) and whether the limit is global (every route of the token) or only the
bucket's. Coming back early earns another 429 and, repeated, a temporary ban, so nothing is sent
before the moment Discord named. No examined peer reads these headers (§1.8 "Client-side
pacing"); they guess fixed pauses instead.

``RateLimits`` is the pure bookkeeping (clock injected). ``RateLimiter`` is the async part: it
waits (through an injected sleep), sends, reads the answer and retries 429s within a bounded total
wait, and 5xx answers and connection failures with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mjapi.errors import RateLimited
from mjapi.transports.discord.backoff import Backoff

log = logging.getLogger(__name__)

#: Used when a 429 carries neither a body ``retry_after`` nor a ``Retry-After`` header.
DEFAULT_RETRY_AFTER = 5.0
#: Path segments whose id is a "major parameter": it splits a route into separate buckets.
MAJOR_PARAMETERS = frozenset({"channels", "guilds"})
#: Answers that usually mean Discord (or Cloudflare in front of it) hiccuped.
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
#: Tokens whose limiter a pool keeps (attached accounts and recently identified tokens).
POOL_SIZE = 1024
#: Methods that may be repeated after a failure whose request may have reached Discord.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

Sleep = Callable[[float], Awaitable[None]]
#: Awaited before every attempt of a request (the first one and each retry).
Prepare = Callable[[], Awaitable[None]]


def route_key(method: str, path: str) -> str:
    """``POST /channels/123/messages/{id}``: the route a request counts against.

    Channel and guild ids are kept (Discord buckets per channel/guild); every other id, and the
    emoji of a reaction, is a parameter of the same route.
    """
    parts = path.split("?", 1)[0].strip("/").split("/")
    kept: list[str] = []
    for index, part in enumerate(parts):
        previous = parts[index - 1] if index else ""
        if previous == "reactions":
            kept.append("{emoji}")
        elif part.isdigit() and previous not in MAJOR_PARAMETERS:
            kept.append("{id}")
        else:
            kept.append(part)
    return f"{method.upper()} /{'/'.join(kept)}"


@dataclass(frozen=True)
class BucketState:
    """What an answer's ``X-RateLimit-*`` headers say about its bucket."""

    bucket: str | None
    remaining: int | None
    reset_after: float | None


@dataclass(frozen=True)
class Refusal:
    """A 429: wait ``retry_after`` seconds, on every route of the token when ``is_global``."""

    retry_after: float
    is_global: bool


def read_headers(headers: Mapping[str, str]) -> BucketState:
    """The bucket state an answer announces (missing or malformed headers: None)."""
    remaining = _number(headers.get("X-RateLimit-Remaining"))
    return BucketState(
        bucket=headers.get("X-RateLimit-Bucket") or None,
        remaining=int(remaining) if remaining is not None else None,
        reset_after=_number(headers.get("X-RateLimit-Reset-After")),
    )


def read_refusal(headers: Mapping[str, str], body: Mapping[str, Any]) -> Refusal:
    """How long a 429 asks to wait, and whether it is global."""
    # Discord puts seconds (float) in the body (capture 34) and whole seconds in the header.
    retry_after = _number(body.get("retry_after"))
    if retry_after is None:
        retry_after = _number(headers.get("Retry-After"))
    is_global = body.get("global") is True or headers.get("X-RateLimit-Global", "") == "true"
    return Refusal(DEFAULT_RETRY_AFTER if retry_after is None else retry_after, is_global)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) and number >= 0 else None


@dataclass
class _Bucket:
    """Requests left in a bucket and when it refills (monotonic seconds)."""

    remaining: int | None = None
    reset_at: float = -math.inf


class RateLimits:
    """One token's buckets and global block: when may a request on a route go out (pure)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        #: route key -> bucket id, as Discord told; unknown routes are their own bucket
        self._bucket_ids: dict[str, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._global_until = -math.inf

    def wait_before(self, route: str) -> float:
        """Seconds to wait before a request on ``route`` may be sent (0: now)."""
        now = self._clock()
        until = self._global_until
        bucket = self._buckets.get(self._bucket_id(route))
        if bucket is not None and bucket.remaining == 0:
            until = max(until, bucket.reset_at)
        return max(until - now, 0.0)

    def sent(self, route: str) -> None:
        """A request on ``route`` goes out now: it uses one of the bucket's remaining requests."""
        bucket = self._buckets.get(self._bucket_id(route))
        if bucket is None:
            return
        if self._clock() >= bucket.reset_at:
            bucket.remaining = None  # the window refilled; the answer will tell the new count
        elif bucket.remaining:
            bucket.remaining -= 1

    def learn(self, route: str, state: BucketState) -> None:
        """Record what an answer on ``route`` announced."""
        if state.bucket is not None and self._bucket_ids.get(route) != state.bucket:
            provisional = self._buckets.pop(route, None)
            self._bucket_ids[route] = state.bucket
            if provisional is not None:
                self._buckets.setdefault(state.bucket, provisional)
        if state.remaining is None or state.reset_after is None:
            return
        bucket = self._buckets.setdefault(self._bucket_id(route), _Bucket())
        bucket.remaining = state.remaining
        bucket.reset_at = self._clock() + state.reset_after

    def refused(self, route: str, refusal: Refusal) -> None:
        """A 429 on ``route``: block the bucket, or the whole token, for ``retry_after``."""
        until = self._clock() + refusal.retry_after
        if refusal.is_global:
            self._global_until = max(self._global_until, until)
            return
        bucket = self._buckets.setdefault(self._bucket_id(route), _Bucket())
        bucket.remaining = 0
        bucket.reset_at = max(bucket.reset_at, until)

    def _bucket_id(self, route: str) -> str:
        return self._bucket_ids.get(route, route)


@dataclass(frozen=True)
class RetryRules:
    """How long and how often one request may be retried."""

    #: 429s retried per request before giving up with ``RateLimited``
    rate_limit_retries: int = 3
    #: total seconds one request may spend waiting for rate limits before giving up
    max_wait: float = 30.0
    #: tries for a 5xx answer or a connection failure, the first one included
    attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 8.0


class RateLimiter:
    """Every Discord REST request of one token goes through ``send``."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        rules: RetryRules | None = None,
    ) -> None:
        self.limits = RateLimits(clock)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rules = rules or RetryRules()
        self._locks: dict[str, asyncio.Lock] = {}
        # One request of the token on the wire at a time: what an answer announces (a global
        # 429, a used-up bucket) is known before the next request leaves. Waits happen outside.
        self._wire = asyncio.Lock()

    async def send(
        self,
        method: str,
        path: str,
        request: Callable[[], Awaitable[httpx.Response]],
        *,
        prepare: Prepare | None = None,
    ) -> httpx.Response:
        """The answer to ``request()``, sent no earlier than the limits allow.

        ``prepare`` runs before every attempt, ahead of the wait for the limits (so that time
        spent in it can never make a request early), e.g. to wait for a gateway session.

        Returns the last answer (a 429 or 5xx when the retries ran out: the caller maps it);
        raises ``RateLimited`` when the wait before sending alone exceeds the budget, and the
        last ``httpx.TransportError`` when connecting kept failing.
        """
        route = route_key(method, path)
        # The requests of one route go in turn (first come, first sent).
        async with self._locks.setdefault(route, asyncio.Lock()):
            attempts = _Attempts(
                route,
                idempotent=method.upper() in IDEMPOTENT_METHODS,
                wire=self._wire,
                limits=self.limits,
                rules=self._rules,
                sleep=self._sleep,
                backoff=Backoff(
                    base=self._rules.backoff_base, cap=self._rules.backoff_cap, rng=self._rng
                ),
            )
            return await attempts.run(request, prepare)


class RateLimiterPool:
    """One ``RateLimiter`` per token: Discord counts a user's requests across all its clients."""

    def __init__(
        self, make: Callable[[], RateLimiter] = RateLimiter, size: int = POOL_SIZE
    ) -> None:
        self._make = make
        self._size = size
        self._limiters: dict[str, RateLimiter] = {}

    def for_token(self, token: str) -> RateLimiter:
        """The token's limiter (kept by digest: the pool holds no token)."""
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        limiter = self._limiters.pop(key, None) or self._make()
        self._limiters[key] = limiter  # the most recently used last
        if len(self._limiters) > self._size:
            del self._limiters[next(iter(self._limiters))]
        return limiter


class _Attempts:
    """The tries of one request."""

    def __init__(
        self,
        route: str,
        *,
        idempotent: bool,
        wire: asyncio.Lock,
        limits: RateLimits,
        rules: RetryRules,
        sleep: Sleep,
        backoff: Backoff,
    ) -> None:
        self._route = route
        self._idempotent = idempotent
        self._wire = wire
        self._limits = limits
        self._rules = rules
        self._sleep = sleep
        self._backoff = backoff
        self._waited = 0.0
        self._refusals = 0
        self._failures = 0

    async def run(
        self, request: Callable[[], Awaitable[httpx.Response]], prepare: Prepare | None
    ) -> httpx.Response:
        while True:
            if prepare is not None:
                await prepare()
            await self._wait_until_allowed()
            try:
                response = await self._exchange(request)
            except httpx.TransportError as exc:
                if not self._may_retry_failure(exc):
                    raise
                await self._back_off(type(exc).__name__)
                continue
            if response is None:
                continue  # an answer to another request changed the limits meanwhile
            if response.status_code == 429:
                if self._gives_up_after_refusal(response):
                    return response
                continue  # the wait before the next try now covers retry_after
            if response.status_code in RETRIED_STATUSES and self._failed_once_more():
                await self._back_off(f"HTTP {response.status_code}")
                continue
            return response

    async def _exchange(
        self, request: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | None:
        """Send and read the answer, unless the limits forbid it by now (None)."""
        async with self._wire:
            if self._limits.wait_before(self._route) > 0:
                return None
            self._limits.sent(self._route)
            response = await request()
            self._limits.learn(self._route, read_headers(response.headers))
            if response.status_code == 429:
                refusal = read_refusal(response.headers, _json_object(response))
                self._limits.refused(self._route, refusal)
            return response

    async def _wait_until_allowed(self) -> None:
        # A loop, not one sleep: a global 429 on another route may arrive meanwhile, and the
        # event loop may wake a timer a hair early.
        while (wait := self._limits.wait_before(self._route)) > 0:
            if self._waited + wait > self._rules.max_wait:
                raise RateLimited(wait, f"Discord rate limit: {self._route} blocked for {wait:g}s")
            await self._sleep(wait)
            self._waited += wait

    def _gives_up_after_refusal(self, response: httpx.Response) -> bool:
        refusal = read_refusal(response.headers, _json_object(response))
        self._refusals += 1
        scope = "global" if refusal.is_global else "bucket"
        log.info("Discord 429 (%s) on %s: retry after %gs", scope, self._route, refusal.retry_after)
        return (
            self._refusals > self._rules.rate_limit_retries
            or self._waited + refusal.retry_after > self._rules.max_wait
        )

    def _may_retry_failure(self, exc: httpx.TransportError) -> bool:
        # A request that never connected was not sent: safe to repeat for any method. Other
        # failures (read timeout, dropped answer) may have reached Discord: a repeated POST
        # /interactions could start a second Midjourney job, so only idempotent ones retry.
        unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        return (unsent or self._idempotent) and self._failed_once_more()

    def _failed_once_more(self) -> bool:
        self._failures += 1
        return self._failures < self._rules.attempts

    async def _back_off(self, why: str) -> None:
        delay = self._backoff.next_delay()
        log.info("Discord %s on %s; retrying in %.2fs", why, self._route, delay)
        await self._sleep(delay)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
