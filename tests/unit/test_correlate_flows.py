"""Correlator sequences for button jobs, modals, seeds, describe and settings replies (pure).

Messages are real captures where one exists (17, 25 "Image #N", 22 variation grid, 12 start),
with ids moved so that they answer our clicks; the rest are shaped after reference §3.4.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx

from mjapi.domain.events import (
    BackendEvent,
    JobCompleted,
    JobFailed,
    JobProgressed,
    JobStarted,
)
from mjapi.domain.jobs import Seed
from mjapi.transports.discord.catchup import catch_up, channels_to_read
from mjapi.transports.discord.clicks import parse_click
from mjapi.transports.discord.correlate import Correlator, Expect
from mjapi.transports.discord.dispatch import midjourney_dm, route
from mjapi.transports.discord.rest import DiscordRest
from tests.conftest import load_capture

MJ = "936929561302675456"
CHANNEL = "1008571239570341938"  # captures 22, 27, 28
USER = "1047955146509914234"
GRID_ID = "1295404289036124274"  # the parent of capture 27 ("Image #3")
GRID_HASH = "e2cb059f-9b0e-4f71-b43d-72feedfc1eb0"


def message(name: str) -> dict[str, Any]:
    data = load_capture(name)
    return copy.deepcopy(data["d"] if "op" in data else data)


def feed(correlator: Correlator, name: str, data: dict[str, Any]) -> list[BackendEvent]:
    return route(correlator, name, data).events


def pick(index: int) -> str:
    return f"MJ::JOB::upsample::{index}::{GRID_HASH}"


def expect_click(correlator: Correlator, jobid: str, nonce: str, custom_id: str) -> None:
    correlator.expect(jobid, nonce, parent_message_id=GRID_ID, click=parse_click(custom_id))


def bot(message_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": message_id,
        "channel_id": CHANNEL,
        "author": {"id": MJ, "username": "Midjourney Bot", "bot": True},
        "content": "",
        "timestamp": "2025-01-01T00:00:00.000000+00:00",
        "attachments": [],
        "embeds": [],
        "components": [],
        "flags": 0,
    }
    base.update(fields)
    return base


# -- U pick: "Image #N" without nonce, bound by reply_to + index ----------------------------------


def test_an_image_pick_without_nonce_completes_the_matching_u_click() -> None:
    correlator = Correlator(CHANNEL, USER)
    expect_click(correlator, "u2", "100", pick(2))
    expect_click(correlator, "u3", "101", pick(3))

    events = feed(
        correlator, "MESSAGE_CREATE", message("27-rest-upscale-image3-v60-make-square.json")
    )

    assert len(events) == 1
    done = events[0]
    assert isinstance(done, JobCompleted)
    assert done.jobid == "u3"  # "Image #3" answers U3, never U2
    assert done.job_hash == "958e3dc1-4f3c-426b-b538-df30985a8dfa"
    assert done.message_flags == 0
    assert "Make Square" in [b.label for b in done.buttons]
    assert correlator.in_flight == ("u2",)


def test_an_image_pick_of_another_grid_is_not_ours() -> None:
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("u3", "100", parent_message_id="999", click=parse_click(pick(3)))

    assert (
        feed(correlator, "MESSAGE_CREATE", message("27-rest-upscale-image3-v60-make-square.json"))
        == []
    )


def test_the_parent_grid_restyled_by_an_update_produces_nothing() -> None:
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("grid", "90")
    grid = message("22-rest-variations-strong-grid-fast-stealth.json")
    grid["nonce"] = "90"
    [done] = feed(correlator, "MESSAGE_CREATE", grid)
    assert isinstance(done, JobCompleted)
    correlator.expect(
        "v1",
        "91",
        parent_message_id=grid["id"],
        click=parse_click("MJ::JOB::variation::1::76ea0ff4-f2f7-4a0f-aae6-52e7495f6fdc"),
    )

    restyled = copy.deepcopy(grid)
    restyled.pop("nonce")
    restyled["components"][1]["components"][0]["style"] = 1  # V1 used
    assert feed(correlator, "MESSAGE_UPDATE", restyled) == []
    assert correlator.in_flight == ("v1",)


# -- a variation grid: start (capture 12 shape), progress, final ----------------------------------


def test_a_variation_runs_start_progress_final_by_nonce_then_message_id() -> None:
    correlator = Correlator(CHANNEL, USER)
    custom_id = f"MJ::JOB::high_variation::1::{GRID_HASH}::SOLO"
    expect_click(correlator, "vary", "200", custom_id)
    content = f"**cat** - Variations (Strong) by <@{USER}>"
    start = bot(
        "300",
        nonce="200",
        type=19,
        flags=64,
        content=f"{content} (Waiting to start)",
        message_reference={"message_id": GRID_ID},
    )
    progress = bot(
        "300",
        type=19,
        content=f"{content} (40%) (fast)",
        message_reference={"message_id": GRID_ID},
        attachments=[{"id": "1", "filename": "grid_0.webp", "url": "u"}],
    )
    final = message("22-rest-variations-strong-grid-fast-stealth.json")
    final["message_reference"]["message_id"] = GRID_ID

    events = feed(correlator, "MESSAGE_CREATE", start)
    events += feed(correlator, "MESSAGE_UPDATE", progress)
    events += feed(correlator, "MESSAGE_CREATE", final)
    events += feed(correlator, "MESSAGE_DELETE", {"id": "300", "channel_id": CHANNEL})

    assert [type(e) for e in events] == [JobStarted, JobProgressed, JobCompleted]
    assert isinstance(events[1], JobProgressed) and events[1].percent == 40
    assert isinstance(events[2], JobCompleted) and events[2].jobid == "vary"


# -- remix modal: the job continues under the submit's nonce --------------------------------------


def test_a_remix_modal_submit_nonce_keeps_correlating_the_job() -> None:
    correlator = Correlator(CHANNEL, USER)
    expect_click(correlator, "v2", "400", f"MJ::JOB::variation::2::{GRID_HASH}")
    assert correlator.job_for_nonce("400") == "v2"  # the modal echoes the click's nonce

    correlator.add_nonce("v2", "401")
    start = bot(
        "500",
        nonce="401",
        type=19,
        content=f"**dog** - Remix by <@{USER}> (Waiting to start)",
        message_reference={"message_id": GRID_ID},
    )
    events = feed(correlator, "MESSAGE_CREATE", start)

    assert [type(e) for e in events] == [JobStarted]
    assert isinstance(events[0], JobStarted) and events[0].jobid == "v2"


def test_a_failed_modal_submit_aborts_the_job_once() -> None:
    correlator = Correlator(CHANNEL, USER)
    expect_click(correlator, "cz", "600", f"MJ::CustomZoom::{GRID_HASH}")
    [failed] = correlator.abort("cz", "form", "400")
    assert isinstance(failed, JobFailed)
    assert correlator.abort("cz", "form") == []


# -- seed DM ------------------------------------------------------------------------------------


def test_a_seed_dm_in_the_users_dm_completes_a_server_accounts_seed_job() -> None:
    correlator = Correlator(CHANNEL, USER)
    ready = {"private_channels": [{"id": "777", "type": 1, "recipient_ids": [MJ]}]}
    correlator.dm_channel_id = midjourney_dm(ready)
    key = correlator.expect_seed("seed-1", GRID_HASH)
    content = f"**cat**\n**Job ID**: {GRID_HASH}\n**seed** 42"
    images = [
        {"id": str(i), "filename": f"u_cat_{GRID_HASH}_{i}.png", "url": "u"} for i in range(4)
    ]
    other = bot(
        "801",
        channel_id="777",
        content=f"**x**\n**Job ID**: {'1' * 8}-1111-1111-1111-{'1' * 12}\n**seed** 1",
    )
    dm = bot("800", channel_id="777", content=content, attachments=images)

    assert key == f"seed:{GRID_HASH}"
    assert feed(correlator, "MESSAGE_CREATE", other) == []
    [done] = feed(correlator, "MESSAGE_CREATE", dm)

    assert isinstance(done, JobCompleted)
    assert done.jobid == "seed-1"
    assert done.seed == Seed(content, 42)
    assert len(done.attachments) == 4
    # The DM channel is watched for seeds only: an imagine there is not this account's.
    correlator.expect("img", "900")
    assert (
        feed(
            correlator,
            "MESSAGE_CREATE",
            bot(
                "901",
                channel_id="777",
                nonce="900",
                content=f"**a** - <@{USER}> (Waiting to start)",
            ),
        )
        == []
    )


# -- describe: CREATE then UPDATE ---------------------------------------------------------------


def test_describe_completes_on_the_update_that_adds_the_prompts() -> None:
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("desc", "1000", expect=Expect.DESCRIPTION)
    meta = {"id": "1001", "name": "describe", "type": 2}
    first = bot(
        "1002",
        nonce="1000",
        interaction_metadata=meta,
        embeds=[{"image": {"url": "https://cdn/fox.png"}}],
    )
    embed = {
        "description": "1\ufe0f\u20e3 one\n\n2\ufe0f\u20e3 two\n\n3\ufe0f\u20e3 three\n\n"
        "4\ufe0f\u20e3 four",
        "image": {"url": "https://cdn/fox.png"},
    }
    described = bot(
        "1002",
        interaction_metadata=meta,
        embeds=[embed],
        edited_timestamp="2025-01-01T00:00:05.000000+00:00",
        components=[
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "emoji": {"name": "1\ufe0f\u20e3"},
                        "custom_id": "MJ::Job::PicReader::1",
                    }
                ],
            }
        ],
    )

    events = feed(correlator, "MESSAGE_CREATE", first) + feed(
        correlator, "MESSAGE_UPDATE", described
    )

    assert [type(e) for e in events] == [JobStarted, JobCompleted]
    done = events[1]
    assert isinstance(done, JobCompleted)
    assert done.embeds == (embed,)
    assert done.attachments == ()
    assert done.timestamp == "2025-01-01T00:00:05.000000+00:00"
    assert [b.custom_id for b in done.buttons] == ["MJ::Job::PicReader::1"]


# -- settings replies ---------------------------------------------------------------------------


def test_a_settings_reply_completes_with_content_and_flags() -> None:
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("relax", "1100", expect=Expect.REPLY)
    reply = bot(
        "1101",
        nonce="1100",
        flags=64,
        content="Done! Your jobs now do not consume "
        "fast-hours, but might take a little longer. You can always switch back with /fast",
    )

    [done] = feed(correlator, "MESSAGE_CREATE", reply)

    assert isinstance(done, JobCompleted)
    assert done.content.startswith("Done!")
    assert done.message_flags == 64


def test_a_deferred_info_reply_starts_then_completes_on_update() -> None:
    correlator = Correlator(CHANNEL, USER)
    correlator.expect("info", "1200", expect=Expect.REPLY)
    meta = {"id": "1201", "name": "info", "type": 2}
    thinking = bot("1202", nonce="1200", flags=64 | 128, interaction_metadata=meta)
    embed = {"title": "Your info - user", "description": "**Subscription**: Pro", "color": 0xFF0000}
    answer = bot("1202", flags=64, interaction_metadata=meta, embeds=[embed])

    events = feed(correlator, "MESSAGE_CREATE", thinking) + feed(
        correlator, "MESSAGE_UPDATE", answer
    )

    assert [type(e) for e in events] == [JobStarted, JobCompleted]
    assert isinstance(events[1], JobCompleted) and events[1].embeds == (embed,)


# -- catch-up after a lost session --------------------------------------------------------------

DM = "777"


def server_account_with_dm() -> Correlator:
    correlator = Correlator(CHANNEL, USER)
    correlator.dm_channel_id = DM
    return correlator


def test_nothing_is_re_read_without_jobs_in_flight() -> None:
    assert channels_to_read(server_account_with_dm()) == []


def test_the_dm_is_re_read_only_while_a_seed_waits() -> None:
    correlator = server_account_with_dm()
    correlator.expect("img", "900")
    assert channels_to_read(correlator) == [CHANNEL]

    correlator.expect_seed("seed-1", GRID_HASH)
    assert channels_to_read(correlator) == [CHANNEL, DM]

    correlator.dm_channel_id = CHANNEL  # a DM account: one channel holds everything
    assert channels_to_read(correlator) == [CHANNEL]


async def test_catch_up_replays_both_channels_oldest_first() -> None:
    correlator = server_account_with_dm()
    correlator.expect("img", "900")
    correlator.expect_seed("seed-1", GRID_HASH)
    seed_dm = bot("800", channel_id=DM, content=f"**cat**\n**Job ID**: {GRID_HASH}\n**seed** 42")
    start = bot("901", nonce="900", content=f"**a** - <@{USER}> (Waiting to start)")
    progress = bot("901", content=f"**a** - <@{USER}> (50%) (fast)")
    history = {CHANNEL: [progress, start], DM: [seed_dm]}  # newest first, like Discord
    paths: list[str] = []

    def discord(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        channel = request.url.path.split("/")[4]
        return httpx.Response(200, json=history[channel])

    async with httpx.AsyncClient(transport=httpx.MockTransport(discord)) as http:
        events = await catch_up(DiscordRest(http, "https://discord.test", "t"), correlator)

    assert paths == [f"/api/v9/channels/{CHANNEL}/messages", f"/api/v9/channels/{DM}/messages"]
    assert [(type(e), getattr(e, "jobid", None)) for e in events] == [
        (JobStarted, "img"),
        (JobProgressed, "img"),
        (JobCompleted, "seed-1"),
    ]


async def test_a_failed_catch_up_read_is_retried_then_skipped() -> None:
    correlator = server_account_with_dm()
    correlator.expect("img", "900")
    correlator.expect_seed("seed-1", GRID_HASH)
    seed_dm = bot("800", channel_id=DM, content=f"**cat**\n**Job ID**: {GRID_HASH}\n**seed** 42")
    paths: list[str] = []
    pauses: list[float] = []

    def discord(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if CHANNEL in request.url.path:
            return httpx.Response(403, json={"message": "Missing Access", "code": 50001})
        return httpx.Response(200, json=[seed_dm])

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    async with httpx.AsyncClient(transport=httpx.MockTransport(discord)) as http:
        rest = DiscordRest(http, "https://discord.test", "t")
        events = await catch_up(rest, correlator, sleep=sleep)

    assert len(paths) == 6  # the channel five times, then the DM
    assert pauses == [0.5, 1.0, 2.0, 4.0]
    assert [type(e) for e in events] == [JobCompleted]  # the DM was still read
