"""What a job POST answers when Midjourney did not simply start the job (useapi §8).

A POST waits until Midjourney acknowledged its job. Most outcomes are told by the job itself:
started or completed (200), moderated (422). Three are not, because the job's status alone cannot
say them: Midjourney queued the job on its side (504 "Job queued": the job is still ``created`` and
is tracked to its end), Midjourney's own queue is full (429), and the account needs its owner or
is unusable (596). For those the engine keeps a ``Verdict`` until the waiting POST collects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mjapi.domain.events import BackendEvent, FailReason, JobFailed, JobQueued
from mjapi.domain.jobs import Job
from mjapi.errors import MjapiError

QUEUED_ERROR = "Job queued"

#: The HTTP status of a job POST whose job failed for an account or capacity reason.
_FAILURE_STATUS = {
    FailReason.QUEUE_FULL: 429,
    FailReason.ACCOUNT_FLAGGED: 596,
    FailReason.ACCOUNT_DISABLED: 596,
}


@dataclass(frozen=True)
class Verdict:
    """A non-200 answer for a waiting job POST; texts default to the job's own error."""

    status: int
    error: str | None = None
    details: str | None = None


def verdict_for(event: BackendEvent) -> Verdict | None:
    """The answer ``event`` imposes on a POST still waiting for its job, if any."""
    if isinstance(event, JobQueued):
        return Verdict(504, QUEUED_ERROR, event.content or None)
    if isinstance(event, JobFailed) and event.reason in _FAILURE_STATUS:
        return Verdict(_FAILURE_STATUS[event.reason])
    return None


class JobAnswered(MjapiError):
    """A job POST answered with the job itself under a non-200 status (429, 504, 596)."""

    def __init__(self, job: Job, verdict: Verdict) -> None:
        super().__init__(verdict.error or job.error, details=verdict.details or job.error_details)
        self.status = verdict.status
        self.job = job
