"""One attached account as the transport holds it, and when it may post an interaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from mjapi.domain.accounts import Account
from mjapi.errors import TransportError
from mjapi.transports.discord.correlate import Correlator
from mjapi.transports.discord.interactions import Where
from mjapi.transports.discord.rest import DiscordRest
from mjapi.transports.discord.runner import GatewayRunner, error_for_fatal


@dataclass(frozen=True)
class ClickInput:
    """What a click's modal (if Midjourney opens one) must be filled with."""

    prompt: str | None
    mask: str | None


@dataclass
class Link:
    """One attached account: its REST client, gateway runner and correlator."""

    account: Account
    rest: DiscordRest
    runner: GatewayRunner
    correlator: Correlator
    #: clicks that may still get a modal, by jobid (dropped at the job's first event)
    clicks: dict[str, ClickInput] = field(default_factory=dict)

    def check_alive(self) -> None:
        """Refuse at once when the gateway is gone for good (TransportError)."""
        # A runner that stopped for good keeps its last session id, but nothing posted for it
        # could ever be answered: refuse now instead of leaving the job to the watchdog. One
        # that is only reconnecting is waited for in where(). A runner that died says why: a
        # rejected token must reach the engine as such (it disables the account: 596), not as
        # a generic gateway failure (502).
        if self.runner.fatal is not None:
            raise error_for_fatal(self.runner.fatal)
        if not (self.runner.alive and self.runner.ready):
            raise TransportError(f"account {self.account.channel} has no live gateway session")

    # The timeout is part of the contract (a TransportError that says why), not the caller's.
    async def where(self, timeout: float) -> Where:  # noqa: ASYNC109
        """Where an interaction comes from, once the gateway carries a session to answer it.

        During a reconnect this waits (up to ``timeout``): posted with no session connected,
        Midjourney's answer could be lost with an invalidated session.
        """
        await self.runner.wait_connected(timeout)
        session_id = self.runner.session_id
        if session_id is None:
            raise TransportError(f"account {self.account.channel} has no live gateway session")
        return Where(self.account.channel, self.account.server, session_id)

    async def session_id(self, timeout: float) -> str:  # noqa: ASYNC109
        """The live session an interaction must name (waits like ``where``)."""
        return (await self.where(timeout)).session_id
