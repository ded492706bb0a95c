"""blend, describe, seed_async, the settings commands and cancel, end to end."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.helpers import add_account, finished, imagine, run


async def test_blend_of_two_images(stack: Stack) -> None:
    await add_account(stack)
    first, second = await imagine(stack, "red apples"), await imagine(stack, "blue sea")
    urls = [first["attachments"][0]["url"], second["attachments"][0]["url"]]
    blend = await run(stack, "/v2/jobs/blend", {"blendUrls": urls, "blendDimensions": "Landscape"})
    assert blend["verb"] == "blend" and blend["blendUrls"] == urls
    assert blend["blendDimensions"] == "Landscape"
    assert "--ar 3:2" in blend["content"] and blend["buttons"][:2] == ["U1", "U2"]
    assert blend["attachments"][0]["content_type"] == "image/png"


async def test_blend_refuses_unreachable_images(stack: Stack) -> None:
    await add_account(stack)
    reply = await stack.api.post(
        "/v2/jobs/blend",
        json={"blendUrls": [f"{stack.simulator_url}/nothing.png", f"{stack.simulator_url}/x.png"]},
    )
    assert reply.status_code == 400 and "can not be retrieved" in reply.json()["error"]
    assert (await stack.api.get("/v2/jobs")).json() == []


async def test_describe_returns_four_prompts(stack: Stack) -> None:
    await add_account(stack)
    source = await imagine(stack, "a mountain lake")
    url = source["attachments"][0]["url"]
    described = await run(stack, "/v2/jobs/describe", {"describeUrl": url})
    assert described["verb"] == "describe" and described["describeUrl"] == url
    text = described["embeds"][0]["description"]
    assert all(mark in text for mark in ("1️⃣", "2️⃣", "3️⃣", "4️⃣"))


async def test_seed_of_a_grid(stack: Stack) -> None:
    await add_account(stack)
    grid = await imagine(stack, "a paper crane")
    seed = await run(stack, "/v2/jobs/seed_async", {"jobid": grid["jobid"]})
    assert seed["verb"] == "seed_async" and seed["parentJobId"] == grid["jobid"]
    assert isinstance(seed["seed"]["value"], int)
    assert "**seed**" in seed["seed"]["content"]
    assert len(seed["attachments"]) == 4


async def test_seed_refuses_video_jobs(stack: Stack) -> None:
    await add_account(stack)
    video = await imagine(stack, "rain on glass --video")
    reply = await stack.api.post("/v2/jobs/seed_async", json={"jobid": video["jobid"]})
    assert reply.status_code == 400


@pytest.mark.parametrize(
    ("verb", "expected"),
    [
        ("fast", "Done!"),
        ("relax", "Done!"),
        ("turbo", "Done!"),
        ("variability", "variability mode turned"),
        ("remix", "Remix mode turned"),
    ],
)
async def test_settings_commands(stack: Stack, verb: str, expected: str) -> None:
    await add_account(stack)
    reply = await stack.api.post(f"/v2/jobs/{verb}", json={})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "completed" and body["verb"] == verb
    assert expected in body["content"]


async def test_info_reply_is_in_embeds(stack: Stack) -> None:
    await add_account(stack)
    body = (await stack.api.post("/v2/jobs/info", json={})).json()
    assert body["status"] == "completed" and body["verb"] == "info"
    assert "**Subscription**" in body["embeds"][0]["description"]
    again = await stack.api.get("/v2/jobs/", params={"jobid": body["jobid"]})
    assert again.json()["embeds"] == body["embeds"]


async def test_cancel_a_running_job(stack: Stack) -> None:
    await add_account(stack)
    reply = await stack.api.post(
        "/v2/jobs/imagine", json={"prompt": "slow one", "replyUrl": stack.sink_url}
    )
    jobid = reply.json()["jobid"]
    cancelled = await stack.api.get("/v2/jobs/cancel/", params={"jobid": jobid})
    assert cancelled.json() == {"jobid": jobid, "status": "cancelled", "code": 200}
    assert (await finished(stack, jobid))["status"] == "cancelled"
    await stack.sink.wait_for_status(jobid, "cancelled")
    await asyncio.sleep(0.3)  # let the simulator's late messages arrive: they must change nothing
    assert (await finished(stack, jobid))["status"] == "cancelled"
    assert (await stack.api.get("/v2/jobs/cancel/")).status_code == 400
    unknown = await stack.api.get("/v2/jobs/cancel/", params={"jobid": "job:nope"})
    assert unknown.status_code == 404
