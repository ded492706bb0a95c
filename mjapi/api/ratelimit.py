"""Per-user request rate limit: a token bucket per API user (pure; the clock is injected).

Every authenticated request takes one token; tokens refill at ``rate`` per second up to
``burst``. An empty bucket answers 429 with ``Retry-After`` (the seconds until a token is back),
so one client's loop cannot starve the others' requests or the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    refilled: float


class RequestLimiter:
    """Token buckets by user id. ``rate <= 0`` turns the limit off."""

    def __init__(self, rate: float, burst: int, monotonic: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = max(1, burst)
        self._monotonic = monotonic
        self._buckets: dict[int, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def take(self, user_id: int) -> float | None:
        """Take a token; None when allowed, else the seconds to wait before retrying."""
        if not self.enabled:
            return None
        now = self._monotonic()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(float(self._burst), now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.refilled) * self._rate)
        bucket.refilled = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1.0, math.ceil((1 - bucket.tokens) / self._rate))
