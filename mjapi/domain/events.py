"""What a Midjourney backend reports about a job, in neutral terms."""

from __future__ import annotations

from dataclasses import dataclass
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
class JobProgressed:
    """Midjourney reported progress on the job's message."""

    jobid: str
    message_id: str
    content: str
    percent: int
    timestamp: str


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


@dataclass(frozen=True)
class JobFailed:
    """Discord or Midjourney ended the job without a result."""

    jobid: str
    error: str
    details: str | None = None
    #: True when Midjourney refused the prompt (status ``moderated``)
    moderated: bool = False


JobEvent = JobStarted | JobProgressed | JobCompleted | JobFailed
