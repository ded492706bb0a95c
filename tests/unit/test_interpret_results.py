"""interpret() on button results (captures 12, 13, 17, 22-28) and on synthetic describe, /info,
settings, seed and video messages shaped after reference §3.4 (no real capture exists)."""

from __future__ import annotations

from typing import Any

import pytest

from mjapi.domain.jobs import Seed
from mjapi.transports.discord.clicks import Family
from mjapi.transports.discord.interpret import Kind, MjMessage, interpret
from tests.conftest import load_capture

MJ = "936929561302675456"
USER = "1047955146509914234"


def read(name: str) -> MjMessage:
    data = load_capture(name)
    if "op" in data:
        data = data["d"]
    result = interpret(data)
    assert result is not None
    return result


def bot_message(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "1300000000000000001",
        "channel_id": "1200000000000000001",
        "author": {"id": MJ, "username": "Midjourney Bot", "bot": True},
        "content": "",
        "timestamp": "2025-01-01T00:00:00.000000+00:00",
        "attachments": [],
        "embeds": [],
        "components": [],
        "flags": 0,
        "type": 0,
    }
    base.update(fields)
    return base


def read_synthetic(**fields: Any) -> MjMessage:
    result = interpret(bot_message(**fields))
    assert result is not None
    return result


# -- captures: (file, kind, action, index, variant, reply_to, flags) ------------------------------

RESULTS = [
    ("12-gw-upscale-waiting-to-start-cancel-button.json", Kind.WAITING, Family.PICK, 1, None,
     "1127633074377728010", 64),
    ("13-gw-button-job-waiting-to-start-reply-probably-zoom.json", Kind.WAITING, None, None, None,
     "1127962442635419768", 64),
    ("17-rest-upscale-image2-v52-with-referenced-grid.json", Kind.DONE, Family.PICK, 2, None,
     None, 0),
    ("22-rest-variations-strong-grid-fast-stealth.json", Kind.DONE, Family.VARIATION, None,
     "Strong", "1295403270721765431", 0),
    ("23-rest-remix-strong-grid-no-referenced-message.json", Kind.DONE, Family.VARIATION, None,
     "Strong", "1295404207297396737", 0),
    ("24-rest-reroll-with-edited-prompt-type19-no-label.json", Kind.DONE, None, None, None,
     "1295407786146136086", 0),
    ("25-rest-upscale-image4-v61-buttons.json", Kind.DONE, Family.PICK, 4, None,
     "1295783832254939177", 0),
    ("26-rest-upscaled-subtle-result-redo-buttons.json", Kind.DONE, Family.UPSCALE, None,
     "Subtle", "1295783910734561433", 0),
    ("27-rest-upscale-image3-v60-make-square.json", Kind.DONE, Family.PICK, 3, None,
     "1295404289036124274", 0),
    ("28-rest-zoom-out-grid-fast-stealth.json", Kind.DONE, Family.ZOOM, None, None,
     "1295404720894251008", 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "kind", "action", "index", "variant", "reply_to", "flags"), RESULTS
)
def test_button_results_are_read_from_the_captures(
    name: str,
    kind: Kind,
    action: Family | None,
    index: int | None,
    variant: str | None,
    reply_to: str | None,
    flags: int,
) -> None:
    msg = read(name)

    assert msg.kind is kind
    assert (msg.action, msg.index, msg.variant) == (action, index, variant)
    if reply_to is not None:
        assert msg.reply_to == reply_to
    assert msg.flags == flags
    assert msg.kind is not Kind.ERROR


def test_17_prompt_ending_in_fast_is_not_a_label() -> None:
    msg = read("17-rest-upscale-image2-v52-with-referenced-grid.json")
    assert msg.reply_to is not None
    assert msg.mode is None


def test_25_v61_labels_drop_the_bookmark_and_web_link() -> None:
    msg = read("25-rest-upscale-image4-v61-buttons.json")
    labels = [b.label for b in msg.buttons]

    assert labels == [
        "Upscale (Subtle)", "Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)",
        "Vary (Region)", "Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "⬅️", "➡️", "⬆️", "⬇️",
    ]  # fmt: skip
    assert msg.job_hash == "14ffad55-e2fb-4e2e-8e4f-49c419b48ea5"
    # Its parent grid carries a red embed for another user; that is not in this message.
    assert msg.embed is None


def test_26_redo_upscale_labels() -> None:
    msg = read("26-rest-upscaled-subtle-result-redo-buttons.json")
    assert [b.label for b in msg.buttons] == [
        "Redo Upscale (Subtle)", "Redo Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)",
    ]  # fmt: skip


def test_27_make_square_is_a_button() -> None:
    msg = read("27-rest-upscale-image3-v60-make-square.json")
    assert ("Make Square", "MJ::Outpaint::100::1::958e3dc1-4f3c-426b-b538-df30985a8dfa::SOLO") in [
        (b.label, b.custom_id) for b in msg.buttons
    ]


# -- describe (§3.4) ----------------------------------------------------------------------------

SUGGESTIONS = (
    "1\ufe0f\u20e3 a red fox in fresh snow, soft light --ar 3:2\n\n"
    "2\ufe0f\u20e3 a fox standing in a winter forest --ar 3:2\n\n"
    "3\ufe0f\u20e3 wildlife photography of a fox --ar 3:2\n\n"
    "4\ufe0f\u20e3 an orange fox on a white field --ar 3:2"
)
DESCRIBE_BUTTONS = [
    {
        "type": 1,
        "components": [
            {"type": 2, "style": 2, "emoji": {"name": f"{i}\ufe0f\u20e3"},
             "custom_id": f"MJ::Job::PicReader::{i}"}
            for i in range(1, 5)
        ] + [{"type": 2, "style": 2, "emoji": {"name": "🔄"}, "custom_id": "MJ::Picread::Retry"}],
    }
]  # fmt: skip


def test_describe_with_the_four_prompts_is_described() -> None:
    embed = {"description": SUGGESTIONS, "image": {"url": "https://cdn/x/fox.png"}}
    msg = read_synthetic(
        embeds=[embed],
        components=DESCRIBE_BUTTONS,
        interaction_metadata={"id": "1", "name": "describe", "type": 2},
    )

    assert msg.kind is Kind.DESCRIBED
    assert msg.embeds == (embed,)
    assert [b.label for b in msg.buttons] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "🔄"]


def test_describe_before_its_prompts_is_not_an_error() -> None:
    msg = read_synthetic(
        embeds=[{"image": {"url": "https://cdn/x/fox.png"}}],
        interaction_metadata={"id": "1", "name": "describe", "type": 2},
    )
    assert msg.kind is Kind.OTHER


# -- settings replies (§3.4) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "Done! Your jobs now do not consume fast-hours, but might take a little longer. "
        "You can always switch back with /fast",
        "Remix mode turned on! You can disable it by running `/prefer remix` again.",
        "Variability mode turned off.",
    ],
)
def test_settings_replies_are_replies(content: str) -> None:
    assert read_synthetic(content=content, flags=64).kind is Kind.REPLY


def test_info_embed_is_a_reply_even_in_red() -> None:
    embed = {
        "title": "Your info - user",
        "description": "**Subscription**: Pro\n**Job Mode**: Fast\n**Fast Time Remaining**: "
        "29.57/30.0 hours (98.58%)",
        "color": 0xFF0000,
    }
    msg = read_synthetic(embeds=[embed], flags=64)
    assert msg.kind is Kind.REPLY


def test_a_reply_to_a_settings_command_is_a_reply_whatever_it_says() -> None:
    msg = read_synthetic(
        content="Turbo mode on.",
        flags=64,
        interaction_metadata={"id": "1", "name": "turbo", "type": 2},
    )
    assert msg.kind is Kind.REPLY


def test_an_error_title_still_fails_a_settings_command() -> None:
    msg = read_synthetic(
        embeds=[{"title": "Subscription required", "description": "...", "color": 0xFF0000}],
        interaction_metadata={"id": "1", "name": "fast", "type": 2},
    )
    assert msg.kind is Kind.ERROR


def test_a_deferred_answer_is_waiting() -> None:
    assert read_synthetic(flags=64 | 128).kind is Kind.WAITING


# -- seed DM (§3.4) ---------------------------------------------------------------------------

HASH = "6243686b-3b8b-4e7d-9c5d-1f1a2b3c4d5e"


def test_seed_dm_reports_the_job_and_the_seed() -> None:
    content = f"**girl**\n**Job ID**: {HASH}\n**seed** 1259687673"
    images = [
        {"id": str(i), "filename": f"user_girl_{HASH}_{i}.png", "url": f"https://cdn/{i}.png"}
        for i in range(4)
    ]
    msg = read_synthetic(content=content, attachments=images)

    assert msg.kind is Kind.SEED
    assert msg.seed == Seed(content=content, value=1259687673)
    assert msg.seed_job_hash == HASH
    assert len(msg.attachments) == 4


# -- video --------------------------------------------------------------------------------------

VHASH = "0f0e0d0c-0b0a-4909-8807-060504030201"


def video_rows() -> list[dict[str, Any]]:
    def button(label: str, custom_id: str) -> dict[str, Any]:
        return {"type": 2, "style": 2, "label": label, "custom_id": custom_id}

    return [
        {"type": 1, "components": [
            button(f"U{i}", f"MJ::JOB::video_virtual_upscale::{i}::{VHASH}") for i in range(1, 5)
        ]},
        {"type": 1, "components": [
            button("Extend (High motion)", f"MJ::JOB::animate_high_extend::1::{VHASH}::SOLO"),
            button("Extend (Low motion)", f"MJ::JOB::animate_low_extend::1::{VHASH}::SOLO"),
        ]},
    ]  # fmt: skip


def test_a_video_batch_is_done_with_its_mp4_and_buttons() -> None:
    mp4 = {
        "id": "9",
        "filename": f"user_fox_{VHASH}.mp4",
        "url": f"https://cdn/user_fox_{VHASH}.mp4",
        "content_type": "video/mp4",
    }
    msg = read_synthetic(
        content=f"**a fox --video 1** - <@{USER}> (fast)",
        attachments=[mp4],
        components=video_rows(),
    )

    assert msg.kind is Kind.DONE
    assert msg.job_hash == VHASH
    assert msg.attachments[0].content_type == "video/mp4"
    assert [b.label for b in msg.buttons] == [
        "U1", "U2", "U3", "U4", "Extend (High motion)", "Extend (Low motion)",
    ]  # fmt: skip
