"""Midjourney accounts (a Discord user token bound to the channel where the bot answers)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_MAX_JOBS = 3
MAX_JOBS_CEILING = 15


@dataclass(frozen=True)
class Account:
    """One configured Midjourney account."""

    channel: str
    owner: int
    #: kept out of repr() so that a logged or printed account never shows it
    discord_token: str = field(repr=False)
    discord_user_id: str
    max_jobs: int
    created: datetime
    updated: datetime
    #: guild id for legacy server-channel accounts; None for the DM channel
    server: str | None = None
    #: set when Midjourney asks for a moderation acknowledgement or CAPTCHA
    pending_mod_message: str | None = None
    #: set when the account can no longer be used (token rejected, banned ...)
    disabled_reason: str | None = None

    def evolve(self, **changes: Any) -> Account:
        return dataclasses.replace(self, **changes)

    @property
    def masked_token(self) -> str:
        return mask_token(self.discord_token)

    @property
    def eligible(self) -> bool:
        """May new jobs be routed here?"""
        return self.pending_mod_message is None and self.disabled_reason is None


def mask_token(token: str) -> str:
    """useapi's debugging form of a secret: the first and last three characters only."""
    if len(token) <= 12:
        return "...secured..."
    return f"{token[:3]}...secured...{token[-3:]}"
