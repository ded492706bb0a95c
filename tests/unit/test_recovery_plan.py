"""What start-up does with the jobs a previous run left unfinished (pure)."""

from __future__ import annotations

from mjapi.domain.jobs import Button, JobStatus
from mjapi.engine.recovery import plan_recovery
from mjapi.transports.base import ButtonTarget
from tests.factories import make_job


def test_jobs_that_never_reached_discord_wait_again_in_order() -> None:
    first = make_job(jobid="j1", status=JobStatus.CREATED)
    second = make_job(jobid="j2", status=JobStatus.CREATED)
    plan = plan_recovery([first, second], {})
    assert [j.jobid for j in plan.to_dispatch] == ["j1", "j2"]
    assert plan.to_resume == {}


def test_submitted_jobs_are_resumed_on_their_channel_with_their_keys() -> None:
    sent = make_job(jobid="j1", status=JobStatus.CREATED, nonce="n1", channel="A")
    running = make_job(
        jobid="j2",
        status=JobStatus.PROGRESS,
        nonce="n2",
        channel="B",
        message_id="m2",
        interaction_id="i2",
        job_hash="h2",
    )
    plan = plan_recovery([sent, running], {})
    assert plan.to_dispatch == []
    assert [r.nonce for r in plan.to_resume["A"]] == ["n1"]
    (resumed,) = plan.to_resume["B"]
    assert (resumed.jobid, resumed.message_id, resumed.interaction_id, resumed.job_hash) == (
        "j2",
        "m2",
        "i2",
        "h2",
    )
    assert resumed.parent is None and resumed.created == running.created


def test_a_button_job_is_resumed_with_the_clicked_message_and_button() -> None:
    parent = make_job(
        jobid="p",
        status=JobStatus.COMPLETED,
        message_id="grid",
        message_flags=64,
        job_hash="ph",
        buttons=(
            Button("U1", "MJ::JOB::upsample::1::ph"),
            Button("U2", "MJ::JOB::upsample::2::ph"),
        ),
    )
    child = make_job(
        jobid="c",
        verb="button",
        button="U2",
        parent_job_id="p",
        nonce="n",
        status=JobStatus.CREATED,
    )
    (resumed,) = plan_recovery([child], {"p": parent}).to_resume["100"]
    assert resumed.parent == ButtonTarget("grid", 64, "MJ::JOB::upsample::2::ph", "ph")
