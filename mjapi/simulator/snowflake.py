"""Discord snowflakes and timestamps.

A snowflake is ``(ms since 2015-01-01 << 22) | worker/process bits | increment``; its creation time
can be read back, which is how Discord message timestamps relate to message ids.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mjapi.clock import Clock

DISCORD_EPOCH_MS = 1420070400000
_TIMESTAMP_SHIFT = 22
#: worker 1, process 0: a fixed value, only the increment changes within one millisecond
_WORKER_BITS = 1 << 17


class SnowflakeFactory:
    """Makes strictly increasing snowflakes from the clock's current time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> str:
        ms = int(self._clock.now().timestamp() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << _TIMESTAMP_SHIFT) | _WORKER_BITS
        # Several ids in one millisecond (or a clock that stands still in tests) still increase.
        self._last = max(candidate, self._last + 1)
        return str(self._last)


def snowflake_time(snowflake: str) -> datetime:
    """When a snowflake was made."""
    ms = (int(snowflake) >> _TIMESTAMP_SHIFT) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def snowflake_from_bits(ms_since_epoch: int, low_bits: int) -> str:
    """A snowflake with a chosen time and low 22 bits (deterministic ids derived from a hash)."""
    return str((ms_since_epoch << _TIMESTAMP_SHIFT) | (low_bits & ((1 << _TIMESTAMP_SHIFT) - 1)))


def discord_timestamp(moment: datetime) -> str:
    """ISO 8601 the way Discord writes it: ``2025-01-01T12:00:00.123000+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def message_timestamp(message_id: str) -> str:
    """A message's ``timestamp``: when its id was made, to the millisecond (capture 01)."""
    return discord_timestamp(snowflake_time(message_id))
