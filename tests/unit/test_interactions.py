"""Interaction bodies (type 2 blend/describe/prefer, type 3, type 5), modal parsing and the
upload flow over a mocked HTTP client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mjapi.errors import TransportError
from mjapi.transports.base import BlendDimensions, Upload
from mjapi.transports.discord.clicks import Family, Opens, parse_click
from mjapi.transports.discord.commands import find_command
from mjapi.transports.discord.interactions import (
    Uploaded,
    Where,
    blend_options,
    click_payload,
    command_payload,
    describe_options,
    modal_payload,
    prefer_options,
)
from mjapi.transports.discord.modals import (
    Iframe,
    Modal,
    activity_base,
    inpaint_body,
    opened,
)
from mjapi.transports.discord.rest import DiscordRest
from mjapi.transports.discord.uploads import upload_all
from tests.conftest import load_capture

INDEX = load_capture("30-rest-application-command-index-guild-2024-05.json")
DM = Where("1069126859100524575", None, "7687ebdc6846e1f686f02b14c4f150d1")
GUILD = Where("77", "66", "s" * 32)
TOKEN = "MTA4MzgxMTczNzIxNzUzMTkwNA.GxYz12.abcdefghijklmnopqrstuvwxyz0123456789"


def test_click_matches_the_browser_capture_35() -> None:
    captured = load_capture("35-req-interaction-type3-upsample-dm.json")
    payload = click_payload(
        DM,
        captured["nonce"],
        captured["message_id"],
        0,
        captured["data"]["custom_id"],
    )
    assert payload["type"] == 3
    assert payload["data"] == {"component_type": 2, "custom_id": captured["data"]["custom_id"]}
    for key in ("application_id", "channel_id", "message_id", "nonce", "message_flags"):
        assert payload[key] == captured[key]
    assert "guild_id" not in payload  # DM


def test_click_in_a_guild_echoes_ephemeral_flags() -> None:
    payload = click_payload(GUILD, "1", "2", 64, "MJ::JOB::upsample::1::h")
    assert payload["guild_id"] == "66"
    assert payload["message_flags"] == 64
    assert payload["session_id"] == "s" * 32


def test_modal_submit_has_one_text_field() -> None:
    payload = modal_payload(
        GUILD, "9", "modal-1", "MJ::RemixModal::h::1::1", "MJ::RemixModal::new_prompt", "a dog"
    )
    assert payload["type"] == 5
    assert payload["nonce"] == "9"
    assert payload["data"] == {
        "id": "modal-1",
        "custom_id": "MJ::RemixModal::h::1::1",
        "components": [
            {
                "type": 1,
                "components": [
                    {"type": 4, "custom_id": "MJ::RemixModal::new_prompt", "value": "a dog"}
                ],
            }
        ],
    }


def test_blend_options_follow_the_index_schema() -> None:
    blend = find_command(INDEX, "blend")
    files = [Uploaded(str(i), f"{i}.png", f"up/{i}.png") for i in range(3)]

    payload = command_payload(
        blend, GUILD, "5", blend_options(blend, files, BlendDimensions.PORTRAIT.option), files
    )

    assert payload["data"]["id"] == "1062880104792997970"
    assert payload["data"]["version"] == "1237876415471554624"
    assert payload["data"]["options"] == [
        {"type": 11, "name": "image1", "value": "0"},
        {"type": 11, "name": "image2", "value": "1"},
        {"type": 11, "name": "image3", "value": "2"},
        {"type": 3, "name": "dimensions", "value": "--ar 2:3"},
    ]
    assert payload["data"]["attachments"] == [
        {"id": str(i), "filename": f"{i}.png", "uploaded_filename": f"up/{i}.png"} for i in range(3)
    ]


def test_blend_with_six_images_is_refused_by_the_schema() -> None:
    blend = find_command(INDEX, "blend")
    files = [Uploaded(str(i), "f", "u") for i in range(6)]
    with pytest.raises(TransportError, match="image6"):
        blend_options(blend, files, "--ar 1:1")


def test_describe_names_the_upload() -> None:
    describe = find_command(INDEX, "describe")
    image = Uploaded("0", "fox.png", "abc/fox.png")
    payload = command_payload(describe, DM, "6", describe_options(describe, image), [image])
    assert payload["data"]["options"] == [{"type": 11, "name": "image", "value": "0"}]
    assert payload["data"]["name"] == "describe"


@pytest.mark.parametrize("toggle", ["remix", "variability"])
def test_prefer_toggles_are_sub_commands(toggle: str) -> None:
    prefer = find_command(INDEX, "prefer")
    assert prefer_options(prefer, toggle) == [{"type": 1, "name": toggle, "options": []}]


def test_settings_commands_have_no_options() -> None:
    info = find_command(INDEX, "info")
    assert command_payload(info, DM, "7")["data"]["options"] == []


# -- clicks ---------------------------------------------------------------------------------------

H = "14ffad55-e2fb-4e2e-8e4f-49c419b48ea5"


@pytest.mark.parametrize(
    ("custom_id", "family", "index", "opens"),
    [
        (f"MJ::JOB::upsample::2::{H}", Family.PICK, 2, Opens.MAYBE_MODAL),
        (f"MJ::JOB::variation::3::{H}", Family.VARIATION, 3, Opens.MAYBE_MODAL),
        (f"MJ::JOB::high_variation::1::{H}::SOLO", Family.VARIATION, None, Opens.MAYBE_MODAL),
        (
            f"MJ::JOB::upsample_v6r1_2x_subtle::1::{H}::SOLO",
            Family.UPSCALE,
            None,
            Opens.MAYBE_MODAL,
        ),
        (f"MJ::Outpaint::50::1::{H}::SOLO", Family.ZOOM, None, Opens.MAYBE_MODAL),
        (f"MJ::CustomZoom::{H}", Family.ZOOM, None, Opens.MODAL),
        (f"MJ::Inpaint::1::{H}::SOLO", Family.VARIATION, None, Opens.IFRAME),
        (f"MJ::JOB::pan_left::1::{H}::SOLO", Family.PAN, None, Opens.MAYBE_MODAL),
        (f"MJ::JOB::reroll::0::{H}::SOLO", Family.REROLL, None, Opens.MAYBE_MODAL),
        (f"MJ::JOB::video_virtual_upscale::3::{H}", Family.PICK, 3, Opens.MAYBE_MODAL),
        (f"MJ::JOB::animate_high::1::{H}::SOLO", Family.VIDEO, None, Opens.MAYBE_MODAL),
        (f"MJ::JOB::animate_low_extend::1::{H}::SOLO", Family.VIDEO, None, Opens.MAYBE_MODAL),
    ],
)
def test_clicks_are_parsed(custom_id: str, family: Family, index: int | None, opens: Opens) -> None:
    click = parse_click(custom_id)
    assert click is not None
    assert (click.family, click.index, click.opens) == (family, index, opens)


@pytest.mark.parametrize(
    "custom_id", [None, "", f"MJ::BOOKMARK::{H}", f"MJ::CancelJob::ByJobid::{H}"]
)
def test_buttons_without_a_job(custom_id: str | None) -> None:
    assert parse_click(custom_id) is None


# -- modals -------------------------------------------------------------------------------------


def test_a_modal_create_is_read() -> None:
    custom_id = f"MJ::OutpaintCustomZoomModal::{H}"
    data: dict[str, Any] = {
        "id": "m1",
        "nonce": "n1",
        "custom_id": custom_id,
        "title": "Zoom Out",
        "components": [
            {
                "type": 1,
                "components": [
                    {
                        "type": 4,
                        "custom_id": "MJ::OutpaintCustomZoomModal::prompt",
                        "value": "cat --zoom 2",
                    }
                ],
            }
        ],
    }
    assert opened("INTERACTION_MODAL_CREATE", data) == Modal(
        "n1", "m1", custom_id, "MJ::OutpaintCustomZoomModal::prompt", "cat --zoom 2"
    )


def test_an_iframe_modal_is_read_and_its_body_built() -> None:
    data = {"id": "i1", "nonce": "n2", "custom_id": "MJ::iframe::tok-123", "title": "Vary"}
    assert opened("INTERACTION_IFRAME_MODAL_CREATE", data) == Iframe("n2", "tok-123")
    assert inpaint_body("tok-123", None, "iVBOR") == {
        "customId": "tok-123",
        "prompt": "",
        "mask": "iVBOR",
        "userId": "0",
        "username": "0",
        "full_prompt": None,
    }


def test_other_dispatches_are_no_modal() -> None:
    assert opened("INTERACTION_SUCCESS", {"id": "1", "nonce": "2"}) is None
    assert opened("INTERACTION_MODAL_CREATE", {"id": "1", "nonce": "2", "custom_id": "x"}) is None


def test_activity_base() -> None:
    assert (
        activity_base("https://discord.com", None) == "https://936929561302675456.discordsays.com"
    )
    assert activity_base("http://127.0.0.1:9/", None) == "http://127.0.0.1:9/discordsays"
    assert activity_base("http://x", "http://editor/") == "http://editor"


# -- uploads ------------------------------------------------------------------------------------


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[DiscordRest, list[httpx.Request]]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/attachments"):
            files = json.loads(request.content)["files"]
            return httpx.Response(200, json={"attachments": [
                {"id": int(f["id"]), "upload_url": f"https://store.test/u/{f['id']}",
                 "upload_filename": f"uuid-{f['id']}/{f['filename']}"} for f in files
            ]})  # fmt: skip
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        yield DiscordRest(http, "https://discord.test", TOKEN), seen


async def test_upload_requests_slots_then_puts_bytes_without_the_token(
    recorded: tuple[DiscordRest, list[httpx.Request]],
) -> None:
    rest, seen = recorded
    files = [Upload("a.png", "image/png", b"\x89PNGa"), Upload("b.jpg", "image/jpeg", b"jpg")]

    uploaded = await upload_all(rest, "55", files)

    assert uploaded == [
        Uploaded("0", "a.png", "uuid-0/a.png"),
        Uploaded("1", "b.jpg", "uuid-1/b.jpg"),
    ]
    slot, *puts = seen
    assert slot.url.path == "/api/v9/channels/55/attachments"
    assert slot.headers["Authorization"] == TOKEN
    assert json.loads(slot.content)["files"] == [
        {"filename": "a.png", "file_size": 5, "id": "0"},
        {"filename": "b.jpg", "file_size": 3, "id": "1"},
    ]
    assert sorted((p.method, str(p.url), p.headers["Content-Type"], p.content) for p in puts) == [
        ("PUT", "https://store.test/u/0", "image/png", b"\x89PNGa"),
        ("PUT", "https://store.test/u/1", "image/jpeg", b"jpg"),
    ]
    assert all("Authorization" not in p.headers for p in puts)


async def test_reaction_path_is_the_encoded_envelope(
    recorded: tuple[DiscordRest, list[httpx.Request]],
) -> None:
    rest, seen = recorded
    await rest.add_reaction("1", "2", "%E2%9C%89%EF%B8%8F")
    assert seen[0].method == "PUT"
    assert (
        seen[0].url.raw_path == b"/api/v9/channels/1/messages/2/reactions/%E2%9C%89%EF%B8%8F/%40me"
    )
