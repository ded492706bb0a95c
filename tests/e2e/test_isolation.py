"""Tenants: one API token never reads, cancels, clicks or lists another user's jobs or accounts.

Every foreign id answers 404, exactly like an id that does not exist, so nothing tells B that A's
job or account is there.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import DISCORD_TOKEN, Stack
from tests.e2e.helpers import add_account, imagine


async def as_other(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {await stack.new_token()}"}


async def stall_next_job(stack: Stack) -> None:
    """The simulator starts the next job and then stays silent: it keeps running."""
    rule = {"fault": "stall", "token": DISCORD_TOKEN, "times": 1}
    async with httpx.AsyncClient(base_url=stack.simulator_url) as sim:
        assert (await sim.post("/_sim/faults", json=rule)).status_code == 201


def assert_not_found(reply: httpx.Response) -> None:
    assert reply.status_code == 404, reply.text
    assert reply.json()["code"] == 404


async def test_a_token_cannot_touch_another_users_jobs(stack: Stack) -> None:
    channel = await add_account(stack, max_jobs=3)
    done = await imagine(stack, "mine")
    await stall_next_job(stack)
    running = (await stack.api.post("/v2/jobs/imagine", json={"prompt": "still running"})).json()
    assert running["jobid"] in (await stack.api.get("/v2/jobs")).json()  # the owner's list
    other = await as_other(stack)
    for jobid in (done["jobid"], running["jobid"]):
        query = {"jobid": jobid}
        assert_not_found(await stack.api.get("/v2/jobs/", params=query, headers=other))
        assert_not_found(await stack.api.get("/v2/jobs/cancel/", params=query, headers=other))
    button: dict[str, Any] = {"jobid": done["jobid"], "button": done["buttons"][0]}
    assert_not_found(await stack.api.post("/v2/jobs/button", json=button, headers=other))
    seed = {"jobid": done["jobid"]}
    assert_not_found(await stack.api.post("/v2/jobs/seed_async", json=seed, headers=other))
    listed = await stack.api.get("/v2/jobs", headers=other)
    assert (listed.status_code, listed.json()) == (200, [])
    # The owner still sees (and may cancel) its job: nothing above changed it.
    mine = await stack.api.get("/v2/jobs/", params={"jobid": running["jobid"]})
    assert mine.status_code == 200 and mine.json()["channel"] == channel


async def test_a_token_cannot_touch_another_users_accounts(stack: Stack) -> None:
    channel = await add_account(stack)
    other = await as_other(stack)
    path = f"/v2/account/midjourney/{channel}"
    # An empty list is useapi's "no configuration": 404.
    assert_not_found(await stack.api.get("/v2/account/midjourney", headers=other))
    assert_not_found(await stack.api.get(path, headers=other))
    assert_not_found(await stack.api.post(f"{path}/reset", headers=other))
    assert_not_found(await stack.api.delete(path, headers=other))
    own = await stack.api.get(path)
    assert own.status_code == 200  # still there for its owner
    job = {"prompt": "on your account", "channel": channel}
    assert_not_found(await stack.api.post("/v2/jobs/imagine", json=job, headers=other))
