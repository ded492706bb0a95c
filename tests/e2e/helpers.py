"""Small steps the end-to-end tests share: add an account, run a job, click a button."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.conftest import DISCORD_TOKEN, Stack

TERMINAL = {"completed", "failed", "moderated", "cancelled"}
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
