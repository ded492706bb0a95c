"""How a backend event moves a job: pure, so every rule is unit-tested without I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mjapi.domain.events import (
    JobCompleted,
    JobEvent,
    JobFailed,
    JobProgressed,
    JobQueued,
    JobStarted,
)
from mjapi.domain.jobs import Job, JobStatus, can_move


def apply_event(job: Job, event: JobEvent, now: datetime) -> Job | None:
    """The job after ``event``, or None when the event may not move it (late or duplicate)."""
    if isinstance(event, JobQueued):
        return _queued(job, now)
    target = _target_status(job, event)
    if not can_move(job.status, target):
        return None
    changed = _changes(event)
    changed["status"] = target
    changed["updated"] = now
    return job.evolve(**changed)


def _target_status(job: Job, event: JobEvent) -> JobStatus:
    if isinstance(event, JobStarted):
        # A repeated "started" after progress (message re-sent) must not move the job backwards.
        return JobStatus.PROGRESS if job.status is JobStatus.PROGRESS else JobStatus.STARTED
    if isinstance(event, JobProgressed):
        return JobStatus.PROGRESS
    if isinstance(event, JobCompleted):
        return JobStatus.COMPLETED
    assert isinstance(event, JobFailed)  # JobQueued never gets here (apply_event)
    return JobStatus.MODERATED if event.moderated else JobStatus.FAILED


def _queued(job: Job, now: datetime) -> Job | None:
    """Midjourney holds the job in its own queue: still ``created``, but news (the watchdog
    counts quiet time from ``updated``). Once started, a late "Job queued" changes nothing."""
    if job.status is not JobStatus.CREATED:
        return None
    return job.evolve(updated=now)


def _changes(event: JobEvent) -> dict[str, object]:
    if isinstance(event, JobStarted):
        return {
            "message_id": event.message_id,
            "content": event.content,
            "timestamp": event.timestamp,
        }
    if isinstance(event, JobProgressed):
        progressed: dict[str, Any] = {
            "message_id": event.message_id,
            "content": event.content,
            "timestamp": event.timestamp,
            "progress": event.percent,
        }
        if event.job_hash is not None:
            # Kept as soon as known: after a restart it finds the result in the history.
            progressed["job_hash"] = event.job_hash
        return progressed
    if isinstance(event, JobCompleted):
        return {
            "message_id": event.message_id,
            "content": event.content,
            "timestamp": event.timestamp,
            "attachments": event.attachments,
            "buttons": event.buttons,
            "job_hash": event.job_hash,
            "embeds": event.embeds,
            "seed": event.seed,
            "message_flags": event.message_flags,
            "progress": 100,
        }
    assert isinstance(event, JobFailed)
    return {"error": event.error, "error_details": event.details}


def cancel(job: Job, now: datetime) -> Job | None:
    """The job cancelled by its owner, or None when it has already ended."""
    if not can_move(job.status, JobStatus.CANCELLED):
        return None
    return job.evolve(status=JobStatus.CANCELLED, updated=now)


def expire(job: Job, now: datetime, error: str) -> Job | None:
    """The job failed by the watchdog, or None when it has already ended."""
    if not can_move(job.status, JobStatus.FAILED):
        return None
    return job.evolve(status=JobStatus.FAILED, updated=now, error=error)
