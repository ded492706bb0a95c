"""The Discord + Midjourney simulator over real loopback sockets, as a Discord client sees it.

Only httpx and the websockets client talk to it; every wait is for an event, with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mjapi.simulator import Simulator, SimulatorConfig, running_simulator
from mjapi.simulator.render import render_grid
from mjapi.simulator.server import _bind
from tests.conftest import load_capture

TOKEN = "sim-test-token-alpha-0123456789"
OTHER_TOKEN = "sim-test-token-bravo-0123456789"
MJ_BOT = "936929561302675456"
IMAGINE_ID = "938956540159881230"
WAIT = 5.0
FAST = SimulatorConfig(step_delay=0.01, heartbeat_interval_ms=45000)
PROGRESS = [0, 15, 31, 46, 62, 78, 93]

Frame = dict[str, Any]


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator(FAST) as simulator:
        yield simulator


def rest(sim: Simulator, token: str | None = TOKEN, version: int = 9) -> httpx.AsyncClient:
    headers = {"Authorization": token} if token else {}
    return httpx.AsyncClient(base_url=f"{sim.base_url}/api/v{version}", headers=headers)


async def receive(ws: ClientConnection) -> Frame:
    raw = await asyncio.wait_for(ws.recv(), WAIT)
    frame: Frame = json.loads(raw)
    return frame


async def identify(ws: ClientConnection, token: str = TOKEN) -> Frame:
    """Read HELLO, send IDENTIFY like a user client (no intents), return READY."""
    hello = await receive(ws)
    assert hello["op"] == 10
    identify_d = {"token": token, "capabilities": 16381, "properties": {"os": "Linux"}}
    await ws.send(json.dumps({"op": 2, "d": identify_d}))
    return await receive(ws)


def gateway_url(sim: Simulator, query: str = "?encoding=json&v=9") -> str:
    return f"ws://{sim.base_url.removeprefix('http://')}/gateway{query}"


async def dispatches_until(
    ws: ClientConnection, done: Callable[[Frame], bool], limit: int = 500
) -> list[Frame]:
    """Every dispatch up to and including the first one ``done`` accepts."""
    seen: list[Frame] = []
    for _ in range(limit):
        frame = await receive(ws)
        if frame["op"] != 0:
            continue
        seen.append(frame)
        if done(frame):
            return seen
    raise AssertionError(f"no matching dispatch among {len(seen)}")


async def index_command(client: httpx.AsyncClient, channel_id: str, name: str) -> Frame:
    index = (await client.get(f"/channels/{channel_id}/application-command-index")).json()
    command: Frame = next(c for c in index["application_commands"] if c["name"] == name)
    return command


def command_body(
    channel_id: str,
    command: Frame,
    options: list[Frame],
    nonce: str | None,
    session_id: str = "0" * 32,
) -> Frame:
    body: Frame = {
        "type": 2,
        "application_id": MJ_BOT,
        "channel_id": channel_id,
        "session_id": session_id,
        "data": {
            "version": command["version"],
            "id": command["id"],
            "name": command["name"],
            "type": 1,
            "options": options,
            "attachments": [],
        },
    }
    if nonce is not None:
        body["nonce"] = nonce
    return body


def prompt_option(prompt: str) -> list[Frame]:
    return [{"type": 3, "name": "prompt", "value": prompt}]


class Account:
    """One simulated user: REST client, gateway connection, DM channel and imagine command."""

    def __init__(self, client: httpx.AsyncClient, ws: ClientConnection, ready: Frame) -> None:
        self.client = client
        self.ws = ws
        self.ready = ready["d"]
        self.user_id: str = self.ready["user"]["id"]
        self.dm: str = self.ready["private_channels"][0]["id"]
        self.imagine: Frame = {}

    async def imagine_in(self, channel_id: str, prompt: str, nonce: str) -> httpx.Response:
        body = command_body(
            channel_id, self.imagine, prompt_option(prompt), nonce, self.ready["session_id"]
        )
        return await self.client.post("/interactions", json=body)


@contextlib.asynccontextmanager
async def open_account(sim: Simulator, token: str = TOKEN) -> AsyncIterator[Account]:
    """A REST client and a READY gateway connection of the token's user."""
    async with rest(sim, token) as client, connect(gateway_url(sim)) as ws:
        account = Account(client, ws, await identify(ws, token))
        account.imagine = await index_command(client, account.dm, "imagine")
        yield account


@pytest.fixture
async def account(sim: Simulator) -> AsyncIterator[Account]:
    async with open_account(sim) as opened:
        yield opened


def is_final(frame: Frame) -> bool:
    """Is this the result grid of a job?"""
    d = frame["d"]
    return frame["t"] == "MESSAGE_CREATE" and d["type"] == 0 and bool(d["attachments"])


def finals_reach(count: int, finals: list[str]) -> Callable[[Frame], bool]:
    """A ``done`` predicate: true once ``count`` results arrived (their nonces go to ``finals``)."""

    def check(frame: Frame) -> bool:
        if is_final(frame):
            finals.append(frame["d"]["nonce"])
        return len(finals) == count

    return check


def starts_of(events: list[Frame]) -> list[str]:
    """Nonces of the "Waiting to start" messages, in order."""
    waiting = [f["d"] for f in events if f["t"] == "MESSAGE_CREATE"]
    return [m["nonce"] for m in waiting if m["content"].endswith("(Waiting to start)")]


def embeds_of(events: list[Frame]) -> list[Frame]:
    return [f["d"] for f in events if f["t"] == "MESSAGE_CREATE" and f["d"]["embeds"]]


async def download(client: httpx.AsyncClient, attachment: Frame) -> bytes:
    response = await client.get(attachment["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == attachment["content_type"]
    assert len(response.content) == attachment["size"]
    return response.content


# -- gateway ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [9, 10])
async def test_hello_identify_ready(sim: Simulator, version: int) -> None:
    async with rest(sim) as client, connect(gateway_url(sim, f"?encoding=json&v={version}")) as ws:
        hello = await receive(ws)
        assert hello == {"t": None, "s": None, "op": 10, "d": {"heartbeat_interval": 45000}}
        await ws.send(json.dumps({"op": 2, "d": {"token": TOKEN, "properties": {}}}))
        ready = await receive(ws)
        me = (await client.get("/users/@me")).json()

    assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
    d = ready["d"]
    assert d["v"] == version
    assert re.fullmatch(r"[0-9a-f]{32}", d["session_id"])
    assert d["resume_gateway_url"] == gateway_url(sim, "")
    assert d["user"] == me
    assert me["discriminator"] == "0" and me["avatar"] is None
    assert re.fullmatch(r"user\d+", me["username"])
    [dm] = d["private_channels"]
    assert dm["type"] == 1
    assert [r["id"] for r in dm["recipients"]] == [MJ_BOT]
    assert dm["recipients"][0]["username"] == "Midjourney Bot"
    assert dm["recipients"][0]["bot"] is True
    assert isinstance(d["guilds"], list)


async def test_heartbeat_is_acknowledged(account: Account) -> None:
    for last_seq in (None, 1):
        await account.ws.send(json.dumps({"op": 1, "d": last_seq}))
        assert await receive(account.ws) == {"t": None, "s": None, "op": 11, "d": None}


async def test_unknown_opcode_is_ignored(account: Account) -> None:
    await account.ws.send(json.dumps({"op": 99, "d": {}}))
    await account.ws.send(json.dumps({"op": 1, "d": 1}))
    assert (await receive(account.ws))["op"] == 11


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        ({"op": 2, "d": {"token": "too-short"}}, 4004, "Authentication failed."),
        ("{not json", 4002, "Error while decoding payload."),
        ({"op": 3, "d": {}}, 4003, "Not authenticated."),
    ],
)
async def test_gateway_closes_like_discord(
    sim: Simulator, message: Frame | str, code: int, reason: str
) -> None:
    async with connect(gateway_url(sim)) as ws:
        await receive(ws)  # HELLO
        await ws.send(message if isinstance(message, str) else json.dumps(message))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (code, reason)


async def test_rejected_token_closes_4004() -> None:
    config = SimulatorConfig(step_delay=0.01, rejected_tokens=frozenset({TOKEN}))
    async with running_simulator(config) as simulator, connect(gateway_url(simulator)) as ws:
        await receive(ws)
        await ws.send(json.dumps({"op": 2, "d": {"token": TOKEN, "properties": {}}}))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4004


async def test_zlib_stream_frames_inflate_to_json(sim: Simulator) -> None:
    inflator = zlib.decompressobj()
    async with connect(gateway_url(sim, "?encoding=json&v=9&compress=zlib-stream")) as ws:
        raw = await asyncio.wait_for(ws.recv(), WAIT)
    assert isinstance(raw, bytes) and raw.endswith(b"\x00\x00\xff\xff")
    assert json.loads(inflator.decompress(raw))["op"] == 10


# -- REST ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "short", "has spaces in it, 1234567890"])
async def test_rest_refuses_missing_or_bad_token(sim: Simulator, token: str | None) -> None:
    async with rest(sim, token) as client:
        response = await client.get("/users/@me")
    assert response.status_code == 401
    assert response.json() == {"message": "401: Unauthorized", "code": 0}


@pytest.mark.parametrize("version", [9, 10])
async def test_gateway_url(sim: Simulator, version: int) -> None:
    async with rest(sim, None, version) as client:
        response = await client.get("/gateway")
    assert response.json() == {"url": gateway_url(sim, "")}


async def test_dm_channel_discovery(sim: Simulator) -> None:
    async with rest(sim) as client:
        [listed] = (await client.get("/users/@me/channels")).json()
        opened = await client.post("/users/@me/channels", json={"recipients": [MJ_BOT]})
        stranger = await client.post("/users/@me/channels", json={"recipients": ["42"]})
    assert listed["type"] == 1 and listed["recipients"][0]["id"] == MJ_BOT
    assert opened.status_code == 200 and opened.json()["id"] == listed["id"]
    assert (stranger.status_code, stranger.json()["code"]) == (404, 10013)


async def test_channel_access(sim: Simulator) -> None:
    async with rest(sim, OTHER_TOKEN) as other:
        [other_dm] = (await other.get("/users/@me/channels")).json()
    async with rest(sim) as client:
        foreign = await client.get(f"/channels/{other_dm['id']}/messages")
        unknown = await client.get("/channels/123456789012345678/messages")
    assert (foreign.status_code, foreign.json()) == (
        403,
        {"message": "Missing Access", "code": 50001},
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Unknown Channel", "code": 10003},
    )


async def test_command_index_matches_capture_31(sim: Simulator) -> None:
    captured = load_capture("31-rest-application-command-index-2024-08.json")
    async with rest(sim) as client:
        [dm] = (await client.get("/users/@me/channels")).json()
        index = (await client.get(f"/channels/{dm['id']}/application-command-index")).json()

    assert index["application_commands"] == captured["application_commands"]
    assert index["version"] == captured["version"]
    assert index["applications"][0]["id"] == MJ_BOT
    assert index["applications"][0]["bot"]["username"] == "Midjourney Bot"
    names = {c["name"] for c in index["application_commands"]}
    wanted = {"imagine", "blend", "describe", "info", "fast", "relax", "turbo", "settings"}
    assert wanted | {"prefer", "show", "shorten"} <= names
    imagine = next(c for c in index["application_commands"] if c["name"] == "imagine")
    assert imagine["id"] == IMAGINE_ID
    assert imagine["options"] == [
        {"type": 3, "name": "prompt", "description": "The prompt to imagine", "required": True}
    ]


async def test_channel_messages_pagination_is_validated(account: Account) -> None:
    too_many = await account.client.get(f"/channels/{account.dm}/messages?limit=101")
    assert too_many.status_code == 400 and too_many.json()["code"] == 50035


# -- interactions ----------------------------------------------------------------------------

OUTDATED = {
    "code": 50035,
    "errors": {
        "data": {
            "_errors": [
                {
                    "code": "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION",
                    "message": "This command is outdated, please try again in a few minutes",
                }
            ]
        }
    },
    "message": "Invalid Form Body",
}


async def test_stale_version_gets_capture_33_body(sim: Simulator, account: Account) -> None:
    stale = {**account.imagine, "version": "1118961510123847772"}
    body = command_body(account.dm, stale, prompt_option("cat"), "1")
    response = await account.client.post("/interactions", json=body)
    assert (response.status_code, response.json()) == (400, OUTDATED)

    # Midjourney publishes a new version: the version a client cached goes stale.
    sim.state.commands.set_version("imagine", "1300000000000000000")
    response = await account.imagine_in(account.dm, "cat", "2")
    assert (response.status_code, response.json()) == (400, OUTDATED)


async def test_configured_version_is_published() -> None:
    config = SimulatorConfig(step_delay=0.01, command_version_imagine="1166847114203123795")
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        assert opened.imagine["version"] == "1166847114203123795"


async def test_multipart_payload_json_is_accepted(account: Account) -> None:
    body = command_body(account.dm, account.imagine, prompt_option("multipart cat"), "77")
    files = {"payload_json": (None, json.dumps(body), "application/json")}
    response = await account.client.post("/interactions", files=files)
    assert response.status_code == 204
    [created] = await dispatches_until(account.ws, lambda f: f["t"] == "INTERACTION_CREATE")
    assert created["d"]["nonce"] == "77"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"type": 3, "message_id": "123"}, 404, 10008),
        ({"type": 5}, 400, "INTERACTION_UNKNOWN_MODAL"),
        ({"type": 4}, 400, "BASE_TYPE_CHOICES"),
        ({"application_id": "1022952195194359889"}, 404, 10002),
        ({"channel_id": "123"}, 404, 10003),
        ({"guild_id": "123"}, 400, "INTERACTION_GUILD_MISMATCH"),
    ],
)
async def test_invalid_interactions_are_refused(
    account: Account, change: Frame, status: int, code: int | str
) -> None:
    body = {**command_body(account.dm, account.imagine, prompt_option("x"), "5"), **change}
    response = await account.client.post("/interactions", json=body)
    assert response.status_code == status
    assert code in (response.json()["code"], _inner_code(response.json()))


async def test_unplayed_command_is_refused_loudly(account: Account) -> None:
    shorten = await index_command(account.client, account.dm, "shorten")
    response = await account.client.post(
        "/interactions", json=command_body(account.dm, shorten, prompt_option("a cat"), "9")
    )
    assert response.status_code == 400
    assert _inner_code(response.json()) == "SIMULATOR_NOT_IMPLEMENTED"
    assert "/shorten" in json.dumps(response.json())


def _inner_code(body: Frame) -> str | None:
    def walk(node: Any) -> str | None:
        if isinstance(node, dict):
            if "_errors" in node:
                return str(node["_errors"][0]["code"])
            return next((c for c in map(walk, node.values()) if c), None)
        return None

    return walk(body.get("errors"))


# -- /imagine --------------------------------------------------------------------------------


def _keys(capture: str, *ignored: str) -> set[str]:
    return set(load_capture(capture)["d"]) - set(ignored)


async def test_imagine_lifecycle(account: Account) -> None:
    response = await account.imagine_in(account.dm, "a red fox in the snow", "1083788665919897600")
    assert response.status_code == 204
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")

    kinds = [f["t"] for f in events]
    assert kinds == [
        "INTERACTION_CREATE",
        "INTERACTION_SUCCESS",
        "MESSAGE_CREATE",
        *["MESSAGE_UPDATE"] * 7,
        "MESSAGE_CREATE",
        "MESSAGE_DELETE",
    ]
    assert [f["s"] for f in events] == list(range(2, 2 + len(events)))  # READY was 1
    created, success, waiting, *updates, final, delete = events
    interaction = {"id": created["d"]["id"], "nonce": "1083788665919897600"}
    assert created["d"] == success["d"] == interaction

    _check_waiting(waiting["d"], account, interaction["id"])
    for percent, update in zip(PROGRESS, updates, strict=True):
        await _check_progress(update["d"], account, waiting["d"], percent)
    await _check_final(final["d"], account)
    assert delete["d"] == {"id": waiting["d"]["id"], "channel_id": account.dm}

    history = (await account.client.get(f"/channels/{account.dm}/messages")).json()
    assert [m["id"] for m in history] == [final["d"]["id"]]
    # like Discord, only the gateway MESSAGE_CREATE carries the nonce, never REST
    assert history[0] == {key: value for key, value in final["d"].items() if key != "nonce"}


def _check_waiting(d: Frame, account: Account, interaction_id: str) -> None:
    assert _keys("01-gw-imagine-waiting-to-start-with-nonce.json") <= set(d)
    assert (d["type"], d["flags"], d["nonce"]) == (20, 0, "1083788665919897600")
    assert d["content"] == f"**a red fox in the snow** - <@{account.user_id}> (Waiting to start)"
    assert d["author"]["id"] == d["webhook_id"] == d["application_id"] == MJ_BOT
    assert d["author"]["public_flags"] == 589824 and d["author"]["discriminator"] == "9282"
    for key in ("interaction", "interaction_metadata"):
        assert d[key]["id"] == interaction_id and d[key]["name"] == "imagine"
        assert d[key]["user"]["id"] == account.user_id
    assert d["attachments"] == d["components"] == d["embeds"] == []
    assert d["edited_timestamp"] is None and "guild_id" not in d
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000\+00:00", d["timestamp"])
    assert int(interaction_id) < int(d["id"])


async def _check_progress(d: Frame, account: Account, waiting: Frame, percent: int) -> None:
    assert _keys("07-gw-imagine-progress-0pct-fast.json", "member", "guild_id") <= set(d)
    assert d["id"] == waiting["id"] and d["edited_timestamp"] is not None
    assert "nonce" not in d
    assert d["content"] == f"**a red fox in the snow** - <@{account.user_id}> ({percent}%) (fast)"
    [preview] = d["attachments"]
    assert set(load_capture("07-gw-imagine-progress-0pct-fast.json")["d"]["attachments"][0]) <= set(
        preview
    )
    assert re.fullmatch(r"[0-9a-f-]{36}_grid_0\.webp", preview["filename"])
    assert (preview["content_type"], preview["width"], preview["height"]) == (
        "image/webp",
        512,
        512,
    )
    image = Image.open(io.BytesIO(await download(account.client, preview)))
    assert (image.format, image.size) == ("WEBP", (512, 512))


async def _check_final(d: Frame, account: Account) -> None:
    assert _keys("10-gw-imagine-final-grid-fast.json", "member", "guild_id") <= set(d)
    assert (d["type"], d["flags"], d["nonce"]) == (0, 0, "1083788665919897600")
    assert "interaction" not in d and "webhook_id" not in d
    assert d["content"] == f"**a red fox in the snow** - <@{account.user_id}> (fast)"
    [grid] = d["attachments"]
    job_hash = re.fullmatch(r"user\d+_a_red_fox_in_the_snow_([0-9a-f-]{36})\.png", grid["filename"])
    assert job_hash is not None
    assert re.search(r"\.png\?ex=[0-9a-f]{8}&is=[0-9a-f]{8}&hm=[0-9a-f]{64}&$", grid["url"])
    assert (grid["content_type"], grid["width"], grid["height"]) == ("image/png", 1024, 1024)
    image = Image.open(io.BytesIO(await download(account.client, grid)))
    assert (image.format, image.size) == ("PNG", (1024, 1024))
    assert _custom_ids(d) == _grid_custom_ids(job_hash[1])
    link = d["components"][1]["components"][-1]
    assert (link["style"], link["url"]) == (5, f"https://www.midjourney.com/jobs/{job_hash[1]}")


def _custom_ids(message: Frame) -> list[str]:
    buttons = [b for row in message["components"] for b in row["components"]]
    return [b["custom_id"] for b in buttons if "custom_id" in b]


def _grid_custom_ids(job_hash: str) -> list[str]:
    return [
        *(f"MJ::JOB::upsample::{i}::{job_hash}" for i in range(1, 5)),
        f"MJ::JOB::reroll::0::{job_hash}::SOLO",
        *(f"MJ::JOB::variation::{i}::{job_hash}" for i in range(1, 5)),
    ]


async def test_final_nonce_can_be_left_out() -> None:
    config = SimulatorConfig(step_delay=0.01, final_nonce=False)
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        await opened.imagine_in(opened.dm, "2023 style", "31")
        events = await dispatches_until(opened.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    creates = [f["d"] for f in events if f["t"] == "MESSAGE_CREATE"]
    assert creates[0]["nonce"] == "31"
    assert "nonce" not in creates[1]


async def test_imagine_in_guild_channel(account: Account) -> None:
    guild = account.ready["guilds"][0]
    channel_id = guild["channels"][0]["id"]
    body = command_body(channel_id, account.imagine, prompt_option("guild cat"), "8")
    body["guild_id"] = guild["id"]
    assert (await account.client.post("/interactions", json=body)).status_code == 204
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    messages = [f["d"] for f in events if f["t"].startswith("MESSAGE_")]
    assert {m["guild_id"] for m in messages} == {guild["id"]}
    assert {m["channel_id"] for m in messages} == {channel_id}


async def test_relax_mode_shows_in_progress(account: Account) -> None:
    relax = await index_command(account.client, account.dm, "relax")
    await account.client.post("/interactions", json=command_body(account.dm, relax, [], "3"))
    [*_, reply] = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_CREATE")
    assert reply["d"]["flags"] == 64 and reply["d"]["content"].startswith("Done!")

    await account.imagine_in(account.dm, "slow cat", "4")
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    final = next(f["d"] for f in events if f["t"] == "MESSAGE_CREATE" and f["d"]["type"] == 0)
    assert final["content"].endswith("(relaxed)")


async def test_reused_nonce_makes_no_second_job(account: Account) -> None:
    for _ in range(2):
        assert (await account.imagine_in(account.dm, "once", "555")).status_code == 204
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    assert [f["t"] for f in events].count("INTERACTION_CREATE") == 1


# -- plan concurrency ------------------------------------------------------------------------


async def test_standard_plan_queues_jobs_beyond_three() -> None:
    config = SimulatorConfig(step_delay=0.03, heartbeat_interval_ms=45000)
    nonces = [str(100 + i) for i in range(5)]
    finals: list[str] = []
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        for nonce in nonces:
            assert (await opened.imagine_in(opened.dm, f"job {nonce}", nonce)).status_code == 204
        events = await dispatches_until(opened.ws, finals_reach(5, finals))

    queued = embeds_of(events)
    assert [m["nonce"] for m in queued] == ["103", "104"]
    for message in queued:
        assert _keys("14-gw-job-queued-embed-2024.json", "position") <= set(message)
        assert (message["type"], message["flags"], message["content"]) == (20, 64, "")
        [embed] = message["embeds"]
        assert (embed["title"], embed["color"]) == ("Job queued", 16239475)
        assert embed["footer"]["text"] == f"/imagine job {message['nonce']}"
    assert starts_of(events) == nonces
    assert sorted(finals) == nonces
    # a queued job starts, under the same interaction, only once a result freed a slot
    first_final = next(i for i, f in enumerate(events) if is_final(f))
    for message in queued:
        start = next(i for i, f in enumerate(events) if _is_start_of(f, message["nonce"]))
        assert first_final < start
        assert events[start]["d"]["interaction"]["id"] == message["interaction"]["id"]


def _is_start_of(frame: Frame, nonce: str) -> bool:
    content: str = frame["d"].get("content", "")
    return frame["d"].get("nonce") == nonce and content.endswith("(Waiting to start)")


async def test_queue_full_job_never_runs() -> None:
    config = SimulatorConfig(step_delay=0.03, wait_queue_size=0)
    finals: list[str] = []
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        for nonce in ("1", "2", "3", "4"):
            await opened.imagine_in(opened.dm, f"job {nonce}", nonce)
        events = await dispatches_until(opened.ws, finals_reach(3, finals))

    [full] = embeds_of(events)
    assert (full["nonce"], full["flags"], full["content"]) == ("4", 64, "")
    assert (full["embeds"][0]["title"], full["embeds"][0]["color"]) == ("Queue full", 16711680)
    assert starts_of(events) == ["1", "2", "3"]
    assert sorted(finals) == ["1", "2", "3"]


async def test_pro_plan_runs_five_at_once() -> None:
    config = SimulatorConfig(step_delay=0.03, plans={TOKEN: "Pro"})
    finals: list[str] = []
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        for nonce in ("1", "2", "3", "4", "5"):
            await opened.imagine_in(opened.dm, f"job {nonce}", nonce)
        events = await dispatches_until(opened.ws, finals_reach(5, finals))
    assert embeds_of(events) == []


async def test_a_configured_plan_runs_its_concurrency() -> None:
    config = SimulatorConfig(step_delay=0.03, plan_concurrency={"Bench": 4}, plans={TOKEN: "Bench"})
    nonces = [str(200 + i) for i in range(5)]
    finals: list[str] = []
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        for nonce in nonces:
            await opened.imagine_in(opened.dm, f"job {nonce}", nonce)
        events = await dispatches_until(opened.ws, finals_reach(5, finals))

    assert [m["nonce"] for m in embeds_of(events)] == ["204"]  # "Job queued": one too many
    first_final = next(i for i, f in enumerate(events) if is_final(f))
    started_before = [i for i, f in enumerate(events[:first_final]) if _is_start_of_any(f)]
    assert len(started_before) == 4  # four ran at once, the fifth once a slot freed
    assert starts_of(events) == nonces and sorted(finals) == nonces


def _is_start_of_any(frame: Frame) -> bool:
    content: str = frame["d"].get("content", "")
    return frame["t"] == "MESSAGE_CREATE" and content.endswith("(Waiting to start)")


async def test_a_configured_plan_can_be_set_over_the_control_api() -> None:
    config = SimulatorConfig(plan_concurrency={"Bench": 15})
    async with running_simulator(config) as simulator, httpx.AsyncClient() as client:
        plans = f"{simulator.base_url}/_sim/plans"
        ok = await client.post(plans, json={"token": TOKEN, "plan": "Bench"})
        unknown = await client.post(plans, json={"token": TOKEN, "plan": "Ultra"})
    assert (ok.status_code, ok.json()) == (200, {"token": TOKEN, "plan": "Bench"})
    assert unknown.status_code == 400


# -- load-test images --------------------------------------------------------------------------


async def _finished_jobs(config: SimulatorConfig, prompts: list[str]) -> list[Frame]:
    """The result message of one /imagine per prompt, with its PNG (``png``) and the bytes of
    its job's first preview (``preview``)."""
    finals: list[str] = []
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        for number, prompt in enumerate(prompts):
            await opened.imagine_in(opened.dm, prompt, str(300 + number))
        events = await dispatches_until(opened.ws, finals_reach(len(prompts), finals))
        results = [f["d"] for f in events if is_final(f)]
        for result in results:
            [grid] = result["attachments"]
            result["png"] = await download(opened.client, grid)
            shown = result["content"].split(" - ")[0]  # "**<prompt>**"
            updates = [f["d"] for f in events if f["t"] == "MESSAGE_UPDATE"]
            [update, *_] = [u for u in updates if u["content"].startswith(shown)]
            result["preview"] = await download(opened.client, update["attachments"][0])
    return results


def _job_hash(message: Frame) -> str:
    return str(message["components"][0]["components"][0]["custom_id"].split("::")[-1])


async def test_without_captions_results_are_the_plain_pictures() -> None:
    config = SimulatorConfig(step_delay=0.01, grid_size=64, preview_size=16, captions=False)
    [result] = await _finished_jobs(config, ["a lighthouse at dusk"])
    image = Image.open(io.BytesIO(result["png"]))
    assert (image.format, image.size) == ("PNG", (64, 64))
    job_hash = _job_hash(result)
    plain = render_grid("a lighthouse at dusk", job_hash, 64, captions=False)
    captioned = render_grid("a lighthouse at dusk", job_hash, 64)
    assert image.convert("RGB").tobytes() == plain.tobytes() != captioned.tobytes()
    preview = Image.open(io.BytesIO(result["preview"]))
    assert (preview.format, preview.size) == ("WEBP", (16, 16))


async def test_image_variants_share_the_pictures_of_different_jobs() -> None:
    config = SimulatorConfig(
        step_delay=0.01, grid_size=64, preview_size=16, captions=False, image_variants=1
    )
    first, second = await _finished_jobs(config, ["a red fox", "a blue whale"])
    assert _job_hash(first) != _job_hash(second)
    assert first["png"] == second["png"] and first["preview"] == second["preview"]
    assert first["attachments"][0]["size"] == second["attachments"][0]["size"]
    seed = "variant 0"
    expected = render_grid(seed, seed, 64, captions=False)
    assert Image.open(io.BytesIO(first["png"])).convert("RGB").tobytes() == expected.tobytes()


@pytest.mark.both_loops
async def test_the_simulators_connections_send_without_nagle_delays() -> None:
    """Accepted connections get TCP_NODELAY on either loop: uvicorn writes an answer's head and
    body apart, and with Nagle on asyncio's loop held each body ~40 ms for the client's ACK."""
    listener = _bind("127.0.0.1", 0)
    accepted: asyncio.Future[asyncio.BaseTransport] = asyncio.get_running_loop().create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(transport)

    server = await asyncio.get_running_loop().create_server(Accept, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        transport = await asyncio.wait_for(accepted, WAIT)
        sock = transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        transport.close()
        writer.close()
