"""The account endpoints end to end, including the legacy server-channel form."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import DISCORD_TOKEN, Stack
from tests.e2e.helpers import add_account, imagine


async def test_one_account_reset_and_delete(stack: Stack) -> None:
    channel = await add_account(stack)
    one = await stack.api.get(f"/v2/account/midjourney/{channel}")
    assert one.status_code == 200
    assert one.json()["channel"] == channel and one.json()["maxJobs"] == 3
    assert (await stack.api.get("/v2/account/midjourney/123")).status_code == 404
    reset = await stack.api.post(f"/v2/account/midjourney/{channel}/reset")
    assert reset.status_code == 204
    deleted = await stack.api.delete(f"/v2/account/midjourney/{channel}")
    assert deleted.status_code == 204
    assert (await stack.api.get(f"/v2/account/midjourney/{channel}")).status_code == 404
    assert (await stack.api.post("/v2/jobs/imagine", json={"prompt": "p"})).status_code == 404


async def discover_server_channel(stack: Stack) -> tuple[str, str]:
    """The simulated user's guild and its text channel, the Discord way."""
    headers = {"Authorization": DISCORD_TOKEN}
    async with httpx.AsyncClient(base_url=f"{stack.simulator_url}/api/v9", headers=headers) as d:
        guild = (await d.get("/users/@me/guilds")).json()[0]["id"]
        channels = (await d.get(f"/guilds/{guild}/channels")).json()
    text = next(c["id"] for c in channels if c["type"] == 0)
    return guild, text


async def test_legacy_server_channel_account(stack: Stack) -> None:
    guild, channel = await discover_server_channel(stack)
    body = {"discord": DISCORD_TOKEN, "server": guild, "channel": channel, "maxJobs": 2}
    created = await stack.api.post(f"/v2/account/midjourney/{channel}", json=body)
    assert created.status_code == 204, created.text
    account = (await stack.api.get(f"/v2/account/midjourney/{channel}")).json()
    assert account["server"] == guild and account["maxJobs"] == 2
    done = await imagine(stack, "a harbour")
    assert done["channel"] == channel and done["server"] == guild
    mismatch = await stack.api.post(f"/v2/account/midjourney/{channel}1", json=body)
    assert mismatch.status_code == 400 and "not matching" in mismatch.json()["error"]
    no_server = {k: v for k, v in body.items() if k != "server"}
    missing = await stack.api.post(f"/v2/account/midjourney/{channel}", json=no_server)
    assert missing.json()["error"] == "Required param server is missing or empty"


async def test_profile_and_default_reply_url(stack: Stack) -> None:
    await add_account(stack)
    profile = (await stack.api.get("/v2/account")).json()
    assert profile["code"] == 200 and "replyUrl" not in profile
    updated = await stack.api.post("/v2/account", json={"replyUrl": stack.sink_url, "name": "me"})
    assert updated.status_code == 204
    assert (await stack.api.get("/v2/account")).json()["replyUrl"] == stack.sink_url
    done = await imagine(stack, "a bell")
    await stack.sink.wait_for_status(done["jobid"], "completed")
    too_long = await stack.api.post("/v2/account", json={"replyUrl": "https://x/" + "a" * 1024})
    assert too_long.status_code == 400 and too_long.json()["error"] == "replyUrl is too long"


async def test_openapi_describes_every_endpoint(stack: Stack) -> None:
    spec = (await stack.api.get("/openapi.json")).json()
    expected = {
        "/v2/jobs/imagine",
        "/v2/jobs/button",
        "/v2/jobs/blend",
        "/v2/jobs/describe",
        "/v2/jobs/seed_async",
        "/v2/jobs/info",
        "/v2/jobs/fast",
        "/v2/jobs/relax",
        "/v2/jobs/turbo",
        "/v2/jobs/variability",
        "/v2/jobs/remix",
        "/v2/jobs/cancel/",
        "/v2/jobs/",
        "/v2/jobs",
        "/v2/account",
        "/v2/account/midjourney",
        "/v2/account/midjourney/{channel}",
        "/v2/account/midjourney/{channel}/reset",
    }
    assert expected <= set(spec["paths"])
    button = spec["paths"]["/v2/jobs/button"]["post"]
    assert "409" in button["responses"]
    assert "button" in button["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert (await stack.api.get("/docs")).status_code == 200
