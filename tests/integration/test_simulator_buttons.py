"""Buttons, modals, uploads, describe, seed, settings and video of the simulator, over sockets.

Raw httpx + websockets clients only (no mjapi transport); every wait is bounded.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import pytest
from PIL import Image

from mjapi.simulator import Simulator, SimulatorConfig, running_simulator
from tests.integration.test_simulator import (
    MJ_BOT,
    Account,
    Frame,
    command_body,
    dispatches_until,
    download,
    index_command,
    open_account,
    prompt_option,
)

FAST = SimulatorConfig(step_delay=0.005, heartbeat_interval_ms=45000, progress_points=(0, 50))
HASH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_simulator(FAST) as simulator:
        yield simulator


@pytest.fixture
async def account(sim: Simulator) -> AsyncIterator[Account]:
    async with open_account(sim) as opened:
        yield opened


# -- helpers ---------------------------------------------------------------------------------


def created(frame: Frame) -> bool:
    return bool(frame["t"] == "MESSAGE_CREATE")


def job_done(frame: Frame) -> bool:
    """A result: a created message with an attachment and buttons (not a progress preview)."""
    d = frame["d"]
    return created(frame) and bool(d["attachments"]) and bool(d["components"])


async def imagine(account: Account, prompt: str, nonce: str, channel: str | None = None) -> Frame:
    """Run /imagine; the result message."""
    response = await account.imagine_in(channel or account.dm, prompt, nonce)
    assert response.status_code == 204
    events = await dispatches_until(account.ws, lambda f: f["t"] == "MESSAGE_DELETE")
    return next(f["d"] for f in events if job_done(f))


async def click(account: Account, message: Frame, label: str, nonce: str, **extra: Any) -> Any:
    """POST the type 3 interaction of the button labelled (or emoji'd) ``label``."""
    custom_id = button(message, label)["custom_id"]
    body: Frame = {
        "type": 3,
        "application_id": MJ_BOT,
        "channel_id": message["channel_id"],
        "session_id": account.ready["session_id"],
        "nonce": nonce,
        "message_id": message["id"],
        "message_flags": message["flags"],
        "data": {"component_type": 2, "custom_id": custom_id},
        **extra,
    }
    if "guild_id" in message:
        body["guild_id"] = message["guild_id"]
    return await account.client.post("/interactions", json=body)


def button(message: Frame, label: str) -> Frame:
    for row in message["components"]:
        for candidate in row["components"]:
            if label in (candidate.get("label"), candidate.get("emoji", {}).get("name")):
                found: Frame = candidate
                return found
    raise AssertionError(f"no button {label!r} on {message['content']}")


def labels(message: Frame) -> list[list[str]]:
    return [
        [b.get("label") or b["emoji"]["name"] for b in row["components"]]
        for row in message["components"]
    ]


async def until(account: Account, done: Callable[[Frame], bool]) -> list[Frame]:
    return await dispatches_until(account.ws, done)


async def run_button_job(account: Account, message: Frame, label: str, nonce: str) -> list[Frame]:
    """Click a job button; every dispatch until the progress message is deleted."""
    assert (await click(account, message, label, nonce)).status_code == 204
    return await until(account, lambda f: f["t"] == "MESSAGE_DELETE")


def result_of(events: list[Frame]) -> Frame:
    return next(f["d"] for f in events if job_done(f))


def parent_update(events: list[Frame], parent: Frame) -> Frame:
    return next(
        f["d"] for f in events if f["t"] == "MESSAGE_UPDATE" and f["d"]["id"] == parent["id"]
    )


def check_reply_to(message: Frame, parent: Frame) -> None:
    assert message["type"] == 19
    assert message["message_reference"]["message_id"] == parent["id"]
    assert message["referenced_message"]["id"] == parent["id"]
    assert "nonce" not in message["referenced_message"]


async def picture(account: Account, message: Frame) -> Image.Image:
    [attachment] = message["attachments"]
    image = Image.open(io.BytesIO(await download(account.client, attachment)))
    assert image.size == (attachment["width"], attachment["height"])
    return image


async def video_frames(account: Account, message: Frame) -> list[Image.Image]:
    [attachment] = message["attachments"]
    assert attachment["content_type"] == "video/mp4" and attachment["filename"].endswith(".mp4")
    data = await download(account.client, attachment)
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [f.to_image() for f in container.decode(video=0)]  # type: ignore[no-untyped-call]
    assert frames and {f.size for f in frames} == {(attachment["width"], attachment["height"])}
    return frames


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def upload(account: Account, files: list[bytes]) -> list[Frame]:
    """The upload flow of reference §1.9; the ``data.attachments`` entries."""
    request = {
        "files": [
            {"filename": f"img{i}.png", "file_size": len(data), "id": str(i)}
            for i, data in enumerate(files)
        ]
    }
    response = await account.client.post(f"/channels/{account.dm}/attachments", json=request)
    assert response.status_code == 200
    slots = response.json()["attachments"]
    for slot, data in zip(slots, files, strict=True):
        assert re.fullmatch(rf"{HASH}/img\d\.png", slot["upload_filename"])
        put = await account.client.put(slot["upload_url"], content=data)
        assert put.status_code == 200
    return [
        {
            "id": s["id"],
            "filename": s["upload_filename"].split("/")[1],
            "uploaded_filename": s["upload_filename"],
        }
        for s in slots
    ]


async def slash(
    account: Account,
    name: str,
    options: list[Frame],
    nonce: str,
    attachments: list[Frame] | None = None,
) -> Any:
    command = await index_command(account.client, account.dm, name)
    body = command_body(account.dm, command, options, nonce, account.ready["session_id"])
    body["data"]["attachments"] = attachments or []
    return await account.client.post("/interactions", json=body)


# -- U1-U4, new grids, upscales ----------------------------------------------------------------


async def test_chain_imagine_u2_vary_strong_zoom_out_u1(account: Account) -> None:
    grid = await imagine(account, "a lighthouse at dusk", "10")

    # U2: an instant "Image #2" type 19 reply with the v6.1 set (capture 25), grid U2 turns blue
    assert (await click(account, grid, "U2", "11")).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    kinds = [f["t"] for f in events]
    assert kinds == [
        "INTERACTION_CREATE",
        "INTERACTION_SUCCESS",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
    ]
    assert events[0]["d"]["nonce"] == events[1]["d"]["nonce"] == "11"
    image2 = events[2]["d"]
    check_reply_to(image2, grid)
    assert image2["nonce"] == "11"
    assert image2["content"] == f"**a lighthouse at dusk** - Image #2 <@{account.user_id}>"
    new_hash = re.search(HASH, button(image2, "Vary (Strong)")["custom_id"])
    assert (
        new_hash is not None
        and new_hash[0] not in grid["components"][0]["components"][0]["custom_id"]
    )
    assert labels(image2) == [
        [
            "Upscale (Subtle)",
            "Upscale (Creative)",
            "Vary (Subtle)",
            "Vary (Strong)",
            "Vary (Region)",
        ],
        ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom"],
        ["⬅️", "➡️", "⬆️", "⬇️"],
        ["Animate (High motion)", "Animate (Low motion)", "❤️", "Web"],
    ]
    h = new_hash[0]
    assert (
        button(image2, "Upscale (Subtle)")["custom_id"]
        == f"MJ::JOB::upsample_v6r1_2x_subtle::1::{h}::SOLO"
    )
    assert button(image2, "Vary (Region)")["custom_id"] == f"MJ::Inpaint::1::{h}::SOLO"
    assert button(image2, "Zoom Out 2x")["custom_id"] == f"MJ::Outpaint::50::1::{h}::SOLO"
    assert button(image2, "Custom Zoom")["custom_id"] == f"MJ::CustomZoom::{h}"
    assert button(image2, "⬅️")["custom_id"] == f"MJ::JOB::pan_left::1::{h}::SOLO"
    assert (
        button(image2, "Animate (High motion)")["custom_id"]
        == f"MJ::JOB::animate_high::1::{h}::SOLO"
    )
    assert button(image2, "❤️")["custom_id"] == f"MJ::BOOKMARK::{h}"
    assert (await picture(account, image2)).size == (512, 512)
    assert button(events[3]["d"], "U2")["style"] == 1 and button(events[3]["d"], "U1")["style"] == 2

    # Vary (Strong): waiting (ephemeral type 19, Cancel Job) -> progress -> result grid
    events = await run_button_job(account, image2, "Vary (Strong)", "12")
    waiting = next(f["d"] for f in events if created(f))
    assert (waiting["type"], waiting["flags"], waiting["nonce"]) == (19, 64, "12")
    assert (
        waiting["content"] == f"**a lighthouse at dusk** - <@{account.user_id}> (Waiting to start)"
    )
    assert button(waiting, "Cancel Job")["style"] == 4
    assert button(parent_update(events, image2), "Vary (Strong)")["style"] == 1
    progress = [
        f["d"] for f in events if f["t"] == "MESSAGE_UPDATE" and f["d"]["id"] == waiting["id"]
    ]
    assert [p["content"] for p in progress] == [
        f"**a lighthouse at dusk** - Variations (Strong) by <@{account.user_id}> ({n}%) (fast)"
        for n in (0, 50)
    ]
    varied = result_of(events)
    check_reply_to(varied, image2)
    assert (
        varied["content"]
        == f"**a lighthouse at dusk** - Variations (Strong) by <@{account.user_id}> (fast)"
    )
    assert labels(varied)[0] == ["U1", "U2", "U3", "U4", "🔄"]
    assert (await picture(account, varied)).size == (1024, 1024)

    # U1 on the variations, then Zoom Out 2x on that image
    assert (await click(account, varied, "U1", "13")).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    image1 = next(f["d"] for f in events if created(f))
    events = await run_button_job(account, image1, "Zoom Out 2x", "14")
    zoomed = result_of(events)
    check_reply_to(zoomed, image1)
    assert (
        zoomed["content"] == f"**a lighthouse at dusk** - Zoom Out by <@{account.user_id}> (fast)"
    )

    # U1 on the zoomed grid
    assert (await click(account, zoomed, "U1", "15")).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    final = next(f["d"] for f in events if created(f))
    assert final["content"] == f"**a lighthouse at dusk** - Image #1 <@{account.user_id}>"
    history = (await account.client.get(f"/channels/{account.dm}/messages")).json()
    assert [m["id"] for m in history[:2]] == [final["id"], zoomed["id"]]
    assert all(m["flags"] == 0 for m in history)  # ephemeral waiting messages are not listed


async def test_upscale_and_redo_buttons(account: Account) -> None:
    grid = await imagine(account, "a red kite --ar 16:9", "20")
    assert (await picture(account, grid)).size == (1024, 576)
    await click(account, grid, "U3", "21")
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    single = next(f["d"] for f in events if created(f))
    assert "Make Square" in labels(single)[1]  # non-square: capture 27
    events = await run_button_job(account, single, "Upscale (Subtle)", "22")
    progress = [
        f["d"]["content"] for f in events if f["t"] == "MESSAGE_UPDATE" and "%" in f["d"]["content"]
    ]
    assert (
        progress[0] == f"**a red kite --ar 16:9** - Upscaling by <@{account.user_id}> (0%) (fast)"
    )
    upscaled = result_of(events)
    check_reply_to(upscaled, single)
    assert (
        upscaled["content"]
        == f"**a red kite --ar 16:9** - Upscaled (Subtle) by <@{account.user_id}> (fast)"
    )
    assert labels(upscaled) == [
        ["Redo Upscale (Subtle)", "Redo Upscale (Creative)"],
        ["Vary (Subtle)", "Vary (Strong)"],
        ["❤️", "Web"],
    ]
    assert (await picture(account, upscaled)).size == (1024, 576)  # 2x the 512x288 pick
    events = await run_button_job(account, single, "Make Square", "23")
    assert (await picture(account, result_of(events))).size == (1024, 1024)


async def test_pan_and_reroll(account: Account) -> None:
    grid = await imagine(account, "rolling hills", "30")
    events = await run_button_job(account, grid, "🔄", "31")
    reroll = result_of(events)
    check_reply_to(reroll, grid)
    assert reroll["content"] == f"**rolling hills** - <@{account.user_id}> (fast)"  # capture 24
    await click(account, grid, "U4", "32")
    single = next(
        f["d"] for f in await until(account, lambda f: f["t"] == "MESSAGE_UPDATE") if created(f)
    )
    events = await run_button_job(account, single, "⬅️", "33")
    panned = result_of(events)
    assert panned["content"] == f"**rolling hills** - Pan Left by <@{account.user_id}> (fast)"
    width, height = (await picture(account, panned)).size
    assert width > height  # the canvas grew sideways


async def test_click_validation(account: Account) -> None:
    grid = await imagine(account, "validation", "40")
    wrong_flags = await click(account, grid, "U1", "41", message_flags=64)
    assert (wrong_flags.status_code, wrong_flags.json()["code"]) == (400, 50035)
    unknown = await click(account, grid, "U1", "42", message_id="1234567890123")
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Unknown Message", "code": 10008},
    )
    foreign = await click(
        account,
        grid,
        "U1",
        "43",
        data={"component_type": 2, "custom_id": "MJ::JOB::upsample::1::x"},
    )
    assert (foreign.status_code, foreign.json()["code"]) == (400, 50035)


async def test_cancel_job_stops_the_job() -> None:
    config = SimulatorConfig(step_delay=0.05, progress_points=(0, 20, 40, 60, 80))
    async with running_simulator(config) as simulator, open_account(simulator) as opened:
        grid = await imagine(opened, "to be cancelled", "50")
        await click(opened, grid, "V1", "51")
        waiting = (await until(opened, created))[-1]["d"]
        assert waiting["flags"] == 64
        assert (await click(opened, waiting, "Cancel Job", "52")).status_code == 204
        events = await until(opened, lambda f: f["t"] == "MESSAGE_DELETE")
        assert events[-1]["d"]["id"] == waiting["id"]
        assert not any(job_done(f) for f in events)


# -- modals ----------------------------------------------------------------------------------


async def test_remix_modal_flow(account: Account) -> None:
    response = await slash(account, "prefer", [{"type": 1, "name": "remix", "options": []}], "60")
    assert response.status_code == 204
    reply = (await until(account, created))[-1]["d"]
    assert reply["content"].startswith("Remix mode turned on! Clicking the variation buttons")
    assert (reply["flags"], reply["nonce"], reply["interaction"]["name"]) == (
        64,
        "60",
        "prefer remix",
    )

    grid = await imagine(account, "a cat in a hat", "61")
    await click(account, grid, "V2", "62")
    events = await until(account, lambda f: f["t"] == "INTERACTION_MODAL_CREATE")
    modal = events[-1]["d"]
    assert modal["nonce"] == "62" and modal["application"]["id"] == MJ_BOT
    job_hash = re.search(HASH, grid["components"][0]["components"][0]["custom_id"])
    assert job_hash is not None
    assert modal["custom_id"] == f"MJ::RemixModal::{job_hash[0]}::2::0"
    [[field]] = [row["components"] for row in modal["components"]]
    assert (field["type"], field["custom_id"], field["value"]) == (
        4,
        "MJ::RemixModal::new_prompt",
        "a cat in a hat",
    )

    submit = {
        "type": 5,
        "application_id": MJ_BOT,
        "channel_id": account.dm,
        "session_id": account.ready["session_id"],
        "nonce": "63",
        "data": {
            "id": modal["id"],
            "custom_id": modal["custom_id"],
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 4, "custom_id": field["custom_id"], "value": "a dog in a hat"}
                    ],
                }
            ],
        },
    }
    assert (await account.client.post("/interactions", json=submit)).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_DELETE")
    assert next(f["d"] for f in events if created(f))["nonce"] == "63"
    remixed = result_of(events)
    assert remixed["content"] == f"**a dog in a hat** - Remix by <@{account.user_id}> (fast)"
    again = await account.client.post("/interactions", json={**submit, "nonce": "64"})
    assert (again.status_code, again.json()["code"]) == (400, 50035)  # a modal is submitted once

    response = await slash(account, "prefer", [{"type": 1, "name": "remix", "options": []}], "65")
    reply = (await until(account, created))[-1]["d"]
    assert reply["content"].startswith("Remix mode turned off!")


async def test_custom_zoom_modal(account: Account) -> None:
    grid = await imagine(account, "a castle", "70")
    await click(account, grid, "U1", "71")
    single = next(
        f["d"] for f in await until(account, lambda f: f["t"] == "MESSAGE_UPDATE") if created(f)
    )
    await click(account, single, "Custom Zoom", "72")
    modal = (await until(account, lambda f: f["t"] == "INTERACTION_MODAL_CREATE"))[-1]["d"]
    assert modal["custom_id"].startswith("MJ::OutpaintCustomZoomModal::")
    field = modal["components"][0]["components"][0]
    assert (field["custom_id"], field["value"]) == (
        "MJ::OutpaintCustomZoomModal::prompt",
        "a castle --zoom 2",
    )
    submit = {
        "type": 5,
        "application_id": MJ_BOT,
        "channel_id": account.dm,
        "session_id": "x" * 32,
        "nonce": "73",
        "data": {
            "id": modal["id"],
            "custom_id": modal["custom_id"],
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 4, "custom_id": field["custom_id"], "value": "a castle --zoom 1.8"}
                    ],
                }
            ],
        },
    }
    assert (await account.client.post("/interactions", json=submit)).status_code == 204
    zoomed = result_of(await until(account, lambda f: f["t"] == "MESSAGE_DELETE"))
    assert zoomed["content"] == f"**a castle --zoom 1.8** - Zoom Out by <@{account.user_id}> (fast)"
    check_reply_to(zoomed, single)


async def test_vary_region_iframe(sim: Simulator, account: Account) -> None:
    grid = await imagine(account, "a bowl of fruit", "80")
    await click(account, grid, "U1", "81")
    single = next(
        f["d"] for f in await until(account, lambda f: f["t"] == "MESSAGE_UPDATE") if created(f)
    )
    await click(account, single, "Vary (Region)", "82")
    iframe = (await until(account, lambda f: f["t"] == "INTERACTION_IFRAME_MODAL_CREATE"))[-1]["d"]
    assert (iframe["title"], iframe["nonce"]) == ("Vary (Region)", "82")
    token = iframe["custom_id"].removeprefix("MJ::iframe::")
    assert iframe["iframe_path"].startswith("/inpaint/")
    mask = base64.b64encode(png_bytes((255, 255, 255), (32, 32))).decode()
    url = f"{sim.base_url}/discordsays/inpaint/api/submit-job"
    body = {
        "customId": token,
        "prompt": "",
        "mask": mask,
        "userId": "0",
        "username": "0",
        "full_prompt": None,
    }
    bad = await account.client.post(url, json={**body, "mask": "not base64!"})
    assert bad.status_code == 400 and bad.json()["success"] is False
    response = await account.client.post(url, json=body)
    assert (response.status_code, response.json()) == (200, {"success": True})
    events = await until(account, lambda f: f["t"] == "MESSAGE_DELETE")
    assert next(f["d"] for f in events if created(f))["nonce"] == "82"
    region = result_of(events)
    assert (
        region["content"]
        == f"**a bowl of fruit** - Variations (Region) by <@{account.user_id}> (fast)"
    )
    unknown = await account.client.post(url, json=body)
    assert unknown.status_code == 400


# -- uploads, blend, describe ----------------------------------------------------------------


async def test_blend_uploaded_images(account: Account) -> None:
    attachments = await upload(account, [png_bytes((255, 0, 0)), png_bytes((0, 0, 255))])
    options = [
        {"type": 11, "name": "image1", "value": "0"},
        {"type": 11, "name": "image2", "value": "1"},
        {"type": 3, "name": "dimensions", "value": "--ar 1:1"},
    ]
    assert (await slash(account, "blend", options, "90", attachments)).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_DELETE")
    grid = result_of(events)
    link = r"<https://s\.mj\.run/\w+>"
    match = re.fullmatch(
        rf"\*\*{link} {link} --ar 1:1\*\* - <@{account.user_id}> \(fast\)", grid["content"]
    )
    assert match is not None
    red, _, blue = (await picture(account, grid)).getpixel((5, 5))  # type: ignore[misc]
    assert red > 40 and blue > 40  # both images show in the mix

    duplicate = await upload(account, [png_bytes((1, 2, 3)), png_bytes((1, 2, 3))])
    await slash(account, "blend", options[:2], "91", duplicate)
    refused = (await until(account, created))[-1]["d"]
    assert refused["embeds"][0]["title"] == "Duplicate images detected"
    missing = await slash(account, "blend", options[:2], "92", [])
    assert (missing.status_code, missing.json()["code"]) == (400, 50035)


async def test_upload_size_is_checked(account: Account) -> None:
    request = {"files": [{"filename": "a.png", "file_size": 10, "id": "0"}]}
    slot = (await account.client.post(f"/channels/{account.dm}/attachments", json=request)).json()
    response = await account.client.put(slot["attachments"][0]["upload_url"], content=b"short")
    assert response.status_code == 400


async def test_describe_upload(account: Account) -> None:
    attachments = await upload(account, [png_bytes((20, 160, 90), (96, 64))])
    options = [{"type": 11, "name": "image", "value": "0"}]
    assert (await slash(account, "describe", options, "100", attachments)).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    first = next(f["d"] for f in events if created(f))
    assert (first["nonce"], first["interaction"]["name"], first["embeds"]) == (
        "100",
        "describe",
        [],
    )
    [embed] = events[-1]["d"]["embeds"]
    lines = embed["description"].split("\n\n")
    assert [line.split(" ", 1)[0] for line in lines] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
    assert all(line.endswith("--ar 3:2") and "emerald" in embed["description"] for line in lines)
    assert (embed["image"]["width"], embed["image"]["height"]) == (96, 64)
    assert embed["image"]["url"].split("?")[0].endswith("/img0.png")
    ids = [b.get("custom_id") for row in events[-1]["d"]["components"] for b in row["components"]]
    assert ids == [
        *(f"MJ::Job::PicReader::{i}" for i in range(1, 5)),
        "MJ::Picread::Retry",
        "MJ::Job::PicReader::all",
    ]
    # the same image always gets the same prompts
    again = await upload(account, [png_bytes((20, 160, 90), (96, 64))])
    await slash(account, "describe", options, "101", again)
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    assert events[-1]["d"]["embeds"][0]["description"] == embed["description"]


# -- seed, settings, guild -------------------------------------------------------------------


async def test_seed_reaction_dm(account: Account) -> None:
    grid = await imagine(account, "seeded stars", "110")
    job_hash = re.search(HASH, grid["attachments"][0]["filename"])
    assert job_hash is not None
    path = f"/channels/{account.dm}/messages/{grid['id']}/reactions/%E2%9C%89%EF%B8%8F/%40me"
    assert (await account.client.put(f"{path}?location=Message&type=0")).status_code == 204
    events = await until(account, created)
    dm = events[-1]["d"]
    assert re.fullmatch(
        rf"\*\*seeded stars\*\*\n\*\*Job ID\*\*: {job_hash[0]}\n\*\*seed\*\* \d+", dm["content"]
    )
    assert len(dm["attachments"]) == 4 and dm["channel_id"] == account.dm
    assert (await account.client.delete(path)).status_code == 204
    unknown = await account.client.put(path.replace(grid["id"], "1234567890"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, 10008)


async def test_info_reflects_the_user(account: Account) -> None:
    assert (await slash(account, "info", [], "120")).status_code == 204
    reply = (await until(account, created))[-1]["d"]
    assert (reply["flags"], reply["nonce"], reply["interaction"]["name"]) == (64, "120", "info")
    [embed] = reply["embeds"]
    assert embed["title"] == f"Your info - {account.ready['user']['username']}"
    assert "**Subscription**: Standard (Active monthly" in embed["description"]
    assert "**Job Mode**: Fast" in embed["description"]
    assert embed["description"].endswith("**Running Jobs**: None")


async def test_guild_discovery_and_jobs(account: Account) -> None:
    [guild] = (await account.client.get("/users/@me/guilds")).json()
    [channel] = (await account.client.get(f"/guilds/{guild['id']}/channels")).json()
    assert channel["type"] == 0 and channel["guild_id"] == guild["id"]
    index = await account.client.get(f"/guilds/{guild['id']}/application-command-index")
    assert index.status_code == 200
    body = command_body(channel["id"], account.imagine, prompt_option("guild fox"), "130")
    body["guild_id"] = guild["id"]
    assert (await account.client.post("/interactions", json=body)).status_code == 204
    events = await until(account, lambda f: f["t"] == "MESSAGE_DELETE")
    grid = result_of(events)
    assert grid["guild_id"] == guild["id"]
    await click(account, grid, "U1", "131")
    single = next(
        f["d"] for f in await until(account, lambda f: f["t"] == "MESSAGE_UPDATE") if created(f)
    )
    assert single["guild_id"] == guild["id"]
    assert single["message_reference"]["guild_id"] == guild["id"]
    path = f"/channels/{channel['id']}/messages/{grid['id']}/reactions/%E2%9C%89%EF%B8%8F/%40me"
    await account.client.put(path)
    dm = (await until(account, created))[-1]["d"]
    assert dm["channel_id"] == account.dm and "guild_id" not in dm  # seed DMs go to the DM


# -- video -----------------------------------------------------------------------------------


async def test_video_imagine_pick_and_extend(account: Account) -> None:
    batch = await imagine(account, "waves on a beach --video --motion high", "140")
    assert (
        batch["content"]
        == f"**waves on a beach --video --motion high** - <@{account.user_id}> (fast)"
    )
    frames = await video_frames(account, batch)
    assert len(frames) == 12 and frames[0].size == (256, 256)
    assert labels(batch)[0] == ["U1", "U2", "U3", "U4", "🔄"]
    assert button(batch, "U3")["custom_id"].startswith("MJ::JOB::video_virtual_upscale::3::")

    await click(account, batch, "U3", "141")
    events = await until(account, lambda f: f["t"] == "MESSAGE_UPDATE")
    video = next(f["d"] for f in events if created(f))
    check_reply_to(video, batch)
    assert (
        video["content"]
        == f"**waves on a beach --video --motion high** - Video #3 <@{account.user_id}>"
    )
    assert (await video_frames(account, video))[0].size == (128, 128)
    assert labels(video)[0][:2] == ["Extend (High motion)", "Extend (Low motion)"]
    assert button(video, "Extend (High motion)")["custom_id"].startswith(
        "MJ::JOB::animate_high_extend::1::"
    )

    events = await run_button_job(account, video, "Extend (High motion)", "142")
    extended = result_of(events)
    check_reply_to(extended, video)
    assert "--video" in extended["content"] and "--motion high" in extended["content"]
    assert len(await video_frames(account, extended)) == 12


async def test_animate_an_image(account: Account) -> None:
    grid = await imagine(account, "a windmill", "150")
    await click(account, grid, "U2", "151")
    single = next(
        f["d"] for f in await until(account, lambda f: f["t"] == "MESSAGE_UPDATE") if created(f)
    )
    events = await run_button_job(account, single, "Animate (Low motion)", "152")
    batch = result_of(events)
    check_reply_to(batch, single)
    assert (
        batch["content"] == f"**a windmill --motion low --video 1** - <@{account.user_id}> (fast)"
    )
    assert len(await video_frames(account, batch)) == 12
