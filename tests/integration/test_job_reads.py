"""Reading jobs through the API while they change: no cached version is ever served stale."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mjapi.clock import SystemClock
from mjapi.domain.jobs import Attachment, Button, Job, JobStatus
from mjapi.domain.model import job_model
from tests.integration.api_rig import OWNER, ApiRig, api_rig


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiRig]:
    async with api_rig(tmp_path, rate_limit=0) as rig:
        yield rig


async def get_job(api: ApiRig, jobid: str) -> httpx.Response:
    reply = await api.client.get("/v2/jobs/", params={"jobid": jobid})
    assert reply.status_code == 200, reply.text
    return reply


async def completed_grid(api: ApiRig) -> Job:
    """A finished imagine job with its buttons, as a run before this one left it in the store."""
    now = SystemClock().now()
    job = Job(
        jobid=f"job:20250102030405678-user:{OWNER}-channel:{api.channel}",
        owner=OWNER,
        verb="imagine",
        status=JobStatus.COMPLETED,
        created=now,
        updated=now,
        channel=api.channel,
        discord="fak...secured...789",
        max_jobs=3,
        prompt="a lighthouse 🌊",
        message_id="grid-message",
        attachments=(Attachment("1", "https://cdn.example/grid.png", "grid.png"),),
        buttons=(Button("U1", "MJ::JOB::upsample::1::hash-1"),),
        job_hash="hash-1",
    )
    await api.store.insert_job(job)
    return job


async def test_a_finished_job_reads_exactly_as_its_model(api: ApiRig) -> None:
    job = await completed_grid(api)
    for _ in range(2):  # the second read may come from a cache: it must not differ
        reply = await get_job(api, job.jobid)
        assert reply.content == json.dumps(
            job_model(job), ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        assert reply.headers["content-type"] == "application/json"


async def test_a_new_child_shows_at_once(api: ApiRig) -> None:
    parent = await completed_grid(api)
    assert "children" not in (await get_job(api, parent.jobid)).json()
    click = await api.client.post("/v2/jobs/button", json={"jobid": parent.jobid, "button": "U1"})
    assert click.status_code == 200, click.text
    child = click.json()["jobid"]
    assert (await get_job(api, parent.jobid)).json()["children"] == [
        {"button": "U1", "jobid": child}
    ]
    again = await api.client.post("/v2/jobs/button", json={"jobid": parent.jobid, "button": "U1"})
    assert again.status_code == 409, "U1 runs once per parent: the engine saw the child too"


async def test_a_new_status_shows_at_once(api: ApiRig) -> None:
    started = await api.client.post("/v2/jobs/imagine", json={"prompt": "a cat"})
    jobid = started.json()["jobid"]
    for _ in range(2):
        assert (await get_job(api, jobid)).json()["status"] == "started"
    cancel = await api.client.get("/v2/jobs/cancel/", params={"jobid": jobid})
    assert cancel.json()["status"] == "cancelled"
    for _ in range(2):
        assert (await get_job(api, jobid)).json()["status"] == "cancelled"
