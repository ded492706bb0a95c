"""Midjourney messages about the account rather than a job, and once-per-message memory (pure).

"Pending mod message", a CAPTCHA, "Blocked", "Subscription required"... (reference §4) concern the
account: whoever owns it must act before it takes more work. The catalogue (catalogue.py) says
which embeds those are; this module turns one into the account event the engine acts on.
"""

from __future__ import annotations

from collections import OrderedDict

from mjapi.domain.events import AccountDisabled, AccountEvent, AccountFlagged, FailReason
from mjapi.transports.discord.catalogue import account_notice
from mjapi.transports.discord.interpret import MjMessage

#: Failure reasons that are the account's, not only the job's.
ACCOUNT_REASONS = frozenset({FailReason.ACCOUNT_FLAGGED, FailReason.ACCOUNT_DISABLED})


def account_event(channel: str, msg: MjMessage) -> AccountEvent | None:
    """The account event ``msg`` stands for in the account ``channel``, if any."""
    failure = msg.failure
    if failure not in ACCOUNT_REASONS:
        return None
    embed = msg.embed
    notice = account_notice(embed.title, embed.description) if embed else account_notice(None, None)
    if failure is FailReason.ACCOUNT_FLAGGED:
        return AccountFlagged(channel, notice)
    return AccountDisabled(channel, notice)


def is_after(message_id: str, floor: str | None) -> bool:
    """True when snowflake ``message_id`` is newer than ``floor`` (no floor: always)."""
    if floor is None:
        return True
    try:
        return int(message_id) > int(floor)
    except ValueError:
        return False


class SeenIds:
    """The last ``limit`` ids seen: ``first(id)`` is True only the first time."""

    def __init__(self, limit: int = 512) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def __contains__(self, key: str) -> bool:
        return key in self._ids

    def first(self, key: str) -> bool:
        """Remember ``key``; True when it was not remembered yet."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True
