"""The simulator's fault injection and control API (``/_sim``), over real loopback sockets.

Raw httpx + websockets clients only (no mjapi transport), as a hardened Discord client would meet
the simulator. "Nothing more happens" is checked with a sentinel: a later job of the same account
runs to its end, and the faulted job's nonce never shows up again in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mjapi.clock import FakeClock
from mjapi.simulator import Simulator, SimulatorConfig, running_simulator
from mjapi.simulator.gateway_protocol import encode_json
from tests.integration.test_simulator import (
    MJ_BOT,
    OTHER_TOKEN,
    OUTDATED,
    TOKEN,
    WAIT,
    Account,
    Frame,
    command_body,
    dispatches_until,
    gateway_url,
    identify,
    index_command,
    open_account,
    prompt_option,
    receive,
    rest,
)

FAST = SimulatorConfig(
    step_delay=0.005,
    heartbeat_interval_ms=45000,
    progress_points=(0, 33, 66),
    grid_size=256,
    preview_size=64,
)
ZLIB = "?encoding=json&v=9&compress=zlib-stream"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator(FAST) as simulator:
        yield simulator


@pytest.fixture
async def account(sim: Simulator) -> AsyncIterator[Account]:
    async with open_account(sim) as opened:
        yield opened


# -- helpers ---------------------------------------------------------------------------------


def control(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{sim.base_url}/_sim")


async def post_control(sim: Simulator, path: str, body: Frame | None = None) -> httpx.Response:
    async with control(sim) as client:
        return await client.post(path, json=body or {})


def final(frame: Frame) -> bool:
    d = frame["d"]
    return frame["t"] == "MESSAGE_CREATE" and bool(d["attachments"]) and bool(d["components"])


def for_nonce(events: list[Frame], nonce: str) -> list[Frame]:
    return [f for f in events if isinstance(f["d"], dict) and f["d"].get("nonce") == nonce]


def embed_of(frame: Frame) -> Frame:
    [embed] = frame["d"]["embeds"]
    found: Frame = embed
    return found


def created_with_embed(frame: Frame) -> bool:
    return frame["t"] == "MESSAGE_CREATE" and bool(frame["d"]["embeds"])


async def imagine(account: Account, prompt: str, nonce: str) -> None:
    response = await account.imagine_in(account.dm, prompt, nonce)
    assert response.status_code == 204, response.text


async def sentinel(account: Account, nonce: str = "sentinel") -> list[Frame]:
    """A normal job run to its end: every dispatch until its progress message is deleted."""
    await imagine(account, "the sentinel job", nonce)
    seen_final: list[bool] = []

    def done(frame: Frame) -> bool:
        if final(frame) and frame["d"].get("nonce") == nonce:
            seen_final.append(True)
        return bool(seen_final) and frame["t"] == "MESSAGE_DELETE"

    return await dispatches_until(account.ws, done)


async def closed(ws: ClientConnection) -> ConnectionClosed:
    """Read until the connection closes; how it closed."""
    with pytest.raises(ConnectionClosed) as raised:
        for _ in range(100):
            await asyncio.wait_for(ws.recv(), WAIT)
    return raised.value


async def resume(ws: ClientConnection, token: str, session_id: str, seq: int | None) -> None:
    hello = await receive(ws)
    assert hello["op"] == 10
    d = {"token": token, "session_id": session_id, "seq": seq}
    await ws.send(json.dumps({"op": 6, "d": d}))


async def frames_until(
    ws: ClientConnection, done: Callable[[Frame], bool], limit: int = 500
) -> list[Frame]:
    """Every frame (any op) up to and including the first one ``done`` accepts."""
    seen: list[Frame] = []
    for _ in range(limit):
        seen.append(await receive(ws))
        if done(seen[-1]):
            return seen
    raise AssertionError(f"no matching frame among {len(seen)}")


@contextlib.asynccontextmanager
async def gateway(
    sim: Simulator, token: str = TOKEN
) -> AsyncIterator[tuple[ClientConnection, Frame]]:
    """A READY gateway connection of ``token`` and its READY frame."""
    async with connect(gateway_url(sim)) as ws:
        yield ws, await identify(ws, token)


async def stats(sim: Simulator) -> Frame:
    async with control(sim) as client:
        response = await client.get("/stats")
    assert response.status_code == 200
    body: Frame = response.json()
    return body


# -- the control API itself ------------------------------------------------------------------


async def test_health(sim: Simulator) -> None:
    async with control(sim) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_fault_rules_are_added_listed_and_deleted(sim: Simulator) -> None:
    async with control(sim) as client:
        added = await client.post(
            "/faults", json={"fault": "banned_prompt", "token": TOKEN, "prompt_contains": "gore"}
        )
        assert added.status_code == 201
        rule = added.json()
        assert rule["fault"] == "banned_prompt" and isinstance(rule["id"], str)
        forever = (await client.post("/faults", json={"fault": "stall", "times": None})).json()

        listed = (await client.get("/faults")).json()
        assert [r["id"] for r in listed["faults"]] == [rule["id"], forever["id"]]
        assert [r["remaining"] for r in listed["faults"]] == [1, None]

        assert (await client.delete(f"/faults/{rule['id']}")).status_code == 204
        assert (await client.delete(f"/faults/{rule['id']}")).status_code == 404
        assert (await client.delete("/faults")).status_code == 204
        assert (await client.get("/faults")).json() == {"faults": []}
    assert sim.faults.rules() == []


@pytest.mark.parametrize(
    "body",
    [
        {"fault": "no_such_fault"},
        {"fault": "rate_limit", "prompt_contains": "x"},
        {"fault": "stall", "times": 0},
        {"fault": "server_error", "status": "502"},
        ["not", "an", "object"],
    ],
)
async def test_invalid_rules_get_400(sim: Simulator, body: Any) -> None:
    async with control(sim) as client:
        response = await client.post("/faults", json=body)
        not_json = await client.post("/faults", content=b"{nope")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "code"} and response.json()["code"] == 0
    assert not_json.status_code == 400


# -- job faults that replace the job -----------------------------------------------------------

REFUSALS = [
    ("banned_prompt", "Banned prompt detected", True),
    ("invalid_parameter", "Invalid parameter", True),
    ("invalid_link", "Invalid link", True),
    ("action_needed", "Action needed to continue", True),
    ("pending_mod_message", "Pending mod message", False),
    ("captcha", "Action required to continue", False),
    ("blocked", "Blocked", False),
    ("subscription_required", "Subscription required", False),
    ("credits_exhausted", "Credits exhausted", False),
    ("queue_full", "Queue full", True),
]


@pytest.mark.parametrize(("fault", "title", "has_footer"), REFUSALS)
async def test_refusal_faults_answer_with_their_embed(
    sim: Simulator, account: Account, fault: str, title: str, has_footer: bool
) -> None:
    body = {"fault": fault, "token": TOKEN, "prompt_contains": "forbidden"}
    assert (await post_control(sim, "/faults", body)).status_code == 201
    await imagine(account, "a forbidden thing --zz 3", "1")
    events = await dispatches_until(account.ws, created_with_embed)

    kinds = [f["t"] for f in events]
    assert kinds == ["INTERACTION_CREATE", "INTERACTION_SUCCESS", "MESSAGE_CREATE"]
    interaction_id = events[0]["d"]["id"]
    message = events[-1]["d"]
    assert (message["type"], message["flags"], message["nonce"]) == (20, 64, "1")
    assert message["interaction_metadata"]["id"] == interaction_id
    embed = embed_of(events[-1])
    assert (embed["title"], embed["color"]) == (title, 16711680)
    footer = "/imagine a forbidden thing --zz 3"
    assert embed.get("footer", {}).get("text") == (footer if has_footer else None)
    if fault == "invalid_parameter":
        assert "`--zz`" in embed["description"]
    if fault == "captcha":
        assert "verify you're human" in embed["description"]
        async with httpx.AsyncClient() as cdn:
            picture = await cdn.get(embed["image"]["url"])
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        assert all(b["custom_id"].startswith("MJ::Captcha::") for b in _buttons(message))

    # the rule is used up: the same prompt runs normally now
    await sentinel(account, "2")
    assert (await stats(sim))["jobs"] == {"started": 1, "completed": 1, "faulted": 1}


def _buttons(message: Frame) -> list[Frame]:
    return [b for row in message["components"] for b in row["components"]]


async def test_moderation_buttons_can_be_clicked(sim: Simulator, account: Account) -> None:
    sim.faults.add("action_needed", token=TOKEN)
    sim.faults.add("pending_mod_message", token=TOKEN)
    for nonce, label in (("1", "Appeal"), ("2", "Acknowledged")):
        await imagine(account, "cat", nonce)
        events = await dispatches_until(account.ws, created_with_embed)
        message = events[-1]["d"]
        [button] = [b for b in _buttons(message) if b["label"] == label]
        if label == "Appeal":
            assert button["custom_id"].startswith("MJ::Prompts::Appeal::")
        click: Frame = {
            "type": 3,
            "application_id": message["application_id"],
            "channel_id": message["channel_id"],
            "session_id": account.ready["session_id"],
            "nonce": f"click-{nonce}",
            "message_id": message["id"],
            "message_flags": message["flags"],
            "data": {"component_type": 2, "custom_id": button["custom_id"]},
        }
        assert (await account.client.post("/interactions", json=click)).status_code == 204
        acked = await dispatches_until(account.ws, lambda f: f["t"] == "INTERACTION_SUCCESS")
        assert acked[-1]["d"]["nonce"] == f"click-{nonce}"


async def test_unrecognized_answers_with_a_message_nobody_can_classify(
    sim: Simulator, account: Account
) -> None:
    sim.faults.add("unrecognized", token=TOKEN)
    await imagine(account, "cat", "1")
    events = await sentinel(account)
    content = "Something unexpected happened, please try again later."
    [odd] = [f["d"] for f in events if f["d"].get("content") == content]
    assert odd["channel_id"] == account.dm and odd["author"]["id"] == MJ_BOT
    assert (odd["type"], odd["flags"]) == (0, 0)
    assert not {"nonce", "interaction", "interaction_metadata"} & set(odd)
    assert odd["embeds"] == odd["components"] == odd["attachments"] == []
    # the interaction was accepted, and nothing else ever came for the job
    assert [f["t"] for f in for_nonce(events, "1")] == ["INTERACTION_CREATE", "INTERACTION_SUCCESS"]


async def test_silent_accepts_the_interaction_and_says_nothing(
    sim: Simulator, account: Account
) -> None:
    sim.faults.add("silent", token=TOKEN)
    await imagine(account, "cat", "1")
    events = await sentinel(account)
    assert [f["t"] for f in for_nonce(events, "1")] == ["INTERACTION_CREATE", "INTERACTION_SUCCESS"]


async def test_interaction_failure_replaces_the_success(sim: Simulator, account: Account) -> None:
    sim.faults.add("interaction_failure", token=TOKEN)
    await imagine(account, "cat", "1")
    events = await sentinel(account)
    created, failure = for_nonce(events, "1")
    assert (created["t"], failure["t"]) == ("INTERACTION_CREATE", "INTERACTION_FAILURE")
    assert failure["d"] == {"id": created["d"]["id"], "nonce": "1"}


async def test_rules_only_touch_their_account_and_prompt(sim: Simulator) -> None:
    sim.faults.add("banned_prompt", token=OTHER_TOKEN)
    sim.faults.add("blocked", token=TOKEN, prompt_contains="castle")
    async with open_account(sim) as mine:
        await sentinel(mine, "plain")  # neither rule applies to it
        await imagine(mine, "a castle", "castle")
        events = await dispatches_until(mine.ws, created_with_embed)
        assert embed_of(events[-1])["title"] == "Blocked"
    async with open_account(sim, OTHER_TOKEN) as theirs:
        await imagine(theirs, "anything", "other")
        events = await dispatches_until(theirs.ws, created_with_embed)
        assert embed_of(events[-1])["title"] == "Banned prompt detected"
    assert sim.faults.rules() == []


# -- job faults under which the job starts ----------------------------------------------------


async def test_output_filter_cancels_a_started_job(sim: Simulator, account: Account) -> None:
    sim.faults.add("output_filter", token=TOKEN)
    await imagine(account, "cat", "1")
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")

    kinds = [f["t"] for f in events]
    assert kinds == [
        "INTERACTION_CREATE",
        "INTERACTION_SUCCESS",
        "MESSAGE_CREATE",  # Waiting to start
        "MESSAGE_UPDATE",  # (0%)
        "MESSAGE_CREATE",  # the embed
        "MESSAGE_DELETE",  # of the progress message, as after a result (capture 03)
    ]
    waiting = events[2]["d"]
    assert waiting["content"].endswith("(Waiting to start)")
    assert "(0%)" in events[3]["d"]["content"]
    assert events[5]["d"]["id"] == waiting["id"]
    embed = embed_of(events[4])
    assert (embed["title"], embed["color"]) == ("Request cancelled due to output filters", 16711680)
    assert (events[4]["d"]["nonce"], events[4]["d"]["flags"]) == ("1", 64)
    await sentinel(account)
    assert (await stats(sim))["jobs"] == {"started": 2, "completed": 1, "faulted": 1}


async def test_stall_shows_one_update_then_nothing(sim: Simulator, account: Account) -> None:
    sim.faults.add("stall", token=TOKEN)
    await imagine(account, "cat", "1")
    events = await sentinel(account)
    first_message = next(f["d"]["id"] for f in for_nonce(events, "1") if f["t"] == "MESSAGE_CREATE")
    about_it = [f for f in events if f["d"].get("id") == first_message]
    assert [f["t"] for f in about_it] == ["MESSAGE_CREATE", "MESSAGE_UPDATE"]
    assert "(0%)" in about_it[1]["d"]["content"]


async def test_job_queued_then_the_job_runs(sim: Simulator, account: Account) -> None:
    sim.faults.add("job_queued", token=TOKEN, delay=0.02)
    await imagine(account, "cat", "1")
    events = await dispatches_until(account.ws, final)

    queued = next(f for f in events if created_with_embed(f))
    embed = embed_of(queued)
    assert (embed["title"], embed["color"]) == ("Job queued", 16239475)
    assert embed["footer"]["text"] == "/imagine cat"
    waiting = next(f for f in events if f["d"].get("content", "").endswith("(Waiting to start)"))
    assert events.index(queued) < events.index(waiting)
    assert waiting["d"]["nonce"] == "1"
    assert waiting["d"]["interaction"]["id"] == queued["d"]["interaction"]["id"]
    assert events[-1]["d"]["nonce"] == "1"


async def test_a_button_job_matches_its_parents_prompt(sim: Simulator, account: Account) -> None:
    await imagine(account, "a lighthouse", "1")
    grid = (await dispatches_until(account.ws, final))[-1]["d"]
    await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    sim.faults.add("banned_prompt", token=TOKEN, prompt_contains="lighthouse")
    v1 = next(b for b in _buttons(grid) if b.get("label") == "V1")
    click: Frame = {
        "type": 3,
        "application_id": grid["author"]["id"],
        "channel_id": grid["channel_id"],
        "session_id": account.ready["session_id"],
        "nonce": "2",
        "message_id": grid["id"],
        "message_flags": 0,
        "data": {"component_type": 2, "custom_id": v1["custom_id"]},
    }
    assert (await account.client.post("/interactions", json=click)).status_code == 204
    events = await dispatches_until(account.ws, created_with_embed)
    embed = embed_of(events[-1])
    assert embed["title"] == "Banned prompt detected" and "`lighthouse`" in embed["description"]
    assert events[-1]["d"]["nonce"] == "2"


async def test_describe_can_be_faulted(sim: Simulator, account: Account) -> None:
    sim.faults.add("output_filter", token=TOKEN, prompt_contains="cat.png")
    describe = await index_command(account.client, account.dm, "describe")
    link = [{"type": 3, "name": "link", "value": "https://e.example/cat.png"}]
    body = command_body(account.dm, describe, link, "1", account.ready["session_id"])
    assert (await account.client.post("/interactions", json=body)).status_code == 204
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    assert [f["t"] for f in events][-3:] == ["MESSAGE_CREATE", "MESSAGE_CREATE", "MESSAGE_DELETE"]
    assert embed_of(events[-2])["title"] == "Request cancelled due to output filters"
    assert events[-1]["d"]["id"] == events[-3]["d"]["id"]  # the thinking reply goes


# -- REST faults and rate limits --------------------------------------------------------------


async def test_every_rest_answer_carries_rate_limit_headers() -> None:
    clock = FakeClock(datetime.now(UTC))  # one window for the whole test, however slow it runs
    async with running_simulator(FAST, clock=clock) as simulator, rest(simulator) as client:
        first = await client.get("/users/@me")
        clock.advance(0.25)
        second = await client.get("/users/@me")
        missing = await client.get("/channels/123456789012345678/messages")
    assert missing.status_code == 404
    for response in (first, second, missing):
        assert response.headers["X-RateLimit-Limit"] == "50"
    assert [r.headers["X-RateLimit-Remaining"] for r in (first, second, missing)] == [
        "49",
        "48",
        "49",
    ]
    assert second.headers["X-RateLimit-Reset-After"] == "0.750"
    assert float(second.headers["X-RateLimit-Reset"]) == round(clock.now().timestamp() + 0.75, 3)
    bucket = first.headers["X-RateLimit-Bucket"]
    assert second.headers["X-RateLimit-Bucket"] == bucket != missing.headers["X-RateLimit-Bucket"]


async def test_a_configured_limit_is_enforced_and_early_requests_counted() -> None:
    config = SimulatorConfig(step_delay=0.005, rate_limits={"users_me": (2, 30.0)})
    async with running_simulator(config) as simulator, rest(simulator) as client:
        answers = [await client.get("/users/@me") for _ in range(3)]
        other_route = await client.get("/users/@me/channels")
        counters = await stats(simulator)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["X-RateLimit-Remaining"] == "0"
    limited = answers[2]
    body = limited.json()
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 0 < body["retry_after"] <= 30
    assert limited.headers["Retry-After"] == str(math.ceil(body["retry_after"]))
    assert limited.headers["X-RateLimit-Scope"] == "user"
    assert "X-RateLimit-Global" not in limited.headers
    assert other_route.status_code == 200
    assert (counters["rate_limited"], counters["early_requests"]) == (1, 1)
    assert counters["rest_requests"] == 4


async def test_an_injected_429_has_no_effect_and_early_retries_are_counted() -> None:
    # the simulator's clock only moves when the test says: "the client waited" is exact
    clock = FakeClock(datetime.now(UTC))
    async with running_simulator(FAST, clock=clock) as simulator, open_account(simulator) as opened:
        body = {"fault": "rate_limit", "token": TOKEN, "route": "interactions", "retry_after": 2}
        assert (await post_control(simulator, "/faults", body)).status_code == 201

        limited = await opened.imagine_in(opened.dm, "cat", "1")
        assert limited.status_code == 429
        assert limited.json() == {
            "message": "You are being rate limited.",
            "retry_after": 2.0,
            "global": False,
        }
        assert limited.headers["Retry-After"] == "2"
        assert limited.headers["X-RateLimit-Scope"] == "user"
        assert float(limited.headers["X-RateLimit-Reset-After"]) == 2.0
        assert "X-RateLimit-Bucket" in limited.headers

        clock.advance(1.5)
        too_soon = await opened.imagine_in(opened.dm, "cat", "1")
        assert (too_soon.status_code, too_soon.json()["retry_after"]) == (429, 0.5)
        clock.advance(0.5)  # a well-behaved client waits retry_after
        events = await sentinel(opened, "1")  # the nonce was never seen: the 429s had no effect
        assert [f["t"] for f in events].count("INTERACTION_CREATE") == 1
        counters = await stats(simulator)
    assert (counters["rate_limited"], counters["early_requests"]) == (2, 1)


async def test_a_global_429_holds_every_route(sim: Simulator, account: Account) -> None:
    body = {"fault": "rate_limit", "route": "messages", "retry_after": 5, "global": True}
    assert (await post_control(sim, "/faults", body)).status_code == 201
    limited = await account.client.get(f"/channels/{account.dm}/messages")
    elsewhere = await account.client.get("/users/@me")
    assert limited.status_code == elsewhere.status_code == 429
    assert limited.json()["global"] is True and elsewhere.json()["global"] is True
    assert limited.headers["X-RateLimit-Global"] == "true"
    assert limited.headers["Retry-After"] == "5"
    async with rest(sim, OTHER_TOKEN) as other:
        assert (await other.get("/users/@me")).status_code == 200  # per token
    assert (await stats(sim))["early_requests"] == 1


async def test_server_errors(sim: Simulator, account: Account) -> None:
    sim.faults.add("server_error", token=TOKEN, route="interactions")
    sim.faults.add("server_error", token=TOKEN, route="messages", status=503)
    failed = await account.imagine_in(account.dm, "cat", "1")
    unavailable = await account.client.get(f"/channels/{account.dm}/messages")
    assert (failed.status_code, failed.json()) == (502, {"message": "502: Bad Gateway", "code": 0})
    assert (unavailable.status_code, unavailable.json()) == (
        503,
        {"message": "503: Service Unavailable", "code": 0},
    )
    events = await sentinel(account, "1")  # the faulted POST started nothing
    assert [f["t"] for f in events].count("INTERACTION_CREATE") == 1
    assert (await stats(sim))["server_errors"] == 2


# -- gateway: resume --------------------------------------------------------------------------


async def test_resume_replays_what_happened_while_disconnected(sim: Simulator) -> None:
    async with open_account(sim) as observer:
        async with gateway(sim) as (_ws, ready):
            session_id = ready["d"]["session_id"]
            assert ready["s"] == 1
        # that connection is gone; a whole job happens meanwhile (the observer sees it live)
        seen = await sentinel(observer, "1")

        async with connect(gateway_url(sim)) as again:
            await resume(again, TOKEN, session_id, 1)
            replayed = await frames_until(again, lambda f: f["t"] == "RESUMED")
            assert [(f["t"], f["d"]) for f in replayed[:-1]] == [(f["t"], f["d"]) for f in seen]
            numbers = [f["s"] for f in replayed]
            assert numbers == list(range(2, 2 + len(replayed)))

            # the session lives on: new events come on the new connection, numbered on
            await imagine(observer, "cat", "2")
            live = await dispatches_until(again, lambda f: f["t"] == "INTERACTION_CREATE")
            assert live[0]["s"] == numbers[-1] + 1

    counters = (await stats(sim))["gateway"]
    assert (counters["resumes"], counters["resumed"]) == (1, 1)
    assert counters["replayed_events"] == len(seen)


async def inflated(ws: ClientConnection, inflate: Any) -> Frame:
    """The next frame of a zlib-stream connection: a binary message ending in 00 00 FF FF."""
    raw = await asyncio.wait_for(ws.recv(), WAIT)
    assert isinstance(raw, bytes) and raw.endswith(b"\x00\x00\xff\xff")
    frame: Frame = json.loads(inflate.decompress(raw))
    return frame


async def test_repeated_interruptions_lose_no_dispatch(sim: Simulator) -> None:
    """A client that resumes after every kind of interruption sees every dispatch exactly once,
    in order, with no gap in ``s`` -- the same sequence the simulator dispatched to the user.

    The reference is the hub's own record (``observe``), not a second connection of the user:
    the interruptions cut every connection of the token, so a second one would be cut too, and
    whether it had read the job's last dispatch by then was a matter of timing.
    """
    interruptions: list[Callable[[], int]] = [
        lambda: sim.control.drop(TOKEN),
        lambda: sim.control.reconnect(TOKEN),
        lambda: sim.control.invalidate(True, TOKEN),
        lambda: sim.control.close(4000, TOKEN),
    ]
    received: list[Frame] = []
    dispatched: list[tuple[str, Any]] = []
    job_ended = asyncio.Event()
    async with open_account(sim, OTHER_TOKEN) as _unrelated, open_account(sim) as observer:

        def record(user_id: str, event: str, data: Any) -> None:
            if user_id == observer.user_id:
                dispatched.append((event, json.loads(encode_json(data))))
                if event == "MESSAGE_DELETE":
                    job_ended.set()

        sim.hub.observe(record)
        async with gateway(sim) as (ws, ready):
            session_id, received = ready["d"]["session_id"], [ready]
            await imagine(observer, "a long job", "1")
            received += await dispatches_until(ws, lambda f: f["t"] == "INTERACTION_SUCCESS")
        for interrupt in interruptions:
            async with connect(gateway_url(sim)) as ws:
                await resume(ws, TOKEN, session_id, received[-1]["s"])
                received += await dispatches_until(ws, lambda f: f["t"] == "RESUMED")
                interrupt()
                received += await _dispatches_until_interrupted(ws)
        await asyncio.wait_for(job_ended.wait(), WAIT)
        async with connect(gateway_url(sim)) as ws:
            await resume(ws, TOKEN, session_id, received[-1]["s"])
            tail = await dispatches_until(ws, lambda f: f["t"] == "RESUMED")
    received += tail
    assert [f["s"] for f in received] == list(range(1, len(received) + 1))
    job_events = [(f["t"], f["d"]) for f in received if f["t"] not in ("READY", "RESUMED")]
    assert job_events == dispatched
    assert job_events[-1][0] == "MESSAGE_DELETE"


async def _dispatches_until_interrupted(ws: ClientConnection) -> list[Frame]:
    """The dispatches a connection still delivers until it closes or says op 7 / op 9."""
    dispatches: list[Frame] = []
    with contextlib.suppress(ConnectionClosed):
        while (frame := await receive(ws))["op"] not in (7, 9):
            if frame["op"] == 0:
                dispatches.append(frame)
    return dispatches


async def test_resume_over_zlib_stream(sim: Simulator) -> None:
    async with open_account(sim) as observer:
        async with connect(gateway_url(sim, ZLIB)) as ws:
            inflate = zlib.decompressobj()
            assert (await inflated(ws, inflate))["op"] == 10
            await ws.send(json.dumps({"op": 2, "d": {"token": TOKEN, "properties": {}}}))
            ready = await inflated(ws, inflate)
        seen = await sentinel(observer, "1")

        async with connect(gateway_url(sim, ZLIB)) as again:
            inflate = zlib.decompressobj()  # a new connection: a new zlib stream
            assert (await inflated(again, inflate))["op"] == 10
            d = {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 1}
            await again.send(json.dumps({"op": 6, "d": d}))
            frames = [await inflated(again, inflate)]
            while frames[-1]["t"] != "RESUMED":
                frames.append(await inflated(again, inflate))
    assert [(f["t"], f["d"]) for f in frames[:-1]] == [(f["t"], f["d"]) for f in seen]


async def test_resume_of_an_unknown_session_gets_op9_false(sim: Simulator) -> None:
    async with connect(gateway_url(sim)) as ws:
        await resume(ws, TOKEN, "0" * 32, 1)
        assert await receive(ws) == {"t": None, "s": None, "op": 9, "d": False}
        # the connection stays open: identify anew on it
        await ws.send(json.dumps({"op": 2, "d": {"token": TOKEN, "properties": {}}}))
        assert (await receive(ws))["t"] == "READY"
    assert (await stats(sim))["gateway"]["invalid_sessions"] == 1


async def test_resume_with_a_seq_no_longer_buffered_gets_op9_false() -> None:
    config = SimulatorConfig(step_delay=0.005, progress_points=(0,), replay_limit=3)
    async with running_simulator(config) as simulator, open_account(simulator) as observer:
        async with gateway(simulator) as (_ws, ready):
            pass
        await sentinel(observer)  # more than three dispatches
        async with connect(gateway_url(simulator)) as again:
            await resume(again, TOKEN, ready["d"]["session_id"], 1)
            assert (await receive(again))["op"] == 9


async def test_a_session_is_not_resumable_after_the_window() -> None:
    config = SimulatorConfig(step_delay=0.005, resume_window=0)
    async with running_simulator(config) as simulator:
        async with gateway(simulator) as (_ws, ready):
            pass
        async with connect(gateway_url(simulator)) as again:
            await resume(again, TOKEN, ready["d"]["session_id"], 1)
            assert (await receive(again))["d"] is False


@pytest.mark.parametrize(("code", "resumable"), [(1000, False), (1001, False), (4000, True)])
async def test_a_client_closing_normally_can_end_its_session(code: int, resumable: bool) -> None:
    config = SimulatorConfig(step_delay=0.005, client_close_ends_session=True)
    async with running_simulator(config) as simulator:
        async with gateway(simulator) as (ws, ready):
            await ws.close(code)
        async with connect(gateway_url(simulator)) as again:
            await resume(again, TOKEN, ready["d"]["session_id"], 1)
            answer = await receive(again)
    assert (answer["t"] == "RESUMED") is resumable


# -- gateway: control actions -----------------------------------------------------------------


async def test_drop_cuts_the_connection_without_a_close_frame(sim: Simulator) -> None:
    async with gateway(sim) as (ws, ready):
        response = await post_control(sim, "/gateway/drop", {"token": TOKEN})
        assert (response.status_code, response.json()) == (200, {"connections": 1})
        gone = await closed(ws)
    assert gone.rcvd is None  # no close frame: the TCP connection just ended
    async with connect(gateway_url(sim)) as again:
        await resume(again, TOKEN, ready["d"]["session_id"], 1)
        assert (await receive(again))["t"] == "RESUMED"


async def test_reconnect_sends_op7_and_the_session_stays(sim: Simulator) -> None:
    async with gateway(sim) as (ws, ready):
        assert sim.control.reconnect(TOKEN) == 1
        assert await receive(ws) == {"t": None, "s": None, "op": 7, "d": None}
    async with connect(gateway_url(sim)) as again:
        await resume(again, TOKEN, ready["d"]["session_id"], 1)
        assert (await receive(again))["t"] == "RESUMED"


@pytest.mark.parametrize("resumable", [True, False])
async def test_invalidate(sim: Simulator, resumable: bool) -> None:
    async with gateway(sim) as (ws, ready):
        body = {"token": TOKEN, "resumable": resumable}
        assert (await post_control(sim, "/gateway/invalidate", body)).json() == {"connections": 1}
        assert await receive(ws) == {"t": None, "s": None, "op": 9, "d": resumable}
    async with connect(gateway_url(sim)) as again:
        await resume(again, TOKEN, ready["d"]["session_id"], 1)
        answer = await receive(again)
    if resumable:
        assert answer["t"] == "RESUMED"
    else:
        assert (answer["op"], answer["d"]) == (9, False)


@pytest.mark.parametrize(("code", "resumable"), [(4000, True), (4004, False)])
async def test_close_with_a_code(sim: Simulator, code: int, resumable: bool) -> None:
    async with gateway(sim) as (ws, ready):
        response = await post_control(sim, "/gateway/close", {"code": code})
        assert response.json() == {"connections": 1}
        gone = await closed(ws)
    assert gone.rcvd is not None and gone.rcvd.code == code
    async with connect(gateway_url(sim)) as again:
        await resume(again, TOKEN, ready["d"]["session_id"], 1)
        answer = await receive(again)
    assert (answer["t"] == "RESUMED") is resumable


async def test_a_close_comes_after_the_frames_before_it_and_none_after(sim: Simulator) -> None:
    async with gateway(sim) as (ws, ready):
        user_id = ready["d"]["user"]["id"]
        sim.hub.dispatch(user_id, "MESSAGE_CREATE", {"n": 1})
        sim.hub.dispatch(user_id, "MESSAGE_UPDATE", {"n": 2})
        assert sim.control.close(4000, TOKEN) == 1
        sim.hub.dispatch(user_id, "MESSAGE_DELETE", {"n": 3})  # no longer on this socket
        before: list[Frame] = []
        with pytest.raises(ConnectionClosed) as gone:
            while True:
                before.append(await receive(ws))
    assert [(f["s"], f["t"], f["d"]) for f in before] == [
        (2, "MESSAGE_CREATE", {"n": 1}),
        (3, "MESSAGE_UPDATE", {"n": 2}),
    ]
    assert gone.value.rcvd is not None and gone.value.rcvd.code == 4000
    async with connect(gateway_url(sim)) as again:
        await resume(again, TOKEN, ready["d"]["session_id"], 3)
        replayed, resumed = await receive(again), await receive(again)
    assert (replayed["s"], replayed["t"], replayed["d"]) == (4, "MESSAGE_DELETE", {"n": 3})
    assert resumed["t"] == "RESUMED"


async def test_close_needs_a_sendable_code(sim: Simulator) -> None:
    assert (await post_control(sim, "/gateway/close", {"code": 1006})).status_code == 400
    assert (await post_control(sim, "/gateway/close", {})).status_code == 400
    assert (await post_control(sim, "/gateway/explode")).status_code == 404


async def test_zombie_connections_get_no_heartbeat_acks(sim: Simulator) -> None:
    async with gateway(sim) as (ws, _ready), gateway(sim, OTHER_TOKEN) as (other, _):
        response = await post_control(sim, "/gateway/zombie", {"token": TOKEN})
        assert response.json() == {"connections": 1}
        await ws.send(json.dumps({"op": 1, "d": 1}))
        # frames are handled in order: an IDENTIFY after the beat closes the socket (4005), so
        # everything the beat could have produced has arrived before the close
        await ws.send(json.dumps({"op": 2, "d": {"token": TOKEN, "properties": {}}}))
        gone = await closed(ws)
        assert gone.rcvd is not None and gone.rcvd.code == 4005
        await other.send(json.dumps({"op": 1, "d": 1}))
        assert (await receive(other))["op"] == 11  # other connections still answer
    async with gateway(sim) as (fresh, _):
        await fresh.send(json.dumps({"op": 1, "d": 1}))
        assert (await receive(fresh))["op"] == 11  # only the connections that were zombied
    assert (await stats(sim))["gateway"]["zombies"] == 1


async def test_actions_without_a_token_touch_every_connection(sim: Simulator) -> None:
    async with gateway(sim) as (ws, _), gateway(sim, OTHER_TOKEN) as (other, _):
        assert (await post_control(sim, "/gateway/reconnect")).json() == {"connections": 2}
        assert (await receive(ws))["op"] == (await receive(other))["op"] == 7


# -- tokens, plans, commands ------------------------------------------------------------------


async def test_revoked_token_is_refused_everywhere_until_restored(sim: Simulator) -> None:
    async with gateway(sim) as (ws, ready), rest(sim) as client:
        response = await post_control(sim, "/tokens/revoke", {"token": TOKEN})
        assert response.json() == {"revoked": True, "connections": 1}
        gone = await closed(ws)
        assert gone.rcvd is not None and gone.rcvd.code == 4004
        refused = await client.get("/users/@me")
        assert (refused.status_code, refused.json()) == (
            401,
            {"message": "401: Unauthorized", "code": 0},
        )
        async with connect(gateway_url(sim)) as again:
            await receive(again)  # HELLO
            await again.send(json.dumps({"op": 2, "d": {"token": TOKEN, "properties": {}}}))
            gone = await closed(again)
            assert gone.rcvd is not None and gone.rcvd.code == 4004
        async with connect(gateway_url(sim)) as again:
            await resume(again, TOKEN, ready["d"]["session_id"], 1)
            gone = await closed(again)
            assert gone.rcvd is not None and gone.rcvd.code == 4004

        restored = await post_control(sim, "/tokens/restore", {"token": TOKEN})
        assert (restored.status_code, restored.json()) == (200, {"revoked": False})
        assert (await client.get("/users/@me")).status_code == 200
    async with gateway(sim) as (_ws, ready_again):
        assert ready_again["t"] == "READY"


async def test_a_plan_change_applies_to_the_next_jobs(sim: Simulator) -> None:
    response = await post_control(sim, "/plans", {"token": TOKEN, "plan": "Pro"})
    assert (response.status_code, response.json()) == (200, {"token": TOKEN, "plan": "Pro"})
    assert (await post_control(sim, "/plans", {"token": TOKEN, "plan": "Gold"})).status_code == 400
    finals: list[str] = []
    async with open_account(sim) as opened:
        for nonce in ("1", "2", "3", "4", "5"):
            await imagine(opened, f"job {nonce}", nonce)

        def done(frame: Frame) -> bool:
            if final(frame):
                finals.append(frame["d"]["nonce"])
            return len(finals) == 5

        events = await dispatches_until(opened.ws, done)
    assert not [f for f in events if created_with_embed(f)]  # Pro: no "Job queued"


async def test_a_bigger_plan_starts_queued_jobs_at_once() -> None:
    # slow jobs, so the plan change lands while the first three still run
    config = SimulatorConfig(step_delay=0.3, progress_points=(0,))
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        for nonce in ("1", "2", "3", "4"):
            await imagine(opened, f"job {nonce}", nonce)
        before = await dispatches_until(opened.ws, created_with_embed)
        assert embed_of(before[-1])["title"] == "Job queued" and before[-1]["d"]["nonce"] == "4"
        simulator.control.set_plan(TOKEN, "Pro")
        after = await dispatches_until(
            opened.ws, lambda f: f["d"].get("nonce") == "4" and f["t"] == "MESSAGE_CREATE"
        )
    assert after[-1]["d"]["content"].endswith("(Waiting to start)")
    assert not [f for f in before + after if final(f)]  # no job had finished to free a slot


async def test_bumping_a_command_outdates_the_cached_version(
    sim: Simulator, account: Account
) -> None:
    old = account.imagine["version"]
    response = await post_control(sim, "/commands/imagine/bump")
    assert response.status_code == 200
    new = response.json()["version"]
    assert int(new) > int(old)
    fresh = await index_command(account.client, account.dm, "imagine")
    assert fresh["version"] == new
    stale = await account.imagine_in(account.dm, "cat", "1")
    assert (stale.status_code, stale.json()) == (400, OUTDATED)
    body = command_body(account.dm, fresh, prompt_option("cat"), "2")
    assert (await account.client.post("/interactions", json=body)).status_code == 204
    assert (await post_control(sim, "/commands/nothing/bump")).status_code == 404


async def test_stats_count_what_happened(sim: Simulator) -> None:
    async with open_account(sim) as opened:  # 1 command index request
        await opened.client.get("/users/@me")
        await sentinel(opened)
    counters = await stats(sim)
    assert counters["rest_requests"] == 3
    assert counters["gateway"]["connections"] == counters["gateway"]["identifies"] == 1
    assert counters["jobs"] == {"started": 1, "completed": 1, "faulted": 0}
    assert sim.stats.snapshot() == counters
