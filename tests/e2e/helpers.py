"""Small steps the end-to-end tests share: add an account, run a job, click a button."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.e2e.conftest import DISCORD_TOKEN, Stack

TERMINAL = {"completed", "failed", "moderated", "cancelled"}
#: Every field of useapi's job model (reference §7) this server emits.
MODEL_FIELDS = {
    "jobid",
    "verb",
    "status",
    "created",
    "updated",
    "prompt",
    "button",
    "parentJobId",
    "children",
    "buttons",
    "discord",
    "channel",
    "server",
    "maxJobs",
    "replyUrl",
    "replyRef",
    "messageId",
    "content",
    "timestamp",
    "attachments",
    "embeds",
    "seed",
    "blendUrls",
    "blendDimensions",
    "describeUrl",
    "error",
    "errorDetails",
    "code",
}
ATTACHMENT_FIELDS = {
    "id",
    "url",
    "proxy_url",
    "filename",
    "content_type",
    "width",
    "height",
    "size",
}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JOBID = re.compile(r"^job:\d{17}-user:\d+-channel:\d+$")


def assert_job_model(body: dict[str, Any], verb: str) -> None:
    """The job as useapi returns it, field by field."""
    assert set(body) <= MODEL_FIELDS, set(body) - MODEL_FIELDS
    assert JOBID.match(body["jobid"]) and body["jobid"].endswith(f"-channel:{body['channel']}")
    assert body["verb"] == verb and body["code"] == 200
    assert ISO_MS.match(body["created"]) and ISO_MS.match(body["updated"])
    assert body["created"] <= body["updated"]
    assert re.fullmatch(r".{3}\.\.\.secured\.\.\..{3}", body["discord"])
    assert body["channel"].isdigit() and 1 <= body["maxJobs"] <= 15
    assert body["messageId"].isdigit() and isinstance(body["content"], str)
    assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+\+00:00$", body["timestamp"])
    for attachment in body.get("attachments", []):
        assert set(attachment) == ATTACHMENT_FIELDS, attachment
        assert attachment["size"] > 0 and attachment["width"] > 0 and attachment["height"] > 0
    assert all(isinstance(label, str) and label for label in body.get("buttons", []))
    for child in body.get("children", []):
        assert set(child) <= {"button", "jobid", "messageId"} and JOBID.match(child["jobid"])


GRID_BUTTONS = ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]


async def add_account(stack: Stack, max_jobs: int = 3, token: str = DISCORD_TOKEN) -> str:
    reply = await stack.api.post(
        "/v2/account/midjourney", json={"discord": token, "maxJobs": max_jobs}
    )
    assert reply.status_code in (200, 201), reply.text
    channel: str = reply.json()["channel"]
    return channel


async def finished(stack: Stack, jobid: str) -> dict[str, Any]:
    """The job once it has ended (bounded wait)."""

    async def poll() -> dict[str, Any]:
        while True:
            body: dict[str, Any] = (
                await stack.api.get("/v2/jobs/", params={"jobid": jobid})
            ).json()
            if body["status"] in TERMINAL:
                return body
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), 20)


async def run(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a job, expect 200, and return the finished job (asserting it completed)."""
    reply = await stack.api.post(path, json=body)
    assert reply.status_code == 200, reply.text
    done = await finished(stack, reply.json()["jobid"])
    assert done["status"] == "completed", done
    assert_job_model(done, path.rsplit("/", 1)[-1])
    return done


async def imagine(stack: Stack, prompt: str) -> dict[str, Any]:
    return await run(stack, "/v2/jobs/imagine", {"prompt": prompt})


async def click(stack: Stack, parent: dict[str, Any], button: str, **extra: Any) -> dict[str, Any]:
    assert button in parent["buttons"], (button, parent["buttons"])
    child = await run(
        stack, "/v2/jobs/button", {"jobid": parent["jobid"], "button": button, **extra}
    )
    assert child["verb"] == "button" and child["button"] == button
    assert child["parentJobId"] == parent["jobid"]
    return child


async def children_of(stack: Stack, jobid: str) -> list[dict[str, Any]]:
    body = (await stack.api.get("/v2/jobs/", params={"jobid": jobid})).json()
    found: list[dict[str, Any]] = body.get("children", [])
    return found
