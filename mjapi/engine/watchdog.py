"""Which running jobs have gone quiet for too long (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from mjapi.domain.jobs import Job

STALE_ERROR = "Midjourney sent no update for this job in time"


def overdue(jobs: Iterable[Job], now: datetime, timeout: float) -> list[Job]:
    """Unfinished jobs whose last change is older than ``timeout`` seconds."""
    limit = now - timedelta(seconds=timeout)
    return [job for job in jobs if not job.terminal and job.updated <= limit]
