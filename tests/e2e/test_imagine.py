"""Done-when of the walking skeleton: imagine end to end over real sockets."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from mjapi.simulator import SimulatorConfig
from tests.e2e.conftest import DISCORD_TOKEN, Stack


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    # Jobs here must still be running when the test looks (GET /v2/jobs lists it; five requests
    # race for two slots): about a second per job leaves a wide margin on a loaded machine.
    return SimulatorConfig(step_delay=0.12, heartbeat_interval_ms=5000)


GRID_BUTTONS = ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]


async def add_account(stack: Stack, max_jobs: int = 3, token: str = DISCORD_TOKEN) -> str:
    reply = await stack.api.post(
        "/v2/account/midjourney", json={"discord": token, "maxJobs": max_jobs}
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["maxJobs"] == max_jobs and body["code"] == 201
    assert body["discord"] == f"{token[:3]}...secured...{token[-3:]}"
    channel: str = body["channel"]
    return channel


async def wait_for_job(stack: Stack, jobid: str, status: str) -> dict[str, Any]:
    async def poll() -> dict[str, Any]:
        while True:
            body: dict[str, Any] = (
                await stack.api.get("/v2/jobs/", params={"jobid": jobid})
            ).json()
            if body["status"] == status:
                return body
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), 15)


async def test_imagine_end_to_end(stack: Stack) -> None:
    channel = await add_account(stack)
    prompt = "a red fox in fresh snow --ar 1:1"
    reply = await stack.api.post(
        "/v2/jobs/imagine",
        json={"prompt": prompt, "replyUrl": stack.sink_url, "replyRef": "ref-42"},
    )
    assert reply.status_code == 200, reply.text
    started = reply.json()
    assert started["status"] == "started" and started["verb"] == "imagine"
    assert started["code"] == 200 and started["channel"] == channel
    assert started["messageId"] and "Waiting to start" in started["content"]
    assert prompt in started["content"] and started["timestamp"]
    assert started["discord"] == f"{DISCORD_TOKEN[:3]}...secured...{DISCORD_TOKEN[-3:]}"
    jobid = started["jobid"]
    assert jobid.endswith(f"-channel:{channel}") and jobid.startswith("job:")

    assert jobid in (await stack.api.get("/v2/jobs")).json()
    done = await wait_for_job(stack, jobid, "completed")
    assert (await stack.api.get("/v2/jobs")).json() == []

    assert done["buttons"] == GRID_BUTTONS
    assert prompt in done["content"] and done["replyRef"] == "ref-42"
    assert len(done["attachments"]) == 1
    await check_png(done["attachments"][0])

    await stack.sink.wait_for_status(jobid, "completed")
    statuses = stack.sink.statuses(jobid)
    assert statuses[0] == "started" and statuses[-1] == "completed"
    assert set(statuses[1:-1]) <= {"progress"}  # those not skipped for a newer one (the outbox)
    assert stack.sink.bodies[-1]["attachments"] == done["attachments"]


async def check_png(attachment: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as cdn:
        image = await cdn.get(attachment["url"])
    assert image.status_code == 200
    assert attachment["content_type"] == "image/png" == image.headers["content-type"]
    assert len(image.content) == attachment["size"]
    with Image.open(io.BytesIO(image.content)) as picture:
        assert picture.format == "PNG"
        assert picture.size == (attachment["width"], attachment["height"])
    assert attachment["filename"].endswith(".png")


async def test_five_imagines_on_two_slots(stack: Stack) -> None:
    await add_account(stack, max_jobs=2)
    replies = await asyncio.gather(
        *(stack.api.post("/v2/jobs/imagine", json={"prompt": f"slot test {i}"}) for i in range(5))
    )
    accepted = [r.json()["jobid"] for r in replies if r.status_code == 200]
    refused = [r.json() for r in replies if r.status_code == 429]
    assert len(accepted) == 2 and len(refused) == 3
    for body in refused:
        assert sorted(body["executingJobs"]) == sorted(accepted)
        assert body["code"] == 429 and body["error"]


async def test_account_listing_and_update(stack: Stack) -> None:
    assert (await stack.api.get("/v2/account/midjourney")).status_code == 404
    channel = await add_account(stack, max_jobs=2)
    again = await stack.api.post(
        "/v2/account/midjourney", json={"discord": DISCORD_TOKEN, "maxJobs": 3}
    )
    assert again.status_code == 200 and again.json()["channel"] == channel
    listing = (await stack.api.get("/v2/account/midjourney")).json()
    assert listing == {
        channel: {
            "channel": channel,
            "discord": f"{DISCORD_TOKEN[:3]}...secured...{DISCORD_TOKEN[-3:]}",
            "maxJobs": 3,
        }
    }
    assert DISCORD_TOKEN not in (await stack.api.get("/v2/account/midjourney")).text


async def test_imagine_on_a_named_channel_and_another_users_view(stack: Stack) -> None:
    channel = await add_account(stack)
    reply = await stack.api.post("/v2/jobs/imagine", json={"prompt": "owl", "channel": channel})
    assert reply.status_code == 200
    jobid = reply.json()["jobid"]
    other = await stack.new_token()
    headers = {"Authorization": f"Bearer {other}"}
    hidden = await stack.api.get("/v2/jobs/", params={"jobid": jobid}, headers=headers)
    assert hidden.status_code == 404
    assert (await stack.api.get("/v2/jobs", headers=headers)).json() == []
    unknown = await stack.api.post("/v2/jobs/imagine", json={"prompt": "owl", "channel": "42"})
    assert unknown.status_code == 404
