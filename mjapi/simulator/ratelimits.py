"""Discord's per-route REST rate limits, as the simulator enforces them (reference §1.8). Pure.

Every token has one bucket per route template and major parameter (the channel or guild id in
the path, as Discord counts): a fixed window of ``limit`` requests per ``window`` seconds.
Answers carry Discord's ``X-RateLimit-*`` headers, so a client can pace itself from them instead
of guessing (no examined project does; reference §1.8 "Client-side pacing").

The simulator also tells *how well* a client honours them: a request that arrives before the
moment the simulator announced (after a 429: ``now + retry_after``; after an answer with
``Remaining: 0``: its reset time) is *early*. Early requests are counted and answered 429 again,
so a client that retries at once cannot succeed by luck. ``TOLERANCE`` absorbs clock and
scheduling jitter between the two processes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

from mjapi.clock import Clock

#: the REST routes by the key ``rate_limits`` and fault rules name them
ROUTE_KEYS = frozenset(
    {
        "gateway",  # GET /gateway
        "users_me",  # GET /users/@me
        "country_code",  # GET /users/@me/billing/country-code
        "my_channels",  # GET /users/@me/channels
        "open_dm",  # POST /users/@me/channels
        "channel",  # GET /channels/{id}
        "messages",  # GET /channels/{id}/messages
        "command_index",  # GET /channels/{id}/application-command-index
        "guild_command_index",  # GET /guilds/{id}/application-command-index
        "my_guilds",  # GET /users/@me/guilds
        "guild_channels",  # GET /guilds/{id}/channels
        "attachments",  # POST /channels/{id}/attachments
        "reactions",  # PUT|DELETE /channels/{id}/messages/{id}/reactions/{emoji}/@me
        "interactions",  # POST /interactions
    }
)
#: the ``rate_limits`` key that applies to every route not named there
DEFAULT_KEY = "default"
#: generous enough that no well-behaved test ever meets it
DEFAULT_LIMIT = (50, 1.0)
DEFAULT_RATE_LIMITS: Mapping[str, tuple[int, float]] = {DEFAULT_KEY: DEFAULT_LIMIT}
#: how much before the announced moment a request may come without being early (seconds)
TOLERANCE = 0.005


def check_limits(limits: Mapping[str, tuple[int, float]]) -> None:
    """Raise ValueError for an unknown route key, a limit below 1 or a window not above 0."""
    unknown = set(limits) - ROUTE_KEYS - {DEFAULT_KEY}
    if unknown:
        raise ValueError(f"unknown rate limit route(s) {sorted(unknown)}; known: {_known()}")
    for key, (limit, window) in limits.items():
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit {key!r}: limit must be >= 1 and window > 0")


def _known() -> list[str]:
    return sorted(ROUTE_KEYS | {DEFAULT_KEY})


def bucket_id(route: str) -> str:
    """An opaque id per route template, stable across runs (Discord's look like hex hashes)."""
    return hashlib.sha256(f"mjapi-simulator-bucket:{route}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Allowed:
    """The request may proceed; what its answer's headers say about the bucket."""

    bucket: str
    limit: int
    remaining: int
    reset_after: float


@dataclass(frozen=True)
class Refused:
    """A 429: wait ``retry_after`` seconds (on every route of the token if ``is_global``)."""

    bucket: str
    limit: int
    retry_after: float
    is_global: bool
    #: the client came before the moment it had been told
    early: bool


@dataclass
class _Bucket:
    """One token's window on one route (monotonic seconds)."""

    window_end: float = -math.inf
    count: int = 0
    #: no request before this moment (after a 429, or once the window was used up)
    not_before: float = -math.inf


class RateLimiter:
    """Per-token, per-route fixed windows and the moments before which a client must not come."""

    def __init__(self, limits: Mapping[str, tuple[int, float]], clock: Clock) -> None:
        check_limits(limits)
        self._limits = dict(limits)
        self._clock = clock
        #: (token, route, major parameter) -> its window
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        #: token -> no request at all before this moment (after a global 429)
        self._global_not_before: dict[str, float] = {}

    def limit_of(self, route: str) -> tuple[int, float]:
        return self._limits.get(route, self._limits.get(DEFAULT_KEY, DEFAULT_LIMIT))

    def early(self, token: str, route: str, major: str = "") -> Refused | None:
        """A 429 when the request comes before the token or the bucket may send again."""
        now = self._clock.monotonic()
        global_until = self._global_not_before.get(token, -math.inf)
        if now < global_until - TOLERANCE:
            return self._refusal(route, global_until - now, is_global=True, early=True)
        bucket = self._bucket(token, route, major)
        if now < bucket.not_before - TOLERANCE:
            return self._refusal(route, bucket.not_before - now, is_global=False, early=True)
        return None

    def admit(self, token: str, route: str, major: str = "") -> Allowed | Refused:
        """Count the request in its window: the headers of its answer, or a 429 if full."""
        now = self._clock.monotonic()
        limit, window = self.limit_of(route)
        bucket = self._bucket(token, route, major)
        if now >= bucket.window_end - TOLERANCE:
            bucket.window_end, bucket.count = now + window, 0
        if bucket.count >= limit:
            # a client that asks ``early`` first never gets here: its request was early
            bucket.not_before = bucket.window_end
            return self._refusal(route, bucket.window_end - now, is_global=False, early=False)
        bucket.count += 1
        if bucket.count == limit:
            bucket.not_before = bucket.window_end
        reset_after = max(bucket.window_end - now, 0.0)
        return Allowed(bucket_id(route), limit, limit - bucket.count, _ceil_ms(reset_after))

    def penalize(
        self, token: str, route: str, retry_after: float, is_global: bool, major: str = ""
    ) -> Refused:
        """An injected 429: from now on the client must wait ``retry_after`` seconds."""
        until = self._clock.monotonic() + retry_after
        if is_global:
            self._global_not_before[token] = until
        else:
            self._bucket(token, route, major).not_before = until
        limit, _ = self.limit_of(route)
        return Refused(bucket_id(route), limit, retry_after, is_global, early=False)

    def _bucket(self, token: str, route: str, major: str) -> _Bucket:
        return self._buckets.setdefault((token, route, major), _Bucket())

    def _refusal(self, route: str, wait: float, *, is_global: bool, early: bool) -> Refused:
        limit, _ = self.limit_of(route)
        return Refused(bucket_id(route), limit, max(_ceil_ms(wait), 0.001), is_global, early)


def _ceil_ms(seconds: float) -> float:
    """Rounded up to the millisecond, so waiting exactly that long is never early."""
    return math.ceil(round(seconds * 1000, 6)) / 1000


def headers(verdict: Allowed | Refused, now_epoch: float) -> dict[str, str]:
    """Discord's rate limit headers for an answer (``now_epoch``: wall-clock seconds)."""
    if isinstance(verdict, Allowed):
        remaining, reset_after = verdict.remaining, verdict.reset_after
    else:
        remaining, reset_after = 0, verdict.retry_after
    result = {
        "X-RateLimit-Limit": str(verdict.limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{now_epoch + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": verdict.bucket,
    }
    if isinstance(verdict, Refused):
        result["Retry-After"] = str(math.ceil(verdict.retry_after))
        result["X-RateLimit-Scope"] = "user"
        if verdict.is_global:
            result["X-RateLimit-Global"] = "true"
    return result


def refusal_body(verdict: Refused) -> dict[str, object]:
    """The JSON of a 429 (reference §1.8; Discord's wording for a user's own limit)."""
    return {
        "message": "You are being rate limited.",
        "retry_after": verdict.retry_after,
        "global": verdict.is_global,
    }
