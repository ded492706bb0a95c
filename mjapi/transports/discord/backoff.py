"""Exponential backoff with full jitter: pure, with the randomness injected."""

from __future__ import annotations

import random


class Backoff:
    """Delays for successive reconnect attempts: uniform(0, min(cap, base * 2**attempt))."""

    def __init__(
        self, *, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self._base = base
        self._cap = cap
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The largest delay the next call may return."""
        # Once base * 2**n passes the cap the exponent no longer matters; stop it growing so
        # a long outage cannot overflow the float.
        exponent = min(self._attempt, 62)
        return min(self._cap, self._base * 2.0**exponent)

    def next_delay(self) -> float:
        """The delay before the next attempt (full jitter spreads reconnect storms)."""
        delay = self._rng.uniform(0.0, self.ceiling())
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``base`` (after a healthy connection)."""
        self._attempt = 0


class ReconnectPolicy:
    """How long the gateway runner waits before its next connection attempt (pure)."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff

    def delay(self, *, asked: float, ready: bool) -> float:
        """The pause after a connection that ended, having reached READY/RESUMED or not.

        ``asked`` is the least the protocol wants (op 9's random pause, a 429's retry_after).
        """
        # A connection that got as far as READY or RESUMED proves the token, the URL and the
        # network fine: what ended it (op 7, a dropped socket) is routine, so the backoff starts
        # over and the account is back within a second. Only attempts that fail before READY
        # grow the delay (hikari resets the same way). Waiting longer after routine drops would
        # starve running jobs of their events until the watchdog fails them.
        if ready:
            self._backoff.reset()
        return max(asked, self._backoff.next_delay())
