"""The simulator's load-test options: extra plans, images without captions, shared images."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageChops

from mjapi.clock import FakeClock
from mjapi.simulator import SimulatorConfig
from mjapi.simulator.cdn import Cdn
from mjapi.simulator.commands import CommandIndex
from mjapi.simulator.config import PLAN_CONCURRENCY
from mjapi.simulator.media import JobMedia, MediaCache, Rendered, make_media, variant_seed
from mjapi.simulator.render import encode_png, render_cells, render_grid, render_preview
from mjapi.simulator.state import SimulatorState

TOKEN = "token-alpha-0123456789"
HASH = "a03e625f-383b-4592-8121-77f87ded20d4"


# -- plans ------------------------------------------------------------------------------------


def test_an_extra_plan_can_be_configured_and_chosen() -> None:
    config = SimulatorConfig(plan_concurrency={"Bench": 15}, default_plan="Bench")
    assert config.concurrency("Bench") == 15
    assert config.known_plans() == {"Basic", "Standard", "Pro", "Mega", "Bench"}
    assert config.concurrency(config.plan_for(TOKEN)) == 15


def test_a_midjourney_plan_can_be_given_another_concurrency() -> None:
    config = SimulatorConfig(plan_concurrency={"Standard": 5})
    assert (config.concurrency("Standard"), config.concurrency("Pro")) == (5, 12)


def test_plans_stay_unknown_unless_configured() -> None:
    with pytest.raises(ValueError, match="unknown plan"):
        SimulatorConfig(default_plan="Bench")
    with pytest.raises(ValueError, match="unknown plan"):
        SimulatorConfig(plan_concurrency={"Bench": 15}, plans={TOKEN: "Ultra"})


@pytest.mark.parametrize(
    ("plan_concurrency", "complaint"),
    [
        ({"Bench": 0}, r"plan_concurrency\['Bench'\] must be an integer >= 1"),
        ({"Bench": -3}, "must be an integer >= 1"),
        ({"Bench": 2.5}, "must be an integer >= 1"),
        ({"Bench": True}, "must be an integer >= 1"),
        ({"": 4}, "non-empty string"),
    ],
)
def test_bad_plan_concurrency_is_refused(plan_concurrency: Any, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        SimulatorConfig(plan_concurrency=plan_concurrency)


def test_the_midjourney_plans_cannot_be_patched() -> None:
    table: Any = PLAN_CONCURRENCY
    with pytest.raises(TypeError):
        table["Bench"] = 15


def test_a_configured_plan_can_be_set_at_run_time() -> None:
    config = SimulatorConfig(plan_concurrency={"Bench": 15})
    state = SimulatorState(config, CommandIndex({}), Cdn(FakeClock(), 10))
    user = state.user_for_token(TOKEN)
    assert user is not None and user.plan == "Standard"
    changed = state.set_plan(TOKEN, "Bench")
    assert changed is not None and changed.plan == "Bench"
    with pytest.raises(ValueError, match="unknown plan 'Ultra'"):
        state.set_plan(TOKEN, "Ultra")


# -- captions ---------------------------------------------------------------------------------


def test_without_captions_the_pictures_lose_only_their_text() -> None:
    with_text = render_cells("a castle on a hill", HASH, (128, 128), 4)
    plain = render_cells("a castle on a hill", HASH, (128, 128), 4, captions=False)
    for captioned, bare in zip(with_text, plain, strict=True):
        assert bare.size == captioned.size == (128, 128)
        # they differ from the tile number (top left) down to the prompt (lower part) only
        box = ImageChops.difference(captioned, bare).getbbox()
        assert box is not None and box[1] < 16 and box[0] < 16


def test_a_grid_without_captions_is_a_valid_png_and_webp_of_the_right_sizes() -> None:
    grid = render_grid("a cat", HASH, 256, (16, 9), captions=False)
    png = Image.open(io.BytesIO(encode_png(grid)))
    assert (png.format, png.size) == ("PNG", (256, 144))
    preview = Image.open(io.BytesIO(render_preview(grid, 62, 64)))
    assert (preview.format, preview.size) == ("WEBP", (64, 36))


def test_captions_are_the_default() -> None:
    config = SimulatorConfig()
    assert config.captions and config.image_variants == 0


# -- image variants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"image_variants": 4}, "needs captions=False"),
        ({"image_variants": -1, "captions": False}, "must not be negative"),
        ({"image_variants": True, "captions": False}, "must be an integer"),
        ({"image_variants": 2.0, "captions": False}, "must be an integer"),
    ],
)
def test_bad_image_variants_are_refused(fields: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        SimulatorConfig(**fields)


def test_variant_seeds_are_stable_and_within_the_count() -> None:
    hashes = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(200)]
    seeds = {variant_seed(h, 3) for h in hashes}
    assert seeds == {"variant 0", "variant 1", "variant 2"}
    assert variant_seed(HASH, 64) == variant_seed(HASH, 64)
    assert variant_seed(HASH, 1) == "variant 0"


def _rendered() -> Rendered:
    cells = render_cells("x", HASH, (32, 32), 4, captions=False)
    grid = render_grid("x", HASH, 64, captions=False)
    return Rendered(cells, grid)


def test_media_hold_a_preview_per_point_and_the_result_when_asked() -> None:
    media = make_media(_rendered, (0, 50, 93), 16, with_result=True)
    assert sorted(media.previews) == [0, 50, 93]
    assert media.previews[50] == render_preview(media.rendered.picture, 50, 16)
    assert media.result is not None
    assert (media.result.extension, media.result.content_type) == ("png", "image/png")
    assert media.result.data == encode_png(media.rendered.picture)
    assert make_media(_rendered, (0,), 16, with_result=False).result is None


def test_a_video_result_is_its_mp4() -> None:
    def video() -> Rendered:
        return Rendered(_rendered().cells, _rendered().picture, b"mp4 bytes")

    media = make_media(video, (), 16, with_result=True)
    assert media.result is not None and media.result.data == b"mp4 bytes"
    assert (media.result.extension, media.result.content_type) == ("mp4", "video/mp4")


def test_the_media_cache_forgets_the_least_recently_used() -> None:
    cache = MediaCache(2)
    entries = [JobMedia(_rendered(), {}, None) for _ in range(3)]
    cache.put("a", entries[0])
    cache.put("b", entries[1])
    assert cache.get("a") is entries[0]  # "b" is now the least recently used
    cache.put("c", entries[2])
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (entries[0], None, entries[2])
    assert len(cache) == 2
    with pytest.raises(ValueError):
        MediaCache(0)
