"""Button flows of DiscordTransport against the simulator over real sockets: type-3 clicks,
"Image #N" picks, used-button restyles, remix and Custom Zoom modals, the Vary (Region) iframe."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from mjapi.domain.accounts import Account
from mjapi.domain.events import JobCompleted, JobEvent, JobProgressed, JobStarted
from mjapi.errors import BadRequest
from mjapi.transports.base import ButtonTarget, Setting
from mjapi.transports.discord import DiscordTransport
from tests.integration.test_discord_transport import attached, events_until_done, of, world


def target(done: JobCompleted, label: str) -> ButtonTarget:
    """The button ``label`` of a finished job, as the engine builds it."""
    button = next(b for b in done.buttons if b.label == label)
    return ButtonTarget(done.message_id, done.message_flags, button.custom_id, done.job_hash)


async def run(transport: DiscordTransport, jobid: str) -> tuple[JobCompleted, list[JobEvent]]:
    events = of(jobid, await events_until_done(transport, jobid))
    done = events[-1]
    assert isinstance(done, JobCompleted), events
    return done, events


async def imagine(transport: DiscordTransport, acct: Account, prompt: str) -> JobCompleted:
    await transport.imagine(acct, "grid", prompt)
    done, _ = await run(transport, "grid")
    return done


async def test_imagine_u2_vary_strong_zoom_out_u1_chain() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        grid = await imagine(transport, acct, "a lighthouse in a storm")

        await transport.button(acct, "u2", target(grid, "U2"))
        u2, u2_events = await run(transport, "u2")
        # A pick completes at once on its "Image #2" reply, without progress.
        assert [type(e) for e in u2_events] == [JobCompleted]
        assert "Image #2" in u2.content
        assert u2.job_hash and u2.job_hash != grid.job_hash
        assert {"Vary (Strong)", "Zoom Out 2x"} <= {b.label for b in u2.buttons}
        assert len(u2.attachments) == 1

        await transport.button(acct, "vary", target(u2, "Vary (Strong)"))
        vary, vary_events = await run(transport, "vary")
        assert isinstance(vary_events[0], JobStarted)
        assert any(isinstance(e, JobProgressed) for e in vary_events)
        assert [b.label for b in vary.buttons][:4] == ["U1", "U2", "U3", "U4"]

        await transport.button(acct, "zoom", target(vary, "U3"))
        pick, _ = await run(transport, "zoom")
        await transport.button(acct, "zoom2", target(pick, "Zoom Out 2x"))
        zoom, _ = await run(transport, "zoom2")
        assert zoom.job_hash not in (pick.job_hash, vary.job_hash)

        await transport.button(acct, "u1", target(zoom, "U1"))
        u1, _ = await run(transport, "u1")
        assert "Image #1" in u1.content


async def test_used_button_restyle_emits_nothing_and_two_picks_stay_apart() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        grid = await imagine(transport, acct, "two picks")

        await transport.button(acct, "u1", target(grid, "U1"))
        await transport.button(acct, "u4", target(grid, "U4"))
        events = await events_until_done(transport, "u1", "u4")

        # Exactly one event per pick: the grid's restyling updates produce none.
        picks = [e for e in events if e.jobid in ("u1", "u4")]
        assert sorted((type(e).__name__, e.jobid) for e in picks) == [
            ("JobCompleted", "u1"),
            ("JobCompleted", "u4"),
        ]
        done = {e.jobid: e for e in events if isinstance(e, JobCompleted)}
        assert "Image #1" in done["u1"].content and "Image #4" in done["u4"].content


async def test_a_button_without_a_job_is_a_bad_request() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        grid = await imagine(transport, acct, "no bookmark")
        bookmark = ButtonTarget(grid.message_id, 0, f"MJ::BOOKMARK::{grid.job_hash}", None)

        with pytest.raises(BadRequest):
            await transport.button(acct, "b", bookmark)


async def test_remix_mode_opens_a_modal_that_is_submitted_with_the_prompt() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        await transport.setting(acct, "remix", Setting.REMIX)
        remix, _ = await run(transport, "remix")
        assert "Remix mode turned on" in remix.content or remix.embeds

        grid = await imagine(transport, acct, "a red bicycle")
        await transport.button(acct, "v1", target(grid, "V1"), prompt="a blue bicycle")
        done, _ = await run(transport, "v1")

        assert "a blue bicycle" in done.content


async def test_custom_zoom_always_submits_its_modal() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        grid = await imagine(transport, acct, "a quiet harbour")
        await transport.button(acct, "u1", target(grid, "U1"))
        pick, _ = await run(transport, "u1")

        await transport.button(
            acct, "cz", target(pick, "Custom Zoom"), prompt="a quiet harbour --zoom 1.8"
        )
        done, _ = await run(transport, "cz")

        assert "--zoom 1.8" in done.content
        assert [b.label for b in done.buttons][:4] == ["U1", "U2", "U3", "U4"]


async def test_vary_region_goes_through_the_editor() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        grid = await imagine(transport, acct, "a cat on a sofa")
        await transport.button(acct, "u1", target(grid, "U1"))
        pick, _ = await run(transport, "u1")

        await transport.button(
            acct, "region", target(pick, "Vary (Region)"), prompt="a dog", mask=mask_png()
        )
        done, _ = await run(transport, "region")

        assert [b.label for b in done.buttons][:4] == ["U1", "U2", "U3", "U4"]


def mask_png() -> str:
    image = Image.new("L", (64, 64), 0)
    image.paste(255, (16, 16, 48, 48))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()
