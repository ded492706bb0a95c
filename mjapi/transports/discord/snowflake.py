"""Client-side Discord snowflakes, used as interaction nonces (reference §1.7)."""

from __future__ import annotations

from datetime import datetime

from mjapi.transports.discord.protocol import DISCORD_EPOCH_MS


class SnowflakeFactory:
    """Makes increasing snowflake strings from a wall-clock time (never the same one twice)."""

    def __init__(self) -> None:
        self._last = 0

    def make(self, now: datetime) -> str:
        """A snowflake for ``now``; strictly greater than every earlier one from this factory."""
        millis = int(now.timestamp() * 1000) - DISCORD_EPOCH_MS
        candidate = max(millis, 0) << 22
        # Worker/process bits stay 0, like a browser client's. The low 22 bits absorb several
        # requests within one millisecond, and a clock that stands still (or steps back) still
        # yields increasing values because we never go below the last one issued.
        value = max(candidate, self._last + 1)
        self._last = value
        return str(value)


def snowflake_time_ms(snowflake: str) -> int:
    """Unix milliseconds encoded in a snowflake."""
    return (int(snowflake) >> 22) + DISCORD_EPOCH_MS


def snowflake_at(when: datetime) -> str:
    """The smallest snowflake of the millisecond ``when``: ids above it are newer."""
    return str(max(int(when.timestamp() * 1000) - DISCORD_EPOCH_MS, 0) << 22)
