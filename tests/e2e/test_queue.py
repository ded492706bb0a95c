"""The durable queue through the API: opt-in per request, answered at once, run in order."""

from __future__ import annotations

import itertools

from tests.e2e.conftest import Stack
from tests.e2e.helpers import add_account, finished


async def test_a_busy_account_answers_429_with_retry_after(stack: Stack) -> None:
    await add_account(stack, max_jobs=1)
    first = await stack.api.post("/v2/jobs/imagine", json={"prompt": "first"})
    assert first.status_code == 200
    busy = await stack.api.post("/v2/jobs/imagine", json={"prompt": "second"})
    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == "10"
    assert busy.json()["executingJobs"] == [first.json()["jobid"]]


async def test_queued_jobs_wait_and_then_all_complete_in_order(stack: Stack) -> None:
    await add_account(stack, max_jobs=1)
    hook = {"replyUrl": stack.sink_url}
    first = (await stack.api.post("/v2/jobs/imagine", json={"prompt": "first", **hook})).json()
    queued = []
    for n in range(3):
        body = {"prompt": f"q{n}", "queue": True, **hook}
        reply = await stack.api.post("/v2/jobs/imagine", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "created"
        queued.append(reply.json()["jobid"])
    jobids = [first["jobid"], *queued]
    done = [await finished(stack, jobid) for jobid in jobids]
    assert [d["status"] for d in done] == ["completed"] * 4
    for jobid in jobids:
        await stack.sink.wait_for_status(jobid, "completed")
    # One slot: each job started (its first callback) only after the one before it completed.
    for earlier, later in itertools.pairwise(jobids):
        ended = callback_time(stack, earlier, "completed")
        assert ended <= callback_time(stack, later, "started"), (earlier, later)


def callback_time(stack: Stack, jobid: str, status: str) -> str:
    """``updated`` of the job's callback reporting ``status`` (ISO text: sorts as time)."""
    body = next(b for b in stack.sink.bodies if b["jobid"] == jobid and b["status"] == status)
    stamp: str = body["updated"]
    return stamp


async def test_queue_must_be_a_boolean(stack: Stack) -> None:
    await add_account(stack, max_jobs=1)
    reply = await stack.api.post("/v2/jobs/imagine", json={"prompt": "x", "queue": "maybe"})
    assert reply.status_code == 400
    assert reply.json() == {"error": "Param queue must be true or false", "code": 400}
