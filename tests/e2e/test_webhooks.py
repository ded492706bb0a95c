"""Callbacks end to end: signed, listed with their attempts, replayed, and all delivered in order
after the receiver was down for a while; the per-token request rate limit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mjapi.webhooks.signing import verify
from tests.e2e.conftest import Stack
from tests.e2e.helpers import add_account, finished

RANK = {"created": 0, "started": 1, "progress": 2, "completed": 3}


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    # Retries come back quickly once the receiver is up again.
    return {"callback_max_interval": 0.3}


async def start_job(stack: Stack, prompt: str) -> str:
    body = {"prompt": prompt, "replyUrl": stack.sink_url}
    reply = await stack.api.post("/v2/jobs/imagine", json=body)
    assert reply.status_code == 200, reply.text
    jobid: str = reply.json()["jobid"]
    return jobid


async def test_callbacks_are_signed_with_the_callers_secret(stack: Stack) -> None:
    await add_account(stack)
    jobid = await start_job(stack, "a signed cat")
    await stack.sink.wait_for_status(jobid, "completed")
    secret = (await stack.api.get("/v2/webhooks/secret")).json()["secret"]
    for headers, raw in zip(stack.sink.headers, stack.sink.raw, strict=True):
        assert verify(secret, headers, raw)
    ids = [h["webhook-id"] for h in stack.sink.headers]
    assert len(set(ids)) == len(ids)  # one event id per callback


async def test_a_rotated_secret_signs_the_next_callbacks(stack: Stack) -> None:
    await add_account(stack)
    old = (await stack.api.get("/v2/webhooks/secret")).json()["secret"]
    new = (await stack.api.post("/v2/webhooks/secret")).json()["secret"]
    assert new != old and new.startswith("whsec_")
    jobid = await start_job(stack, "after rotation")
    await stack.sink.wait_for_status(jobid, "completed")
    assert verify(new, stack.sink.headers[-1], stack.sink.raw[-1])
    assert not verify(old, stack.sink.headers[-1], stack.sink.raw[-1])


async def test_deliveries_are_listed_with_attempts_and_can_be_replayed(stack: Stack) -> None:
    await add_account(stack)
    jobid = await start_job(stack, "listed")
    await stack.sink.wait_for_status(jobid, "completed")
    await asyncio.sleep(0.1)  # the worker records the last attempt after the answer
    listed = (await stack.api.get("/v2/webhooks/deliveries", params={"jobid": jobid})).json()
    assert [d["event"] for d in reversed(listed)] == stack.sink.statuses(jobid)
    last = listed[0]
    assert last["status"] == "delivered" and last["attempts"][0]["statusCode"] == 200
    one = (await stack.api.get(f"/v2/webhooks/deliveries/{last['eventId']}")).json()
    assert one == last
    before = len(stack.sink.bodies)
    replayed = await stack.api.post(f"/v2/webhooks/deliveries/{last['eventId']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    for _ in range(200):
        if len(stack.sink.bodies) > before:
            break
        await asyncio.sleep(0.02)
    assert len(stack.sink.bodies) == before + 1  # sent once more, and only once
    assert stack.sink.headers[-1]["webhook-id"] == last["eventId"]
    assert stack.sink.bodies[-1]["status"] == "completed"


async def test_bad_listing_parameters_get_a_400(stack: Stack) -> None:
    odd_limits = ["0", "many", "1001", "²", "١", "9" * 5000, "-1"]
    odd = [{"status": "lost"}, {"jobid": "x\x00y"}, *({"limit": v} for v in odd_limits)]
    for params in odd:
        reply = await stack.api.get("/v2/webhooks/deliveries", params=params)
        assert reply.status_code == 400, reply.text
        assert reply.json()["code"] == 400
    for event_id in ("evt_nope", "evt%00x", "e" * 500):
        missing = await stack.api.post(f"/v2/webhooks/deliveries/{event_id}/replay")
        assert missing.status_code == 404 and missing.json()["code"] == 404
        seen = await stack.api.get(f"/v2/webhooks/deliveries/{event_id}")
        assert seen.status_code == 404 and seen.json()["code"] == 404


async def test_a_receiver_down_for_a_while_gets_every_callback_in_order(stack: Stack) -> None:
    await add_account(stack, max_jobs=3)
    stack.sink.down = True
    jobids = [await start_job(stack, f"while down {n}") for n in range(3)]
    for jobid in jobids:
        assert (await finished(stack, jobid))["status"] == "completed"
    assert stack.sink.refused > 0 and stack.sink.bodies == []
    stack.sink.down = False
    for jobid in jobids:
        await stack.sink.wait_for_status(jobid, "completed", seconds=20)
    for jobid in jobids:
        received = [b for b in stack.sink.bodies if b["jobid"] == jobid]
        order = [(RANK[b["status"]], b.get("progress") or 0) for b in received]
        assert order == sorted(order), order
        listed = (await stack.api.get("/v2/webhooks/deliveries", params={"jobid": jobid})).json()
        assert len(received) == len(listed)
        assert all(d["status"] == "delivered" for d in listed)
        assert any(len(d["attempts"]) > 1 for d in listed)


async def test_another_users_deliveries_stay_invisible(stack: Stack) -> None:
    await add_account(stack)
    jobid = await start_job(stack, "private")
    await stack.sink.wait_for_status(jobid, "completed")
    event_id = stack.sink.headers[-1]["webhook-id"]
    other = {"Authorization": f"Bearer {await stack.new_token()}"}
    assert (await stack.api.get("/v2/webhooks/deliveries", headers=other)).json() == []
    seen = await stack.api.get(f"/v2/webhooks/deliveries/{event_id}", headers=other)
    replay = await stack.api.post(f"/v2/webhooks/deliveries/{event_id}/replay", headers=other)
    assert (seen.status_code, replay.status_code) == (404, 404)
