"""Per-user request rate limit and the verified-token cache (pure, injected clock)."""

from __future__ import annotations

from mjapi.api.ratelimit import RequestLimiter
from mjapi.api.token_cache import TokenCache
from mjapi.domain.tokens import hash_token


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_the_user_waits() -> None:
    ticks = Ticks()
    limiter = RequestLimiter(rate=2, burst=3, monotonic=ticks)
    assert [limiter.take(1) for _ in range(3)] == [None, None, None]
    assert limiter.take(1) == 1.0
    ticks.now += 0.5  # one token back at 2 per second
    assert limiter.take(1) is None
    assert limiter.take(1) is not None


def test_users_have_separate_buckets() -> None:
    limiter = RequestLimiter(rate=1, burst=1, monotonic=Ticks())
    assert limiter.take(1) is None
    assert limiter.take(1) is not None
    assert limiter.take(2) is None


def test_retry_after_says_how_long_until_a_token_is_back() -> None:
    limiter = RequestLimiter(rate=0.1, burst=1, monotonic=Ticks())
    limiter.take(1)
    assert limiter.take(1) == 10


def test_a_zero_rate_turns_the_limit_off() -> None:
    limiter = RequestLimiter(rate=0, burst=1, monotonic=Ticks())
    assert all(limiter.take(1) is None for _ in range(1000))


def test_the_token_cache_answers_only_for_the_exact_hash_until_it_expires() -> None:
    ticks = Ticks()
    cache = TokenCache(ticks, ttl=60)
    token_hash = hash_token("user:1-secret")
    cache.remember(token_hash, 1)
    assert cache.owner(token_hash) == 1
    same_selector = token_hash[:16] + "0" * (len(token_hash) - 16)
    assert cache.owner(same_selector) is None
    ticks.now += 61
    assert cache.owner(token_hash) is None
