from __future__ import annotations

from datetime import timedelta

from mjapi.domain.jobs import JobStatus
from mjapi.engine.watchdog import overdue
from tests.factories import T0, make_job


def test_only_quiet_unfinished_jobs_are_overdue() -> None:
    quiet = make_job(jobid="quiet", status=JobStatus.PROGRESS, updated=T0)
    fresh = make_job(jobid="fresh", status=JobStatus.STARTED, updated=T0 + timedelta(seconds=50))
    ended = make_job(jobid="ended", status=JobStatus.COMPLETED, updated=T0)
    found = overdue([quiet, fresh, ended], T0 + timedelta(seconds=60), timeout=60)
    assert [job.jobid for job in found] == ["quiet"]
