"""JobBodies: encoded job responses, reused only for the very job version they were made from."""

from __future__ import annotations

from datetime import timedelta

from fastapi.responses import JSONResponse

from mjapi.api.job_bodies import JobBodies, encode, json_headers, json_response
from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus
from mjapi.domain.model import job_model
from tests.factories import T0, make_job


def completed(**changes: object) -> Job:
    return make_job(
        status=JobStatus.COMPLETED,
        prompt="a café at night 🌙 --ar 3:2",
        attachments=(Attachment("1", "https://cdn/x.png", "x.png", width=2048, height=2048),),
        buttons=(Button("U1", "MJ::JOB::upsample::1::h"), Button("🔄", "MJ::JOB::reroll::0::h")),
        **changes,
    )


def test_a_response_is_byte_for_byte_what_json_response_makes() -> None:
    for job in (completed(), make_job(status=JobStatus.MODERATED)):
        model = job_model(job, 422)
        ours = json_response(JobBodies().body(job, 422), 422)
        theirs = JSONResponse(model, status_code=422)
        assert ours.body == theirs.body == encode(model)
        assert ours.raw_headers == theirs.raw_headers == json_headers(bytes(ours.body))
        assert ours.status_code == theirs.status_code


def test_the_same_job_is_encoded_once() -> None:
    bodies, job = JobBodies(), completed()
    first = bodies.body(job)
    assert bodies.body(job) is first


def test_an_equal_copy_of_the_job_reuses_the_body() -> None:
    """A fresh store read of an unchanged job is another, equal object."""
    bodies = JobBodies()
    first = bodies.body(completed())
    assert bodies.body(completed()) is first


def test_a_new_status_is_never_served_stale() -> None:
    bodies = JobBodies()
    running = make_job(status=JobStatus.PROGRESS, progress=50, content="50%")
    bodies.body(running)
    done = running.evolve(status=JobStatus.COMPLETED, updated=T0 + timedelta(seconds=1))
    assert bodies.body(done) == encode(job_model(done))
    assert b'"status":"completed"' in bodies.body(done)


def test_a_new_child_is_never_served_stale() -> None:
    """``add_child`` changes a finished job without touching ``updated``."""
    bodies = JobBodies()
    parent = completed()
    bodies.body(parent)
    with_child = parent.evolve(children=(Child("U1", "job:child"),))
    assert bodies.body(with_child) == encode(job_model(with_child))
    assert b'"children":[{"button":"U1","jobid":"job:child"}]' in bodies.body(with_child)


def test_the_code_is_part_of_the_version() -> None:
    """A moderated job answers 422 to its POST and 200 to a GET: two different bodies."""
    bodies, job = JobBodies(), make_job(status=JobStatus.MODERATED)
    assert b'"code":422' in bodies.body(job, 422)
    assert b'"code":200' in bodies.body(job, 200)


def test_the_least_recently_read_bodies_go_first() -> None:
    bodies = JobBodies(2)
    jobs = [completed(jobid=f"job:{n}") for n in range(3)]
    kept = bodies.body(jobs[0])
    bodies.body(jobs[1])
    bodies.body(jobs[0])  # read again: now the most recent
    bodies.body(jobs[2])
    assert len(bodies) == 2
    assert bodies.body(jobs[0]) is kept
