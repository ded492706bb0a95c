"""When a failed callback is tried again, and when it is given up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for a bounded period after the callback was made.

    Full jitter (a uniform pause between 0 and the exponential ceiling) spreads the retries of
    many callbacks to one receiver that came back, instead of having them arrive in waves.
    """

    first_delay: float = 1.0
    max_delay: float = 900.0
    #: seconds after creation (or a replay) during which attempts are made
    period: float = 86400.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Pause after the ``failures``-th failed attempt in a row."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** min(failures - 1, 62))
        return rng.uniform(0, ceiling)

    def next_attempt(self, failures: int, now: datetime, rng: random.Random) -> datetime:
        return now + timedelta(seconds=self.delay(failures, rng))

    def expires(self, start: datetime) -> datetime:
        return start + timedelta(seconds=self.period)
