"""Re-reading a channel after the gateway session was lost (messages in between never came).

Discord replays missed events only on RESUME. After a fresh IDENTIFY (op 9 not resumable, close
4007/4009, a new token) whatever Midjourney posted meanwhile is only in the channel history, so
running jobs would be stranded until the watchdog ends them. The history is replayed through the
correlator as edits (correlate.py ``replay``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mjapi.domain.events import BackendEvent
from mjapi.errors import DiscordAuthError, MjapiError
from mjapi.transports.discord.correlate import Correlator
from mjapi.transports.discord.interpret import interpret
from mjapi.transports.discord.rest import DiscordRest

log = logging.getLogger(__name__)

#: How many recent messages to re-read per channel.
CATCH_UP_LIMIT = 50
#: Reads of one channel before its catch-up is given up (the watchdog then ends its jobs).
READ_ATTEMPTS = 5
#: Pause before the second read; doubled before each later one (0.5 + 1 + 2 + 4 s in all).
READ_RETRY_PAUSE = 0.5

Sleep = Callable[[float], Awaitable[None]]


def channels_to_read(correlator: Correlator) -> list[str]:
    """The account's channel while jobs are in flight, plus the bot DM while a seed waits."""
    if not correlator.in_flight:
        return []
    channels = [correlator.channel_id]
    dm = correlator.dm_channel_id
    # Seed DMs arrive in the user's DM with the bot, another channel for server accounts (§3.4).
    if correlator.awaits_seed and dm is not None and dm != correlator.channel_id:
        channels.append(dm)
    return channels


async def catch_up(
    rest: DiscordRest, correlator: Correlator, *, sleep: Sleep = asyncio.sleep
) -> list[BackendEvent]:
    """The events the recent history of the correlator's channels holds for its jobs."""
    events: list[BackendEvent] = []
    for channel in channels_to_read(correlator):
        messages = await _read(rest, channel, sleep)
        # REST lists newest first; replay oldest first, as Midjourney posted them.
        for raw in reversed(messages):
            message = interpret(raw)
            if message is not None:
                events.extend(correlator.replay(message))
    return events


async def _read(rest: DiscordRest, channel: str, sleep: Sleep) -> list[dict[str, Any]]:
    # The REST layer already waited out rate limits and retried 5xx within its budget; a
    # catch-up is worth a few more tries, since without it the running jobs are lost.
    for attempt in range(READ_ATTEMPTS):
        try:
            return await rest.channel_messages(channel, CATCH_UP_LIMIT)
        except DiscordAuthError:
            raise  # the gateway will say so too; nothing to read with this token
        except MjapiError as exc:
            log.warning("catch-up read of channel %s failed: %s", channel, exc.message)
        if attempt + 1 < READ_ATTEMPTS:
            await sleep(READ_RETRY_PAUSE * 2**attempt)
    return []
