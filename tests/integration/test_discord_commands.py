"""/blend, /describe, the seed DM, settings commands, server-channel identify and video against
the simulator over real sockets."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from mjapi.domain.events import JobCompleted
from mjapi.errors import BadRequest
from mjapi.transports.base import BlendDimensions, ButtonTarget, ServerChannel, Setting, Upload
from tests.integration.test_discord_buttons import imagine, run, target
from tests.integration.test_discord_transport import TOKEN, account, attached, world


def png(color: tuple[int, int, int], name: str) -> Upload:
    out = io.BytesIO()
    Image.new("RGB", (128, 128), color).save(out, format="PNG")
    return Upload(name, "image/png", out.getvalue())


async def test_blend_uploads_and_completes_like_a_grid() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        images = [png((255, 0, 0), "red.png"), png((0, 0, 255), "blue.png")]

        await transport.blend(acct, "blend", images, BlendDimensions.LANDSCAPE)
        done, _ = await run(transport, "blend")

        assert len(done.attachments) == 1
        assert [b.label for b in done.buttons][:4] == ["U1", "U2", "U3", "U4"]


async def test_blend_needs_two_images() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        with pytest.raises(BadRequest):
            await transport.blend(acct, "b", [png((0, 0, 0), "a.png")], BlendDimensions.SQUARE)


async def test_describe_completes_with_four_prompts_in_embeds() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)

        await transport.describe(acct, "describe", png((0, 255, 0), "green.png"))
        done, _ = await run(transport, "describe")

        description = done.embeds[0]["description"]
        assert all(f"{i}\ufe0f\u20e3" in description for i in range(1, 5))
        assert done.attachments == ()
        assert [b.label for b in done.buttons][:4] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]


async def test_seed_of_a_grid_in_the_dm() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        grid = await imagine(transport, acct, "a seed please")

        key = await transport.seed(acct, "seed", target_of(grid))
        done, _ = await run(transport, "seed")

        assert key == f"seed:{grid.job_hash}"
        assert done.seed is not None and done.seed.value >= 0
        assert f"**Job ID**: {grid.job_hash}" in done.seed.content
        assert len(done.attachments) == 4


async def test_seed_for_a_server_channel_account_arrives_in_the_dm() -> None:
    async with world() as (sim, transport):
        identity = await transport.identify(TOKEN)
        user = sim.state.user_for_token(TOKEN)
        assert user is not None
        acct = account(user.guild_channel_id, identity.user_id, server=user.guild_id)
        await transport.attach(acct)
        grid = await imagine(transport, acct, "server seed")

        await transport.seed(acct, "seed", target_of(grid))
        done, _ = await run(transport, "seed")

        assert done.seed is not None
        assert done.message_id  # the DM message


@pytest.mark.parametrize("setting", list(Setting))
async def test_each_setting_completes_with_the_reply(setting: Setting) -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)

        await transport.setting(acct, "s", setting)
        done, _ = await run(transport, "s")

        assert done.content or done.embeds
        assert done.message_flags & 64


async def test_identify_server_channel() -> None:
    async with world() as (sim, transport):
        user = sim.state.user_for_token(TOKEN)
        assert user is not None

        identity = await transport.identify_server_channel(
            TOKEN, ServerChannel(user.guild_id, user.guild_channel_id)
        )
        assert identity.dm_channel_id == user.dm_channel_id

        with pytest.raises(BadRequest, match="not a member"):
            await transport.identify_server_channel(
                TOKEN, ServerChannel("1", user.guild_channel_id)
            )
        with pytest.raises(BadRequest, match="not found"):
            await transport.identify_server_channel(TOKEN, ServerChannel(user.guild_id, "1"))


async def test_video_then_u3_then_extend() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        batch = await imagine(transport, acct, "a wave breaking --video 1 --motion high")
        assert batch.attachments[0].content_type == "video/mp4"

        await transport.button(acct, "u3", target(batch, "U3"))
        u3, _ = await run(transport, "u3")
        assert u3.attachments[0].content_type == "video/mp4"

        await transport.button(acct, "extend", target(u3, "Extend (High motion)"))
        extended, _ = await run(transport, "extend")
        assert extended.attachments[0].content_type == "video/mp4"


def target_of(done: JobCompleted) -> ButtonTarget:
    return ButtonTarget(done.message_id, done.message_flags, "", done.job_hash)
