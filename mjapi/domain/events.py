"""What a Midjourney backend reports about a job, in neutral terms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mjapi.domain.jobs import Attachment, Button, Seed


@dataclass(frozen=True)
class JobStarted:
    """Midjourney acknowledged the job (its first message, e.g. "Waiting to start")."""

    jobid: str
    message_id: str
    content: str
    timestamp: str


@dataclass(frozen=True)
class JobQueued:
    """Midjourney queued the job on its side ("Job queued": over the plan's concurrency).

    Not an error: Midjourney starts it when one of the account's running jobs ends, and the job
    is tracked to its end. A POST still waiting for the job answers useapi's 504.
    """

    jobid: str
    message_id: str
    #: Midjourney's explanation (the embed's description)
    content: str
    timestamp: str


@dataclass(frozen=True)
class JobProgressed:
    """Midjourney reported progress on the job's message."""

    jobid: str
    message_id: str
    content: str
    percent: int
    timestamp: str
    #: Midjourney's job UUID when the progress message shows it (its Cancel Job button)
    job_hash: str | None = None


@dataclass(frozen=True)
class JobCompleted:
    """The final result message arrived."""

    jobid: str
    message_id: str
    content: str
    timestamp: str
    attachments: tuple[Attachment, ...]
    buttons: tuple[Button, ...]
    job_hash: str | None
    #: result embeds (describe's four prompts, /info, settings replies)
    embeds: tuple[dict[str, Any], ...] = ()
    #: the seed, for a seed job
    seed: Seed | None = None
    #: Discord flags of the result message (echoed when its buttons are clicked)
    message_flags: int = 0


class FailReason(StrEnum):
    """Why a job ended without a result; decides its status and what a waiting POST answers."""

    #: anything else: status ``failed``, Midjourney's text in ``errorDetails``
    ERROR = "error"
    #: Midjourney refused the prompt or image: status ``moderated``, POST answers 422
    MODERATED = "moderated"
    #: Midjourney's own queue is full: status ``failed``, POST answers 429
    QUEUE_FULL = "queue_full"
    #: the account needs its owner (moderation notice, CAPTCHA): ``failed``, POST answers 596
    ACCOUNT_FLAGGED = "account_flagged"
    #: the account cannot be used any more (blocked, no subscription ...): ``failed``, 596
    ACCOUNT_DISABLED = "account_disabled"


@dataclass(frozen=True)
class JobFailed:
    """Discord or Midjourney ended the job without a result."""

    jobid: str
    error: str
    details: str | None = None
    reason: FailReason = FailReason.ERROR

    @property
    def moderated(self) -> bool:
        """True when Midjourney refused the prompt (status ``moderated``)."""
        return self.reason is FailReason.MODERATED


JobEvent = JobStarted | JobQueued | JobProgressed | JobCompleted | JobFailed


@dataclass(frozen=True)
class AccountFlagged:
    """Midjourney wants the account's owner: a moderation notice or a CAPTCHA (useapi 596).

    The account leaves the rotation until ``POST /v2/account/midjourney/{channel}/reset``.
    """

    channel: str
    #: what the owner must deal with, as Midjourney said it (becomes ``pendingModMessage``)
    message: str


@dataclass(frozen=True)
class AccountDisabled:
    """The account cannot be used any more: token rejected, blocked, no subscription, ..."""

    channel: str
    reason: str


AccountEvent = AccountFlagged | AccountDisabled
BackendEvent = JobEvent | AccountEvent
"""Everything a transport reports, in arrival order."""
