"""What the server remembers of jobs running in the worker, to resume them in a new one (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from mjapi.domain.events import JobCompleted, JobFailed, JobProgressed, JobQueued, JobStarted
from mjapi.transports.base import ButtonTarget, Resumable
from mjapi.transports.worker.in_flight import InFlight

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TARGET = ButtonTarget("m-parent", 0, "MJ::JOB::upsample::1::h0", "h0")


def test_a_submitted_job_is_resumable_with_its_nonce_message_and_hash() -> None:
    jobs = InFlight()
    jobs.submitting("chan-1", "job-1", "imagine", NOW)
    jobs.submitted("job-1", "1234")
    jobs.observe(JobStarted("job-1", "m-1", "Waiting to start", "t"))
    jobs.observe(JobProgressed("job-1", "m-1", "(31%)", 31, "t", job_hash="h1"))
    jobs.observe(JobProgressed("job-1", "m-1", "(62%)", 62, "t"))  # no hash shown: kept

    assert jobs.of_channel("chan-1") == [
        Resumable("job-1", "imagine", NOW, nonce="1234", message_id="m-1", job_hash="h1")
    ]
    assert jobs.of_channel("chan-2") == []


def test_events_before_the_nonce_are_kept_and_a_button_keeps_its_target() -> None:
    jobs = InFlight()
    jobs.submitting("chan-1", "job-b", "button", NOW, TARGET)
    jobs.observe(JobStarted("job-b", "m-s", "Waiting to start", "t"))
    jobs.submitted("job-b", "99")

    assert jobs.of_channel("chan-1") == [
        Resumable("job-b", "button", NOW, nonce="99", message_id="m-s", parent=TARGET)
    ]


def test_a_job_queued_notice_is_not_taken_for_the_progress_message() -> None:
    # As the engine stores it (recovery.resumable): a new worker must still see the JobStarted.
    jobs = InFlight()
    jobs.submitting("chan-1", "job-q", "imagine", NOW)
    jobs.submitted("job-q", "7")
    jobs.observe(JobQueued("job-q", "m-q", "Job queued", "t"))

    assert jobs.of_channel("chan-1") == [Resumable("job-q", "imagine", NOW, nonce="7")]


def test_ended_forgotten_and_detached_jobs_are_not_resumed() -> None:
    jobs = InFlight()
    for jobid in ("done", "failed", "forgotten", "running"):
        jobs.submitting("chan-1", jobid, "imagine", NOW)
    jobs.submitting("chan-2", "elsewhere", "imagine", NOW)
    jobs.observe(JobCompleted("done", "m", "", "t", (), (), None))
    jobs.observe(JobFailed("failed", "error"))
    jobs.forget("forgotten")
    jobs.forget_channel("chan-2")
    jobs.submitted("done", "late nonce")  # a result can come before the call's answer

    assert [job.jobid for job in jobs.of_channel("chan-1")] == ["running"]
    assert jobs.of_channel("chan-2") == []
    assert len(jobs) == 1


def test_a_resumed_job_is_kept_as_the_engine_stored_it() -> None:
    stored = Resumable("job-r", "seed_async", NOW, nonce="seed:abc", parent=TARGET)
    jobs = InFlight()
    jobs.adopt("chan-1", stored)
    jobs.observe(JobProgressed("other-job", "m", "", 5, "t"))

    assert jobs.of_channel("chan-1") == [stored]
