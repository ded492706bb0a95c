"""The job: its states, the allowed transitions, and how events move it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Self


class JobStatus(StrEnum):
    """Every state a job can be in (useapi's enum)."""

    #: accepted locally, not yet acknowledged by Midjourney
    CREATED = "created"
    #: Midjourney acknowledged it ("Waiting to start")
    STARTED = "started"
    #: Midjourney reports a percentage
    PROGRESS = "progress"
    #: finished with a result
    COMPLETED = "completed"
    #: Discord or Midjourney failed it
    FAILED = "failed"
    #: Midjourney refused the prompt
    MODERATED = "moderated"
    #: the client cancelled it
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.MODERATED, JobStatus.CANCELLED}
)

_ENDINGS = TERMINAL
#: Which status may follow which. Repeating a status records new data (the nonce of a created
#: job, a new content of a started one, a new percent).
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.CREATED: frozenset(
        {JobStatus.CREATED, JobStatus.STARTED, JobStatus.PROGRESS} | _ENDINGS
    ),
    JobStatus.STARTED: frozenset({JobStatus.STARTED, JobStatus.PROGRESS} | _ENDINGS),
    JobStatus.PROGRESS: frozenset({JobStatus.PROGRESS} | _ENDINGS),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.MODERATED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def predecessors(status: JobStatus) -> frozenset[JobStatus]:
    """The statuses from which a job may move to ``status`` (what a store's UPDATE allows)."""
    return frozenset(src for src, targets in TRANSITIONS.items() if status in targets)


def can_move(src: JobStatus, dst: JobStatus) -> bool:
    return dst in TRANSITIONS[src]


@dataclass(frozen=True)
class Attachment:
    """A file Midjourney attached to its message (a Discord attachment)."""

    id: str
    url: str
    filename: str
    proxy_url: str | None = None
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Button:
    """A clickable Midjourney button: the label clients use and the custom_id Discord needs."""

    label: str
    custom_id: str


@dataclass(frozen=True)
class Seed:
    """The seed Midjourney reported for a job (``POST jobs/seed_async``)."""

    content: str
    value: int


@dataclass(frozen=True)
class Child:
    """A job spawned from this one by a button."""

    button: str
    jobid: str
    message_id: str | None = None


@dataclass(frozen=True)
class Job:
    """One Midjourney job as mjapi tracks it. Immutable: use ``evolve``."""

    jobid: str
    owner: int
    verb: str
    status: JobStatus
    created: datetime
    updated: datetime
    channel: str
    discord: str
    max_jobs: int
    prompt: str | None = None
    server: str | None = None
    reply_url: str | None = None
    reply_ref: str | None = None
    message_id: str | None = None
    content: str | None = None
    timestamp: str | None = None
    progress: int | None = None
    attachments: tuple[Attachment, ...] = ()
    buttons: tuple[Button, ...] = ()
    children: tuple[Child, ...] = ()
    parent_job_id: str | None = None
    button: str | None = None
    error: str | None = None
    error_details: str | None = None
    #: Discord embeds of the result (describe suggestions, info, errors), as Discord sends them
    embeds: tuple[dict[str, Any], ...] = ()
    seed: Seed | None = None
    blend_urls: tuple[str, ...] = ()
    blend_dimensions: str | None = None
    describe_url: str | None = None
    #: Discord flags of the result message; a click on its buttons must echo them (64 = ephemeral)
    message_flags: int = 0
    #: Discord correlation keys (never shown to clients)
    nonce: str | None = None
    interaction_id: str | None = None
    #: Midjourney's own job UUID, once known
    job_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> Job:
        """This job with ``changes`` (field name -> value), as ``dataclasses.replace`` would.

        Without ``replace``'s call of ``__init__`` with every field: a job changes with every
        Discord event, and that call was a tenth of applying one. Job has no ``__post_init__``
        and no cached values in its ``__dict__``, so copying the fields is the same thing.
        """
        unknown = changes.keys() - _JOB_FIELDS
        if unknown:
            raise TypeError(f"Job has no field {', '.join(sorted(unknown))}")
        evolved = object.__new__(Job)
        evolved.__dict__.update(self.__dict__)
        evolved.__dict__.update(changes)
        return evolved

    @property
    def terminal(self) -> bool:
        return self.status.terminal


_JOB_FIELDS = frozenset(f.name for f in dataclasses.fields(Job))
