"""Buttons end to end: every family, the chains of the issue, and the refusals."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image

from tests.e2e.conftest import Stack
from tests.e2e.helpers import GRID_BUTTONS, add_account, children_of, click, imagine, run


async def test_image_chain_with_links(stack: Stack) -> None:
    await add_account(stack)
    grid = await imagine(stack, "a lighthouse on a cliff")
    assert grid["buttons"][: len(GRID_BUTTONS)] == GRID_BUTTONS
    upscale = await click(stack, grid, "U2")
    assert "Image #2" in upscale["content"]
    assert {"Vary (Strong)", "Zoom Out 2x", "Custom Zoom", "⬅️"} <= set(upscale["buttons"])
    strong = await click(stack, upscale, "Vary (Strong)")
    assert "Variations (Strong)" in strong["content"]
    zoomed = await click(stack, strong, "U1")
    wider = await click(stack, zoomed, "Zoom Out 2x")
    assert "Zoom Out" in wider["content"]
    final = await click(stack, wider, "U1")
    assert len(final["attachments"]) == 1
    for parent, child in [(grid, upscale), (upscale, strong), (zoomed, wider), (wider, final)]:
        links = await children_of(stack, parent["jobid"])
        assert any(c["jobid"] == child["jobid"] and c["button"] == child["button"] for c in links)


async def test_video_chain(stack: Stack) -> None:
    await add_account(stack)
    batch = await imagine(stack, "waves at night --video --motion high")
    assert batch["attachments"][0]["content_type"] == "video/mp4"
    single = await click(stack, batch, "U3")
    assert single["attachments"][0]["content_type"] == "video/mp4"
    longer = await click(stack, single, "Extend (High motion)")
    assert longer["attachments"][0]["content_type"] == "video/mp4"
    async with httpx.AsyncClient() as cdn:
        video = await cdn.get(longer["attachments"][0]["url"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"


async def test_animate_an_upscaled_image(stack: Stack) -> None:
    await add_account(stack)
    upscale = await click(stack, await imagine(stack, "a kite"), "U1")
    animated = await click(stack, upscale, "Animate (Low motion)")
    assert animated["attachments"][0]["content_type"] == "video/mp4"


async def test_second_upscale_is_409_and_bad_clicks(stack: Stack) -> None:
    await add_account(stack)
    grid = await imagine(stack, "a fox")
    first = await click(stack, grid, "U2")
    again = await stack.api.post("/v2/jobs/button", json={"jobid": grid["jobid"], "button": "U2"})
    assert again.status_code == 409
    body = again.json()
    assert body["code"] == 409 and body["button"] == "U2" and body["jobid"] == first["jobid"]
    missing = await stack.api.post(
        "/v2/jobs/button", json={"jobid": grid["jobid"], "button": "Zoom Out 2x"}
    )
    assert missing.status_code == 400 and "not found" in missing.json()["error"]
    unknown = await stack.api.post(
        "/v2/jobs/button", json={"jobid": "job:1-user:1-channel:1", "button": "U1"}
    )
    assert unknown.status_code == 404


async def test_reroll_variations_and_pans(stack: Stack) -> None:
    await add_account(stack, max_jobs=3)
    grid = await imagine(stack, "a small boat")
    assert (await click(stack, grid, "🔄"))["buttons"][:4] == ["U1", "U2", "U3", "U4"]
    assert "Variations" in (await click(stack, grid, "V3"))["content"]
    upscale = await click(stack, grid, "U4")
    assert "Pan Left" in (await click(stack, upscale, "⬅️"))["content"]
    assert "Variations (Subtle)" in (await click(stack, upscale, "Vary (Subtle)"))["content"]


async def test_upscalers_and_redo(stack: Stack) -> None:
    await add_account(stack)
    upscale = await click(stack, await imagine(stack, "a clock tower"), "U1")
    subtle = await click(stack, upscale, "Upscale (Subtle)")
    assert "Upscaled (Subtle)" in subtle["content"]
    assert "Redo Upscale (Creative)" in subtle["buttons"]
    assert (
        "Upscaled (Creative)" in (await click(stack, subtle, "Redo Upscale (Creative)"))["content"]
    )


async def test_zoom_out_and_make_square(stack: Stack) -> None:
    await add_account(stack)
    upscale = await click(stack, await imagine(stack, "a wide valley --ar 3:2"), "U3")
    assert "Zoom Out" in (await click(stack, upscale, "Zoom Out 1.5x"))["content"]
    squared = await click(stack, upscale, "Make Square")
    assert squared["attachments"][0]["width"] == squared["attachments"][0]["height"]


async def test_custom_zoom_and_remix(stack: Stack) -> None:
    await add_account(stack)
    upscale = await click(stack, await imagine(stack, "a garden"), "U1")
    bare = await stack.api.post(
        "/v2/jobs/button", json={"jobid": upscale["jobid"], "button": "Custom Zoom"}
    )
    assert bare.status_code == 400
    zoom = await click(stack, upscale, "Custom Zoom", prompt="a garden at dusk --zoom 1.8")
    assert "a garden at dusk" in zoom["content"]
    remix_on = await run(stack, "/v2/jobs/remix", {})
    assert "Remix mode turned on" in remix_on["content"]
    remixed = await click(stack, upscale, "Vary (Strong)", prompt="a garden in snow")
    assert "a garden in snow" in remixed["content"]
    assert "Remix mode turned off" in (await run(stack, "/v2/jobs/remix", {}))["content"]


async def test_vary_region_needs_a_mask(stack: Stack) -> None:
    await add_account(stack)
    upscale = await click(stack, await imagine(stack, "a street"), "U2")
    bare = await stack.api.post(
        "/v2/jobs/button", json={"jobid": upscale["jobid"], "button": "Vary (Region)"}
    )
    assert bare.status_code == 400
    mask = io.BytesIO()
    Image.new("L", (64, 64), 0).save(mask, "PNG")
    region = await click(
        stack,
        upscale,
        "Vary (Region)",
        prompt="a red car",
        mask=base64.b64encode(mask.getvalue()).decode(),
    )
    assert "Variations (Region)" in region["content"] or "Remix (Region)" in region["content"]
