"""Pure parts behind the simulator's buttons: custom_id parsing, prompt parameters, used styles."""

from __future__ import annotations

import pytest

from mjapi.simulator.components import grid, mark_used, single_image
from mjapi.simulator.custom_ids import Kind, parse
from mjapi.simulator.prompts import aspect_ratio, batch_size, echo_prompt, with_parameter

H = "14ffad55-e2fb-4e2e-8e4f-49c419b48ea5"


@pytest.mark.parametrize(
    ("custom_id", "kind", "index", "detail"),
    [
        (f"MJ::JOB::upsample::4::{H}", Kind.PICK, 4, ""),
        (f"MJ::JOB::variation::2::{H}", Kind.VARIATION, 2, ""),
        (f"MJ::JOB::reroll::0::{H}::SOLO", Kind.REROLL, 1, ""),
        (f"MJ::JOB::high_variation::1::{H}::SOLO", Kind.VARY, 1, "high"),
        (f"MJ::JOB::pan_up::1::{H}::SOLO", Kind.PAN, 1, "up"),
        (f"MJ::Outpaint::75::1::{H}::SOLO", Kind.ZOOM, 1, "75"),
        (f"MJ::JOB::upsample_v6r1_2x_subtle::1::{H}::SOLO", Kind.UPSCALE, 1, "v6r1_2x_subtle"),
        (f"MJ::JOB::upsample_v5_4x::1::{H}::SOLO", Kind.UPSCALE, 1, "v5_4x"),
        (f"MJ::JOB::animate_low_extend::1::{H}::SOLO", Kind.EXTEND, 1, "low"),
        (f"MJ::JOB::video_virtual_upscale::3::{H}", Kind.VIDEO_PICK, 3, ""),
        (f"MJ::CancelJob::ByJobid::{H}", Kind.CANCEL, 1, ""),
        ("MJ::Job::PicReader::2", Kind.DESCRIBE_PICK, 2, ""),
    ],
)
def test_custom_ids_of_the_captures_parse(
    custom_id: str, kind: Kind, index: int, detail: str
) -> None:
    action = parse(custom_id)
    assert action is not None
    assert (action.kind, action.index, action.detail) == (kind, index, detail)


@pytest.mark.parametrize("custom_id", ["MJ::Settings::RemixMode", "MJ::JOB::upsample::9::x", ""])
def test_unplayed_custom_ids_are_none(custom_id: str) -> None:
    assert parse(custom_id) is None


def test_every_button_the_bot_shows_is_played() -> None:
    rows = [*grid(H, True), *single_image(H, False, True)]
    ids = [b["custom_id"] for row in rows for b in row["components"] if "custom_id" in b]
    assert all(parse(custom_id) is not None for custom_id in ids)


def test_mark_used_turns_only_the_clicked_button_primary() -> None:
    marked = mark_used(grid(H, False), f"MJ::JOB::upsample::2::{H}")
    styles = [b["style"] for b in marked[0]["components"]]
    assert styles == [2, 1, 2, 2, 2]


def test_prompt_parameters() -> None:
    assert aspect_ratio("a --ar 16:9 --v 6") == (16, 9)
    assert aspect_ratio("a --ar 99:1") == (1, 1)
    assert batch_size("a --video --bs 2") == 2 and batch_size("a --video") == 4
    assert with_parameter("a --motion low", "motion", "high") == "a --motion high"
    echoed = echo_prompt("x https://e.com/a.png", shorten_links=True, suffix=" --v 7")
    assert echo_prompt(echoed, shorten_links=True, suffix=" --v 7") == echoed
