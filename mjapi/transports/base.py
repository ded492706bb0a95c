"""What the engine needs from a Midjourney backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from mjapi.domain.accounts import Account
from mjapi.domain.events import JobEvent


@dataclass(frozen=True)
class DiscordIdentity:
    """Who a Discord token belongs to, and where the Midjourney bot answers that user."""

    user_id: str
    username: str
    #: the DM channel with the Midjourney bot
    dm_channel_id: str


class Transport(Protocol):
    """A Midjourney backend (Discord, in production).

    Job outcomes arrive asynchronously through ``events()``, which yields each event once.
    Submitting methods raise ``mjapi.errors.TransportError`` (or ``RateLimited`` for a Discord 429)
    when Discord refuses the request; nothing is emitted for the job in that case.
    """

    async def identify(self, token: str) -> DiscordIdentity:
        """Check the token and find its Midjourney DM channel (raises DiscordAuthError)."""
        ...

    async def attach(self, account: Account) -> None:
        """Start receiving the account's events (gateway connected and READY on return).

        Idempotent: attaching an attached account with the same token does nothing; with a new
        token it reconnects.
        """
        ...

    async def detach(self, channel: str) -> None:
        """Stop receiving events for the account; forget its pending jobs."""
        ...

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        """Send ``/imagine``; returns the interaction nonce once Discord accepted it (204)."""
        ...

    def forget(self, channel: str, jobid: str) -> None:
        """Stop tracking a job the engine has ended on its own (timeout, refusal, cancel)."""
        ...

    def events(self) -> AsyncIterator[JobEvent]:
        """Every job event from every attached account, in arrival order."""
        ...

    async def close(self) -> None:
        """Disconnect everything and release sockets."""
        ...
