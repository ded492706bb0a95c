"""What the engine needs from a Midjourney backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from mjapi.domain.accounts import Account
from mjapi.domain.events import BackendEvent


@dataclass(frozen=True)
class DiscordIdentity:
    """Who a Discord token belongs to, and where the Midjourney bot answers that user."""

    user_id: str
    username: str
    #: the DM channel with the Midjourney bot
    dm_channel_id: str


@dataclass(frozen=True)
class ServerChannel:
    """A legacy account's guild text channel where the Midjourney bot answers."""

    guild_id: str
    channel_id: str


@dataclass(frozen=True)
class ButtonTarget:
    """A button on a finished Midjourney message: what a click must name."""

    #: the message carrying the button (the parent job's result message)
    message_id: str
    #: the parent message's Discord flags (a click echoes them as ``message_flags``)
    message_flags: int
    custom_id: str
    #: Midjourney's job UUID of the parent, when known
    job_hash: str | None = None


@dataclass(frozen=True)
class Upload:
    """An image the server downloaded, to be uploaded to Discord (blend, describe)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Resumable:
    """What mjapi stored about a job that was running on Discord when the server stopped.

    Enough to recognise the job's messages in the channel history: the keys the correlator
    matches on (nonce, interaction id, message id, job hash) and, for a button job, the clicked
    message and button (a U pick's result carries none of the other keys).
    """

    jobid: str
    #: useapi verb (``imagine``, ``button``, ``describe``, ``seed_async``, ``info`` ...)
    verb: str
    #: when the job was created: history older than this is never the job's result
    created: datetime
    #: the interaction nonce (``seed:<hash>`` for seed jobs)
    nonce: str | None = None
    interaction_id: str | None = None
    #: the job's progress (or latest) message
    message_id: str | None = None
    job_hash: str | None = None
    #: button and seed jobs: the parent's message, the button's custom_id, the parent's hash
    parent: ButtonTarget | None = None


class BlendDimensions(StrEnum):
    """useapi's ``blendDimensions`` and the ``/blend`` choice each stands for."""

    PORTRAIT = "Portrait"
    SQUARE = "Square"
    LANDSCAPE = "Landscape"

    @property
    def option(self) -> str:
        return {"Portrait": "--ar 2:3", "Square": "--ar 1:1", "Landscape": "--ar 3:2"}[self.value]


class Setting(StrEnum):
    """The synchronous settings commands, by useapi verb."""

    INFO = "info"
    FAST = "fast"
    RELAX = "relax"
    TURBO = "turbo"
    #: ``/prefer variability`` (a toggle)
    VARIABILITY = "variability"
    #: ``/prefer remix`` (a toggle)
    REMIX = "remix"


class Transport(Protocol):
    """A Midjourney backend (Discord, in production).

    Job outcomes arrive asynchronously through ``events()``, which yields each event once.
    Submitting methods raise ``mjapi.errors.TransportError`` (``DiscordAuthError`` when Discord
    rejected the token, ``RateLimited`` when Discord kept answering 429 past the transport's own
    waiting) when Discord refuses the request; nothing is emitted for the job in that case.
    """

    async def identify(self, token: str) -> DiscordIdentity:
        """Check the token and find its Midjourney DM channel (raises DiscordAuthError)."""
        ...

    async def identify_server_channel(self, token: str, channel: ServerChannel) -> DiscordIdentity:
        """Check the token and that it can use ``channel`` in that guild (legacy accounts).

        The returned identity's ``dm_channel_id`` is the user's DM channel with the bot (seed
        results arrive there even for server-channel accounts).
        """
        ...

    async def attach(self, account: Account) -> None:
        """Start receiving the account's events (gateway connected and READY on return).

        Idempotent: attaching an attached account with the same token does nothing; with a new
        token it reconnects.
        """
        ...

    async def resume(self, account: Account, jobs: Sequence[Resumable]) -> None:
        """Track jobs submitted before a restart, so their messages are recognised again.

        Call before ``attach`` (the first READY then catches them up from the channel history)
        or after it (the history is read at once). Whatever the history shows of them (started,
        progress, the result, an error) comes through ``events()`` like live news; a job the
        history does not show stays tracked, waiting for live messages.
        """
        ...

    async def detach(self, channel: str) -> None:
        """Stop receiving events for the account; forget its pending jobs."""
        ...

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        """Send ``/imagine``; returns the interaction nonce once Discord accepted it (204)."""
        ...

    async def button(
        self,
        account: Account,
        jobid: str,
        target: ButtonTarget,
        *,
        prompt: str | None = None,
        mask: str | None = None,
    ) -> str:
        """Click a button of a finished message; returns the click's nonce.

        When Midjourney answers with a modal (remix mode, Custom Zoom) the transport submits it
        with ``prompt`` (or the modal's own prefilled text when ``prompt`` is None); for
        Vary (Region) it submits ``mask`` (base64 PNG, white = region) with ``prompt`` through
        the editor's iframe flow. The events of the new job arrive under ``jobid``. A button
        whose result is not a new Midjourney job raises ``BadRequest``.
        """
        ...

    async def blend(
        self,
        account: Account,
        jobid: str,
        images: Sequence[Upload],
        dimensions: BlendDimensions,
    ) -> str:
        """Upload 2-5 images and run ``/blend``; returns the nonce."""
        ...

    async def describe(self, account: Account, jobid: str, image: Upload) -> str:
        """Upload one image and run ``/describe``; returns the nonce.

        The job completes when the four suggestions arrive (in ``JobCompleted.embeds``).
        """
        ...

    async def seed(self, account: Account, jobid: str, target: ButtonTarget) -> str:
        """Ask for the seed of the grid ``target.message_id`` (the ✉️ reaction flow).

        ``target.custom_id`` is unused. Completes with ``JobCompleted.seed`` and the four
        images Midjourney DMs. Returns a correlation key (the reaction has no nonce).
        """
        ...

    async def setting(self, account: Account, jobid: str, setting: Setting) -> str:
        """Run a settings command; completes with Midjourney's reply (content/embeds)."""
        ...

    def forget(self, channel: str, jobid: str) -> None:
        """Stop tracking a job the engine has ended on its own (timeout, refusal, cancel)."""
        ...

    def events(self) -> AsyncIterator[BackendEvent]:
        """Every job and account event from every attached account, in arrival order.

        An account-level outcome (moderation notice, CAPTCHA, blocked, token rejected) is
        reported as ``AccountFlagged``/``AccountDisabled`` *before* the ``JobFailed`` of the job
        that met it, so whoever reads the failed job finds the account already marked.
        """
        ...

    async def close(self) -> None:
        """Disconnect everything and release sockets."""
        ...
