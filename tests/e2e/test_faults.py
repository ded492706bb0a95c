"""Every Midjourney and Discord fault of the catalogue, injected through the simulator's control API
(``/_sim/...``) over real sockets: the job's status, the HTTP code the client sees and the account's
state afterwards (reference §4, docs/api.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mjapi.engine.watchdog import STALE_ERROR
from mjapi.simulator import SimulatorConfig
from mjapi.transports.discord.correlate import NO_RESPONSE_ERROR
from tests.e2e.conftest import DISCORD_TOKEN, Stack
from tests.e2e.helpers import add_account, finished, imagine

#: Quiet jobs are failed after this many seconds here (MJAPI_JOB_TIMEOUT). Longer than the 1-5 s
#: Discord asks a client to wait before identifying again after a non-resumable INVALID_SESSION.
JOB_TIMEOUT = 6.0


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    return {"job_timeout": JOB_TIMEOUT}


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    # Beats every half second: a zombie connection is noticed within about a second.
    return SimulatorConfig(step_delay=0.02, heartbeat_interval_ms=500)


async def inject(stack: Stack, fault: str, **rule: Any) -> dict[str, Any]:
    """Add a fault rule for the e2e account's token."""
    async with httpx.AsyncClient(base_url=stack.simulator_url) as sim:
        reply = await sim.post(
            "/_sim/faults", json={"fault": fault, "token": DISCORD_TOKEN, **rule}
        )
    assert reply.status_code == 201, reply.text
    added: dict[str, Any] = reply.json()
    return added


async def control(stack: Stack, path: str, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.simulator_url) as sim:
        reply = await sim.post(f"/_sim/{path}", json=body)
    assert reply.status_code == 200, reply.text
    answer: dict[str, Any] = reply.json()
    return answer


async def sim_stats(stack: Stack) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.simulator_url) as sim:
        stats: dict[str, Any] = (await sim.get("/_sim/stats")).json()
    return stats


async def account_state(stack: Stack, channel: str) -> dict[str, Any]:
    reply = await stack.api.get(f"/v2/account/midjourney/{channel}")
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def post_imagine(stack: Stack, prompt: str = "a lighthouse at dusk") -> httpx.Response:
    return await stack.api.post("/v2/jobs/imagine", json={"prompt": prompt})


async def assert_in_rotation(stack: Stack, channel: str) -> None:
    state = await account_state(stack, channel)
    assert "pendingModMessage" not in state and "error" not in state, state
    await imagine(stack, "still working")


# -- the prompt or the job ---------------------------------------------------------------------


async def test_banned_prompt_is_moderated_with_422(stack: Stack) -> None:
    channel = await add_account(stack)
    await inject(stack, "banned_prompt", prompt_contains="forbidden")
    reply = await post_imagine(stack, "a forbidden thing")
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["status"] == "moderated" and body["code"] == 422
    assert body["error"] == "Banned prompt detected"
    assert (await finished(stack, body["jobid"]))["status"] == "moderated"
    await assert_in_rotation(stack, channel)


async def test_output_filter_moderates_a_started_job(stack: Stack) -> None:
    channel = await add_account(stack)
    await inject(stack, "output_filter")
    reply = await post_imagine(stack)
    assert reply.status_code == 200, reply.text
    done = await finished(stack, reply.json()["jobid"])
    assert done["status"] == "moderated"
    assert done["error"] == "Request cancelled due to output filters"
    await assert_in_rotation(stack, channel)


@pytest.mark.parametrize(
    ("fault", "title"),
    [("invalid_parameter", "Invalid parameter"), ("invalid_link", "Invalid link")],
)
async def test_invalid_input_fails_the_job_with_midjourneys_text(
    stack: Stack, fault: str, title: str
) -> None:
    channel = await add_account(stack)
    await inject(stack, fault)
    reply = await post_imagine(stack)
    assert reply.status_code == 200, reply.text
    done = await finished(stack, reply.json()["jobid"])
    assert done["status"] == "failed"
    assert done["error"] == title and done["errorDetails"]
    await assert_in_rotation(stack, channel)


async def test_job_queued_answers_504_and_the_job_still_completes(stack: Stack) -> None:
    await add_account(stack)
    await inject(stack, "job_queued", delay=0.3)
    reply = await post_imagine(stack)
    assert reply.status_code == 504, reply.text
    body = reply.json()
    assert body["status"] == "created" and body["error"] == "Job queued" and body["code"] == 504
    assert (await finished(stack, body["jobid"]))["status"] == "completed"


async def test_plan_concurrency_queues_the_job_beyond_the_plan(stack: Stack) -> None:
    await add_account(stack, max_jobs=4)  # one more than the Basic plan's 3 concurrent jobs
    await control(stack, "plans", token=DISCORD_TOKEN, plan="Basic")
    replies = await asyncio.gather(*(post_imagine(stack, f"cat {n}") for n in range(4)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200, 200, 504], [r.text for r in replies]
    for reply in replies:
        assert (await finished(stack, reply.json()["jobid"]))["status"] == "completed"


async def test_queue_full_answers_429_and_frees_the_slot(stack: Stack) -> None:
    channel = await add_account(stack, max_jobs=1)
    await inject(stack, "queue_full")
    reply = await post_imagine(stack)
    assert reply.status_code == 429, reply.text
    body = reply.json()
    assert body["status"] == "failed" and body["error"] == "Queue full"
    assert "executingJobs" not in body
    await assert_in_rotation(stack, channel)  # the one slot is free again


# -- the account needs its owner ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "notice"),
    [
        ("action_needed", "Action needed to continue"),
        ("pending_mod_message", "Pending mod message"),
        ("captcha", "verify you're human"),
    ],
)
async def test_owner_needed_flags_the_account_until_reset(
    stack: Stack, fault: str, notice: str
) -> None:
    channel = await add_account(stack)
    await inject(stack, fault)
    reply = await post_imagine(stack)
    assert reply.status_code == 596, reply.text
    assert reply.json()["status"] == "failed"
    state = await account_state(stack, channel)
    assert notice in state["pendingModMessage"]
    refused = await post_imagine(stack)
    assert refused.status_code == 596
    assert refused.json()["error"].startswith("Your Discord account has received a pending")
    reset = await stack.api.post(f"/v2/account/midjourney/{channel}/reset")
    assert reset.status_code == 204, reset.text
    await assert_in_rotation(stack, channel)


@pytest.mark.parametrize(
    ("fault", "title"),
    [
        ("blocked", "Blocked"),
        ("subscription_required", "Subscription required"),
        ("credits_exhausted", "Credits exhausted"),
    ],
)
async def test_unusable_account_is_disabled_with_the_reason(
    stack: Stack, fault: str, title: str
) -> None:
    channel = await add_account(stack)
    await inject(stack, fault)
    reply = await post_imagine(stack)
    assert reply.status_code == 596, reply.text
    assert reply.json()["error"] == title
    state = await account_state(stack, channel)
    assert state["error"].startswith(title)
    refused = await post_imagine(stack)
    assert refused.status_code == 596 and title in refused.json()["error"]
    reset = await stack.api.post(f"/v2/account/midjourney/{channel}/reset")
    assert reset.status_code == 204, reset.text
    await assert_in_rotation(stack, channel)


async def test_token_rejected_by_the_gateway_disables_the_account(stack: Stack) -> None:
    channel = await add_account(stack)
    await inject(stack, "stall")
    running = (await post_imagine(stack)).json()
    await control(stack, "tokens/revoke", token=DISCORD_TOKEN)
    done = await finished(stack, running["jobid"])
    assert done["status"] == "failed"
    state = await _until(stack, channel, lambda s: "error" in s)
    assert "4004" in state["error"]
    refused = await post_imagine(stack)
    assert refused.status_code == 596, refused.text
    # Reset while Discord still refuses the token: the account stays disabled.
    reset = await stack.api.post(f"/v2/account/midjourney/{channel}/reset")
    assert reset.status_code == 400, reset.text
    await control(stack, "tokens/restore", token=DISCORD_TOKEN)
    reset = await stack.api.post(f"/v2/account/midjourney/{channel}/reset")
    assert reset.status_code == 204, reset.text
    await assert_in_rotation(stack, channel)


async def test_token_rejected_by_rest_disables_the_account(stack: Stack) -> None:
    channel = await add_account(stack)
    await inject(stack, "silent")  # nothing for the gateway to notice
    await control(stack, "tokens/revoke", token=DISCORD_TOKEN)
    reply = await post_imagine(stack)
    assert reply.status_code == 596, reply.text
    assert "error" in await account_state(stack, channel)


# -- Midjourney goes quiet or says something unknown -------------------------------------------


@pytest.mark.parametrize("fault", ["unrecognized", "silent", "stall", "interaction_failure"])
async def test_no_job_stays_unfinished(
    stack: Stack, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    channel = await add_account(stack)
    await inject(stack, fault)
    caplog.set_level(logging.WARNING)
    reply = await post_imagine(stack)
    assert reply.status_code == 200, reply.text
    done = await finished(stack, reply.json()["jobid"])
    assert done["status"] == "failed"
    if fault == "interaction_failure":
        assert done["error"] == NO_RESPONSE_ERROR
    else:
        assert done["error"] == STALE_ERROR
    if fault == "unrecognized":
        assert "Something unexpected happened" in caplog.text  # logged with its payload
    await assert_in_rotation(stack, channel)


# -- Discord: gateway and REST -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body", "recovery"),
    [
        ("gateway/drop", {}, "resumed"),
        ("gateway/reconnect", {}, "resumed"),
        ("gateway/invalidate", {"resumable": True}, "resumed"),
        ("gateway/invalidate", {"resumable": False}, "identifies"),
        ("gateway/close", {"code": 4000}, "resumed"),
        ("gateway/zombie", {}, "resumed"),
    ],
)
async def test_jobs_survive_gateway_trouble(
    stack: Stack, action: str, body: dict[str, Any], recovery: str
) -> None:
    await add_account(stack)
    before = (await sim_stats(stack))["gateway"][recovery]
    replies = [await post_imagine(stack, f"storm {n}") for n in range(2)]
    await control(stack, action, token=DISCORD_TOKEN, **body)
    for reply in replies:
        assert reply.status_code == 200, reply.text
        assert (await finished(stack, reply.json()["jobid"]))["status"] == "completed"
    await _until_stat(stack, recovery, before + 1)
    await imagine(stack, "after the storm")


@pytest.mark.parametrize("scope", [False, True])
async def test_rate_limits_are_waited_out_not_violated(stack: Stack, scope: bool) -> None:
    await add_account(stack)
    await inject(
        stack, "rate_limit", route="interactions", retry_after=0.4, times=2, **{"global": scope}
    )
    done = await imagine(stack, "patient")
    assert done["status"] == "completed"
    stats = await sim_stats(stack)
    assert stats["rate_limited"] == 2
    assert stats["early_requests"] == 0


async def test_discord_server_errors_are_retried(stack: Stack) -> None:
    await add_account(stack)
    await inject(stack, "server_error", route="interactions", status=502, times=2)
    assert (await imagine(stack, "resilient"))["status"] == "completed"
    assert (await sim_stats(stack))["server_errors"] == 2


async def test_a_stale_command_version_is_refreshed(stack: Stack) -> None:
    await add_account(stack)
    await imagine(stack, "learns the index")
    async with httpx.AsyncClient(base_url=stack.simulator_url) as sim:
        bumped = await sim.post("/_sim/commands/imagine/bump")
    assert bumped.status_code == 200, bumped.text
    assert (await imagine(stack, "after the bump"))["status"] == "completed"


async def _until(
    stack: Stack, channel: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The account's state once ``check`` holds (bounded wait)."""

    async def poll() -> dict[str, Any]:
        while True:
            state = await account_state(stack, channel)
            if check(state):
                return state
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), 10)


async def _until_stat(stack: Stack, key: str, at_least: int) -> None:
    """Wait (bounded) until the simulator's gateway counter ``key`` reached ``at_least``."""

    async def poll() -> None:
        while True:
            if (await sim_stats(stack))["gateway"][key] >= at_least:
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), 10)
