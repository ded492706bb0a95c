"""Which running jobs have gone quiet for too long (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from mjapi.domain.jobs import Job

STALE_ERROR = "Midjourney sent no update for this job in time"


def overdue(
    jobs: Iterable[Job],
    now: datetime,
    timeout: float,
    restarted: Mapping[str, datetime] | None = None,
) -> list[Job]:
    """Unfinished jobs whose last change is older than ``timeout`` seconds.

    ``restarted`` gives jobs a later starting point than their last change: when they left the
    durable queue, or when a restart began watching them again.
    """
    limit = now - timedelta(seconds=timeout)
    fresh = restarted or {}
    return [
        job
        for job in jobs
        if not job.terminal and max(job.updated, fresh.get(job.jobid, job.updated)) <= limit
    ]
