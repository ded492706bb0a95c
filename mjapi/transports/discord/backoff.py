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
