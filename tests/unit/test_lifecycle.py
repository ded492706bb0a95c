from __future__ import annotations

from datetime import timedelta

import pytest

from mjapi.domain.events import FailReason, JobCompleted, JobFailed, JobProgressed, JobStarted
from mjapi.domain.jobs import TERMINAL, Attachment, Button, JobStatus, can_move, predecessors
from mjapi.domain.lifecycle import apply_event, cancel, expire
from tests.factories import T0, make_job

LATER = T0 + timedelta(seconds=5)
JOBID = make_job().jobid


def test_started_records_message() -> None:
    job = apply_event(
        make_job(), JobStarted(JOBID, "m1", "**a cat** - <@1> (Waiting)", "ts"), LATER
    )
    assert job is not None
    assert (job.status, job.message_id, job.content, job.updated) == (
        JobStatus.STARTED,
        "m1",
        "**a cat** - <@1> (Waiting)",
        LATER,
    )


def test_progress_then_completed() -> None:
    job = apply_event(make_job(), JobProgressed(JOBID, "m1", "(31%)", 31, "ts"), LATER)
    assert job is not None and job.status is JobStatus.PROGRESS and job.progress == 31
    done = apply_event(
        job,
        JobCompleted(
            JOBID, "m2", "done", "ts2", (Attachment("a", "u", "f.png"),), (Button("U1", "x"),), "h"
        ),
        LATER,
    )
    assert done is not None
    assert done.status is JobStatus.COMPLETED
    assert done.attachments[0].filename == "f.png"
    assert [b.label for b in done.buttons] == ["U1"]
    assert done.job_hash == "h" and done.message_id == "m2"


def test_late_started_after_progress_keeps_progress() -> None:
    job = make_job(status=JobStatus.PROGRESS, progress=40)
    moved = apply_event(job, JobStarted(JOBID, "m1", "again", "ts"), LATER)
    assert moved is not None and moved.status is JobStatus.PROGRESS


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_jobs_ignore_every_event(status: JobStatus) -> None:
    job = make_job(status=status)
    for event in (
        JobStarted(JOBID, "m", "c", "t"),
        JobProgressed(JOBID, "m", "c", 5, "t"),
        JobCompleted(JOBID, "m", "c", "t", (), (), None),
        JobFailed(JOBID, "boom"),
    ):
        assert apply_event(job, event, LATER) is None
    assert cancel(job, LATER) is None
    assert expire(job, LATER, "late") is None


def test_failure_kinds() -> None:
    failed = apply_event(make_job(), JobFailed(JOBID, "Invalid parameter", "details"), LATER)
    moderated = apply_event(
        make_job(), JobFailed(JOBID, "Banned prompt", reason=FailReason.MODERATED), LATER
    )
    assert failed is not None and failed.status is JobStatus.FAILED
    assert failed.error == "Invalid parameter" and failed.error_details == "details"
    assert moderated is not None and moderated.status is JobStatus.MODERATED


def test_predecessors_mirror_the_table() -> None:
    for target in JobStatus:
        for source in JobStatus:
            assert (source in predecessors(target)) == can_move(source, target)
    assert predecessors(JobStatus.CREATED) == {JobStatus.CREATED}


def test_progress_keeps_the_job_hash_once_known() -> None:
    # Stored early so that a restart can find the result by it (recovery.py).
    hashed = JobProgressed(JOBID, "m1", "(31%)", 31, "ts", job_hash="abc")
    job = apply_event(make_job(), hashed, LATER)
    assert job is not None and job.job_hash == "abc"
    later = apply_event(job, JobProgressed(JOBID, "m1", "(62%)", 62, "ts"), LATER)
    assert later is not None and later.job_hash == "abc"
