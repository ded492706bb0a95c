"""interpret(): every real bot message in tests/captures against the README's expected values."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mjapi.domain.jobs import Attachment, Button
from mjapi.transports.discord.interpret import Kind, MjMessage, interpret
from tests.conftest import load_capture

MJ = "936929561302675456"


def message(name: str, index: int | None = None) -> dict[str, Any]:
    """The message object of a capture: a frame's ``d``, or a REST body (element ``index``)."""
    data = load_capture(name)
    if index is not None:
        data = data[index]
    if isinstance(data, dict) and "op" in data:
        data = data["d"]
    assert isinstance(data, dict)
    return data


def read(name: str, index: int | None = None) -> MjMessage:
    result = interpret(message(name, index))
    assert result is not None
    return result


def grid_buttons(job_hash: str) -> list[tuple[str, str]]:
    """U1-U4, 🔄, V1-V4 of a finished imagine grid (captures 02, 10, 18-24, 28)."""
    upscales = [(f"U{i}", f"MJ::JOB::upsample::{i}::{job_hash}") for i in range(1, 5)]
    reroll = [("🔄", f"MJ::JOB::reroll::0::{job_hash}::SOLO")]
    variations = [(f"V{i}", f"MJ::JOB::variation::{i}::{job_hash}") for i in range(1, 5)]
    return upscales + reroll + variations


def labels(msg: MjMessage) -> list[tuple[str, str]]:
    return [(b.label, b.custom_id) for b in msg.buttons]


# -- 01 / 06: "Waiting to start" --------------------------------------------------------------


def test_01_waiting_to_start_with_nonce_in_a_dm() -> None:
    msg = read("01-gw-imagine-waiting-to-start-with-nonce.json")

    assert msg.kind is Kind.WAITING
    assert msg.message_id == "1083788668470304788"
    assert msg.channel_id == "1069126859100524575"
    assert msg.guild_id is None
    assert msg.nonce == "1083788665919897600"
    assert msg.interaction_id == "1083788667513999500"
    assert msg.command == "imagine"
    assert msg.flags == 0
    assert msg.prompt == "glass"
    assert msg.user_id == "439110225975443468"
    assert msg.percent is None and msg.mode is None and msg.job_hash is None
    assert msg.attachments == () and msg.buttons == () and msg.embed is None
    assert msg.reply_to is None
    # Snowflake order nonce < interaction id < message id (README 01).
    assert int(msg.nonce) < int(msg.interaction_id) < int(msg.message_id)


def test_06_waiting_to_start_type20_in_a_guild_without_nonce() -> None:
    msg = read("06-gw-imagine-waiting-to-start-type20.json")

    assert msg.kind is Kind.WAITING
    assert msg.message_id == "1127632832227987536"
    assert msg.channel_id == "1127614059894820930"
    assert msg.guild_id == "1127614059156602984"
    assert msg.nonce is None
    assert msg.interaction_id == "1127632830055333938"
    assert msg.command == "imagine"
    assert msg.prompt == "snow"
    assert msg.user_id == "1127612768489578560"
    assert msg.flags == 0
    assert msg.attachments == () and msg.buttons == ()


# -- 07-09: progress --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "percent", "attachment_id", "size"),
    [
        ("07-gw-imagine-progress-0pct-fast.json", 0, "1127632875299287080", 21226),
        ("08-gw-imagine-progress-31pct-fast.json", 31, "1127632929716183090", 29954),
        ("09-gw-imagine-progress-93pct-fast.json", 93, "1127633043608305684", 46754),
    ],
)
def test_07_09_progress_updates(name: str, percent: int, attachment_id: str, size: int) -> None:
    msg = read(name)

    assert msg.kind is Kind.PROGRESS
    assert msg.message_id == "1127632832227987536"
    assert msg.percent == percent
    assert msg.mode == "fast" and msg.stealth is False
    assert msg.prompt == "snow"
    assert msg.user_id == "1127612768489578560"
    assert msg.interaction_id == "1127632830055333938"
    assert msg.job_hash is None  # plain grid_0.webp carries none
    assert msg.buttons == ()
    [preview] = msg.attachments
    assert preview.id == attachment_id
    assert preview.filename == "grid_0.webp"
    assert preview.content_type == "image/webp"
    assert (preview.width, preview.height, preview.size) == (512, 512, size)
    assert msg.edited_timestamp is not None


# -- 02 / 10: final imagine grids -------------------------------------------------------------


def test_02_final_grid_relaxed_v4() -> None:
    msg = read("02-gw-imagine-final-grid-relaxed-v4.json")
    job_hash = "a7cb1552-f779-4094-9afe-2acf22dae280"

    assert msg.kind is Kind.DONE
    assert msg.message_id == "1083788807800897597"
    assert msg.prompt == "glass"
    assert msg.user_id == "439110225975443468"
    assert msg.mode == "relaxed"
    assert msg.job_hash == job_hash
    assert msg.nonce is None and msg.interaction_id is None
    assert msg.attachments == (
        Attachment(
            id="1083788807381471404",
            url=(
                "https://cdn.discordapp.com/attachments/1069126859100524575/"
                f"1083788807381471404/user_glass_{job_hash}.png"
            ),
            filename=f"user_glass_{job_hash}.png",
            proxy_url=(
                "https://media.discordapp.net/attachments/1069126859100524575/"
                f"1083788807381471404/user_glass_{job_hash}.png"
            ),
            content_type="image/png",
            width=1024,
            height=1024,
            size=1249332,
        ),
    )
    assert labels(msg) == grid_buttons(job_hash)


def test_10_final_grid_fast_v52() -> None:
    msg = read("10-gw-imagine-final-grid-fast.json")
    job_hash = "a03e625f-383b-4592-8121-77f87ded20d4"

    assert msg.kind is Kind.DONE
    assert msg.message_id == "1127633074377728010"
    assert msg.prompt == "snow"
    assert msg.user_id == "1127612768489578560"
    assert msg.mode == "fast"
    assert msg.job_hash == job_hash
    assert msg.nonce is None and msg.interaction_id is None
    [image] = msg.attachments
    assert image.id == "1127633073417224222"
    assert image.filename == f"user_snow_{job_hash}.png"
    assert (image.width, image.height, image.size) == (2048, 2048, 7466456)
    assert image.content_type == "image/png"
    assert labels(msg) == grid_buttons(job_hash)


# -- 03: every frame of the lifecycle ---------------------------------------------------------

LIFECYCLE_MESSAGES = [
    # (frame index, kind, percent, preview size)
    (2, Kind.WAITING, None, None),
    (3, Kind.PROGRESS, 0, 21226),
    (5, Kind.PROGRESS, 15, 28950),
    (6, Kind.PROGRESS, 31, 29954),
    (7, Kind.PROGRESS, 46, 29980),
    (8, Kind.PROGRESS, 62, 31968),
    (9, Kind.PROGRESS, 78, 36768),
    (10, Kind.PROGRESS, 93, 46754),
]


@pytest.mark.parametrize(("index", "kind", "percent", "size"), LIFECYCLE_MESSAGES)
def test_03_lifecycle_progress_message(
    index: int, kind: Kind, percent: int | None, size: int | None
) -> None:
    msg = read("03-gw-sequence-imagine-fast-full-lifecycle.json", index)

    assert msg.message_id == "1127632832227987536"
    assert msg.kind is kind
    assert msg.percent == percent
    assert msg.interaction_id == "1127632830055333938"
    assert msg.nonce is None
    assert msg.prompt == "snow"
    assert msg.job_hash is None
    if size is None:
        assert msg.attachments == ()
    else:
        [preview] = msg.attachments
        assert (preview.filename, preview.width, preview.height) == ("grid_0.webp", 512, 512)
        assert preview.size == size
        assert msg.mode == "fast"


def test_03_lifecycle_final_message() -> None:
    msg = read("03-gw-sequence-imagine-fast-full-lifecycle.json", 12)

    assert msg.kind is Kind.DONE
    assert msg.message_id == "1127633074377728010"
    assert msg.job_hash == "a03e625f-383b-4592-8121-77f87ded20d4"
    assert msg.mode == "fast"


@pytest.mark.parametrize("index", [0, 1, 4, 11, 13, 14])
def test_03_frames_without_a_bot_message_are_not_interpreted(index: int) -> None:
    frame = load_capture("03-gw-sequence-imagine-fast-full-lifecycle.json")[index]
    data = frame["d"]
    # INTERACTION_* carry {id} only, MESSAGE_DELETE {id, channel_id, guild_id}, op 11 d=null.
    assert data is None or interpret(data) is None


# -- 12 / 13: button-started jobs -------------------------------------------------------------


def test_12_upscale_waiting_with_cancel_button() -> None:
    msg = read("12-gw-upscale-waiting-to-start-cancel-button.json")
    new_hash = "7071fece-eb01-4729-8d25-b13a5b705369"

    assert msg.kind is Kind.WAITING
    assert msg.message_id == "1127644209617322004"
    assert msg.prompt == "snow"
    assert msg.user_id == "1127612768489578560"
    assert msg.reply_to == "1127633074377728010"
    assert msg.is_reply
    assert msg.flags == 64
    assert msg.guild_id is None
    assert msg.job_hash == new_hash
    assert labels(msg) == [("Cancel Job", f"MJ::CancelJob::ByJobid::{new_hash}")]


def test_13_button_job_waiting_reply() -> None:
    msg = read("13-gw-button-job-waiting-to-start-reply-probably-zoom.json")

    assert msg.kind is Kind.WAITING
    assert msg.message_id == "1127962511753363537"
    assert msg.prompt == "rain"
    assert msg.user_id == "1127612768489578560"
    assert msg.reply_to == "1127962442635419768"
    assert msg.interaction_id is None and msg.command is None
    assert msg.job_hash == "875fbd3a-ef43-4134-a4e8-cd853565cbfd"
    assert msg.flags == 64


# -- 14: "Job queued" -------------------------------------------------------------------------


def test_14_job_queued_is_not_an_error() -> None:
    msg = read("14-gw-job-queued-embed-2024.json")

    assert msg.kind is Kind.QUEUED
    assert not msg.moderated
    assert msg.message_id == "1317068339507368026"
    assert msg.channel_id == "1291762963174129696"
    assert msg.nonce == "1317068334054768640"
    assert msg.interaction_id == "1317068335745077299"
    assert msg.command == "imagine"
    assert msg.user_id == "138343612806070272"
    assert msg.flags == 64
    assert msg.prompt == (
        "A family setting up a colorful tarp over their picnic table during a gentle rain, the "
        "parents laughing as the children splash in puddles nearby. The forest feels alive with "
        "freshness. Photography, Fujifilm, 18mm lens, F/3.2, --ar 16:9"
    )
    assert msg.embed is not None
    assert msg.embed.title == "Job queued"
    assert msg.embed.color == 16239475
    assert msg.embed.description == (
        "You have reached the maximum allowed number of concurrent jobs. Don't worry, this job "
        "will start as soon as another one finishes!"
    )


# -- REST messages: single images and grids from buttons --------------------------------------

F58 = "f58fa448-1620-4aca-9621-005ef9f3b383"


def test_17_upscale_pick_prompt_ending_in_fast_has_no_mode() -> None:
    msg = read("17-rest-upscale-image2-v52-with-referenced-grid.json")

    assert msg.kind is Kind.DONE
    assert msg.message_id == "1131713979111186482"
    assert msg.user_id == "1122599062454157382"
    assert msg.mode is None  # "(fast)" is inside the bold prompt
    assert msg.prompt is not None
    assert msg.prompt.startswith("high definition photo of a modern powder bathroom")
    assert msg.prompt.endswith("Include some natural desert elements into the design. (fast)")
    assert msg.job_hash == F58
    assert msg.reply_to == "1131713804179362064"
    [image] = msg.attachments
    assert image.id == "1131713978821791776"
    assert image.filename == (
        f"user_high_definition_photo_of_a_modern_powder_bathroom_in_a_{F58}.png"
    )
    assert (image.width, image.height, image.size) == (1024, 1024, 1433631)
    assert image.content_type == "image/png"
    # ❤️ (bookmark) and Web (link) are not actions.
    assert labels(msg) == [
        ("Vary (Strong)", f"MJ::JOB::high_variation::1::{F58}::SOLO"),
        ("Vary (Subtle)", f"MJ::JOB::low_variation::1::{F58}::SOLO"),
        ("Zoom Out 2x", f"MJ::Outpaint::50::1::{F58}::SOLO"),
        ("Zoom Out 1.5x", f"MJ::Outpaint::75::1::{F58}::SOLO"),
        ("Custom Zoom", f"MJ::CustomZoom::{F58}"),
        ("⬅️", f"MJ::JOB::pan_left::1::{F58}::SOLO"),
        ("➡️", f"MJ::JOB::pan_right::1::{F58}::SOLO"),
        ("⬆️", f"MJ::JOB::pan_up::1::{F58}::SOLO"),
        ("⬇️", f"MJ::JOB::pan_down::1::{F58}::SOLO"),
    ]


def test_17_referenced_grid_is_not_the_message() -> None:
    raw = message("17-rest-upscale-image2-v52-with-referenced-grid.json")
    parent = interpret(raw["referenced_message"])
    assert parent is not None
    assert parent.message_id == "1131713804179362064"
    assert parent.job_hash == "3eaa7c0c-9825-4110-9c89-02c4e463a8d0"
    assert parent.mode == "fast"


GRIDS_18 = [
    ("1118549876049973350", "Sea, waves, background image, realistic.",
     "89bd8e05-eda9-4d6e-9b77-1ef4293398ca", "png"),
    ("1118549562475413604", "Little tiger is eating an apple.",
     "d5f6f7e8-8d90-4dff-acfb-bf6ecac51ab2", "png"),
    ("1118549151068717056", "Little Tiger", "f7840a41-ca54-4040-a8bc-e82be0438b76", "png"),
    ("1118539021862322249", "Azure skies and misty rains, yet I am waiting for you.",
     "c334d7e3-79e9-429c-85d2-137fc8ddc7af", "png"),
    ("1118520774299488306", "Coca-Cola. --s 750 --niji 5",
     "715f250c-6ccb-4419-8e16-1b98b4e5e12b", "webp"),
    ("1118517356306649088", "Eat hamburgers, drink cola, be realistic. --s 750 --niji 5",
     "f905e3b8-1136-4977-bd32-d947000e147f", "png"),
    ("1118500494692851793", "Translation, English output only. --s 750 --niji 5",
     "cd439a52-f122-427a-8ca5-7f8a611b4919", "webp"),
    ("1118499789257048158", "Translation, only English output is required. --s 750 --niji 5",
     "9c731dfe-5d3c-452f-a898-ebb127ff1ce7", "png"),
    ("1118499764565196820", "Translation, output in English only --s 750 --niji 5",
     "4e3799ef-507c-4d4c-a019-40a5c5764f2b", "png"),
    ("1118493419493404713", "Delicious barbecue. --s 750 --niji 5",
     "cc1b4f91-56c7-45c9-a202-dba08dd45524", "png"),
]  # fmt: skip


@pytest.mark.parametrize(("index", "expected"), list(enumerate(GRIDS_18)))
def test_18_rest_grids_relaxed_niji(index: int, expected: tuple[str, str, str, str]) -> None:
    message_id, prompt, job_hash, extension = expected
    msg = read("18-rest-channel-messages-grids-relaxed-niji.json", index)

    assert msg.message_id == message_id
    assert msg.prompt == prompt
    assert msg.job_hash == job_hash
    assert msg.kind is Kind.DONE
    assert msg.user_id == "1013250593877397634"
    assert msg.mode == "relaxed"  # also after "(Open on website for full quality)"
    [image] = msg.attachments
    assert image.filename.endswith(f"_{job_hash}.{extension}")
    assert (image.width, image.height) == (2048, 2048)
    assert labels(msg) == grid_buttons(job_hash)


GRIDS_19 = [
    ("1129312174465101875",
     "[2652827195710015] Cute little girl drinking cola in the hot summer. --s 750 --v 5.2",
     "56f6aed4-a822-4799-8da4-f2045b42bae9", "relaxed", None),
    ("1129311241345703966",
     "[7569307775639689] Cute little girl drinking cola in the hot summer. --s 750 --v 5.2",
     "73caa3d3-4736-414d-9c3d-4c392b799813", "relaxed", None),
    ("1129257193477247016", "[3654696650374942] Puppy --s 750 --v 5.2",
     "f0673eb6-49ad-4101-8dd5-1b3851d96f81", "relaxed", None),
    ("1128641343909007401",
     "[6144234458317582] The spaceship and the airplane collided. --s 750 --v 5.2",
     "c0817eea-4c46-4284-a64a-e36158d72cfe", None, "1128599623762714675"),
]  # fmt: skip


@pytest.mark.parametrize(("index", "expected"), list(enumerate(GRIDS_19)))
def test_19_rest_task_id_prefixed_prompts(
    index: int, expected: tuple[str, str, str, str | None, str | None]
) -> None:
    message_id, prompt, job_hash, mode, parent = expected
    msg = read("19-rest-channel-messages-taskid-prefix-v52.json", index)

    assert msg.message_id == message_id
    assert msg.prompt == prompt
    assert msg.job_hash == job_hash
    assert msg.mode == mode
    assert msg.reply_to == parent
    assert msg.kind is Kind.DONE
    assert msg.user_id == "1012268717368946718"


def test_19_upscale_pick_image_4() -> None:
    msg = read("19-rest-channel-messages-taskid-prefix-v52.json", 3)
    [image] = msg.attachments
    assert (image.width, image.height, image.size) == (1024, 1024, 1811877)
    assert "Image #4" in msg.content


DE27 = "de273824-280b-4828-8fc7-f58815945b17"


def test_20_v6_grid_with_signed_url_and_link_button() -> None:
    msg = read("20-rest-grid-v6-fast-with-web-link-button.json")

    assert msg.kind is Kind.DONE
    assert msg.message_id == "1295785882057707561"
    assert msg.prompt == "blue and orange tweed pattern"
    assert msg.user_id == "981209633890922577"
    assert msg.mode == "fast"
    assert msg.job_hash == DE27
    [image] = msg.attachments
    assert image.id == "1295785881369710674"
    assert image.filename == f"user_blue_and_orange_tweed_pattern_{DE27}.png"
    assert (image.width, image.height, image.size) == (2048, 2048, 10080924)
    assert image.url.split("?")[0].endswith(f"_{DE27}.png")
    assert "?ex=670fea24&is=670e98a4&hm=" in image.url
    # The style-5 link button (label "\u200b", no custom_id) is not an action.
    assert labels(msg) == grid_buttons(DE27)


def test_21_image_prompt_keeps_the_link_in_the_prompt() -> None:
    msg = read("21-rest-grid-image-prompt-niji.json")
    job_hash = "a78091d5-c03c-4b8b-ba3f-3d89864e98b7"

    assert (
        msg.prompt == "<https://s.mj.run/itzmNy6wh_4> make me 4 diffrent photo like that --niji 5"
    )
    assert msg.user_id == "937715069922467921"
    assert msg.mode == "fast"
    assert msg.job_hash == job_hash
    [image] = msg.attachments
    assert image.filename == f"user_make_me_4_diffrent_photo_like_that_{job_hash}.png"
    assert (image.width, image.height, image.size) == (2048, 2048, 5792026)
    assert labels(msg) == grid_buttons(job_hash)


STYLE_RAW = "--ar 16:9 --v 6.0 --style raw --s 250"
REPLY_GRIDS = [
    # (capture, prompt, hash, parent, (width, height, size))
    ("22-rest-variations-strong-grid-fast-stealth.json",
     "create a template image that represents a costume designer working behind the camera, "
     f"in an aesthetic and elegant way {STYLE_RAW}",
     "76ea0ff4-f2f7-4a0f-aae6-52e7495f6fdc", "1295403270721765431", (2912, 1632, 8634532)),
    ("23-rest-remix-strong-grid-no-referenced-message.json",
     "a costume designer (woman in her 50's, with short dark hair and big blue eyes) at her "
     f"studio, creating modern looks for film {STYLE_RAW}",
     "6288a0eb-ed4a-4cd9-ad14-83ab1623e229", "1295404207297396737", (2912, 1632, 7533357)),
    ("24-rest-reroll-with-edited-prompt-type19-no-label.json",
     f"minimalist fashion background for keynote presentation {STYLE_RAW}",
     "9c776a8c-eae0-4aa0-98ef-540e4bf013ac", "1295407786146136086", (2912, 1632, 7126551)),
    ("28-rest-zoom-out-grid-fast-stealth.json",
     "a costume designer with short black hair and big blue eyes looking at her costume "
     f"projects at her studio, creating modern looks for film {STYLE_RAW}",
     "bf91a209-c832-47e3-b6de-c1541f9919cb", "1295404720894251008", (2912, 1632, 6118486)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "prompt", "job_hash", "parent", "geometry"), REPLY_GRIDS)
def test_22_24_28_grids_from_buttons_fast_stealth(
    name: str, prompt: str, job_hash: str, parent: str, geometry: tuple[int, int, int]
) -> None:
    msg = read(name)

    assert msg.kind is Kind.DONE
    assert msg.prompt == prompt
    assert msg.user_id == "1047955146509914234"
    assert (msg.mode, msg.stealth) == ("fast", True)
    assert msg.job_hash == job_hash
    assert msg.reply_to == parent
    assert msg.is_reply
    [image] = msg.attachments
    assert (image.width, image.height, image.size) == geometry
    assert labels(msg) == grid_buttons(job_hash)


H14 = "14ffad55-e2fb-4e2e-8e4f-49c419b48ea5"


def test_25_upscale_pick_v61_button_set() -> None:
    msg = read("25-rest-upscale-image4-v61-buttons.json")

    assert msg.kind is Kind.DONE
    assert msg.user_id == "1248365783801794653"
    assert msg.mode is None
    assert msg.prompt is not None and msg.prompt.endswith("make the design perfect")
    assert msg.job_hash == H14
    assert msg.reply_to == "1295783832254939177"
    [image] = msg.attachments
    assert (image.width, image.height, image.size) == (1024, 1024, 1166417)
    assert labels(msg) == [
        ("Upscale (Subtle)", f"MJ::JOB::upsample_v6r1_2x_subtle::1::{H14}::SOLO"),
        ("Upscale (Creative)", f"MJ::JOB::upsample_v6r1_2x_creative::1::{H14}::SOLO"),
        ("Vary (Subtle)", f"MJ::JOB::low_variation::1::{H14}::SOLO"),
        ("Vary (Strong)", f"MJ::JOB::high_variation::1::{H14}::SOLO"),
        ("Vary (Region)", f"MJ::Inpaint::1::{H14}::SOLO"),
        ("Zoom Out 2x", f"MJ::Outpaint::50::1::{H14}::SOLO"),
        ("Zoom Out 1.5x", f"MJ::Outpaint::75::1::{H14}::SOLO"),
        ("Custom Zoom", f"MJ::CustomZoom::{H14}"),
        ("⬅️", f"MJ::JOB::pan_left::1::{H14}::SOLO"),
        ("➡️", f"MJ::JOB::pan_right::1::{H14}::SOLO"),
        ("⬆️", f"MJ::JOB::pan_up::1::{H14}::SOLO"),
        ("⬇️", f"MJ::JOB::pan_down::1::{H14}::SOLO"),
    ]


def test_25_parent_with_red_embed_is_still_a_finished_grid() -> None:
    parent = interpret(message("25-rest-upscale-image4-v61-buttons.json")["referenced_message"])
    assert parent is not None
    assert parent.kind is Kind.DONE
    assert parent.job_hash == "168f01f8-a242-4c4f-8d34-c3b248c8eb7a"


def test_26_upscaled_subtle_result_with_redo_buttons() -> None:
    msg = read("26-rest-upscaled-subtle-result-redo-buttons.json")
    job_hash = "46efb4a1-960f-4471-8f5b-f563c24455fc"

    assert msg.kind is Kind.DONE
    assert msg.prompt is not None and msg.prompt.endswith("make the design perfect --v 6.1")
    assert msg.user_id == "1248365783801794653"
    assert msg.mode == "fast"
    assert msg.job_hash == job_hash
    assert msg.reply_to == "1295783910734561433"
    [image] = msg.attachments
    assert (image.width, image.height, image.size) == (2048, 2048, 4271125)
    assert labels(msg) == [
        ("Redo Upscale (Subtle)", f"MJ::JOB::upsample_v6r1_2x_subtle::1::{job_hash}::SOLO"),
        ("Redo Upscale (Creative)", f"MJ::JOB::upsample_v6r1_2x_creative::1::{job_hash}::SOLO"),
        ("Vary (Subtle)", f"MJ::JOB::low_variation::1::{job_hash}::SOLO"),
        ("Vary (Strong)", f"MJ::JOB::high_variation::1::{job_hash}::SOLO"),
    ]


def test_27_upscale_pick_v60_with_make_square() -> None:
    msg = read("27-rest-upscale-image3-v60-make-square.json")
    job_hash = "958e3dc1-4f3c-426b-b538-df30985a8dfa"

    assert msg.kind is Kind.DONE
    assert msg.mode is None
    assert msg.user_id == "1047955146509914234"
    assert msg.job_hash == job_hash
    assert msg.reply_to == "1295404289036124274"
    [image] = msg.attachments
    assert (image.width, image.height, image.size) == (1456, 816, 1764706)
    pairs = labels(msg)
    assert ("Upscale (Subtle)", f"MJ::JOB::upsample_v6_2x_subtle::1::{job_hash}::SOLO") in pairs
    assert ("Upscale (Creative)", f"MJ::JOB::upsample_v6_2x_creative::1::{job_hash}::SOLO") in pairs
    assert ("Make Square", f"MJ::Outpaint::100::1::{job_hash}::SOLO") in pairs
    assert len(pairs) == 13


def test_29_non_bot_message_is_ignored() -> None:
    assert interpret(message("29-rest-non-bot-user-message.json")) is None


def test_15_reaction_payload_is_not_a_message() -> None:
    assert interpret(load_capture("15-gw-reaction-add-x-on-bot-message-d-only.json")) is None


# -- synthetic shapes the captures do not cover (reference §3, §4) ----------------------------


def bot_message(content: str = "", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "2000",
        "channel_id": "100",
        "author": {"id": MJ, "bot": True},
        "content": content,
        "timestamp": "2025-06-01T00:00:00+00:00",
        "attachments": [],
        "components": [],
        "embeds": [],
    }
    base.update(fields)
    return base


def embed_message(title: str, description: str = "details", color: int = 16711680) -> MjMessage:
    msg = interpret(
        bot_message(
            nonce="1111",
            embeds=[{"title": title, "description": description, "color": color}],
            flags=64,
        )
    )
    assert msg is not None
    return msg


@pytest.mark.parametrize(
    "title",
    ["Banned prompt detected", "Banned prompt", "Banned image prompt"],
)
def test_prompt_refusals_are_moderated_errors(title: str) -> None:
    msg = embed_message(title)
    assert msg.kind is Kind.ERROR
    assert msg.moderated
    assert msg.nonce == "1111"


@pytest.mark.parametrize(
    "title",
    [
        "Queue full",
        "Pending mod message",
        "Credits exhausted",
        "Invalid parameter",
        "Invalid link",
        "Action needed to continue",
    ],
)
def test_account_errors_are_errors_but_not_moderation(title: str) -> None:
    msg = embed_message(title)
    assert msg.kind is Kind.ERROR
    assert not msg.moderated


def test_an_unknown_red_embed_is_an_error() -> None:
    assert embed_message("Something new went wrong").kind is Kind.ERROR


def test_a_yellow_warning_with_an_unknown_title_is_not_an_error() -> None:
    assert embed_message("Heads up", color=16776960).kind is Kind.OTHER


def test_stopped_job_is_an_error() -> None:
    msg = interpret(bot_message("**cat** - <@42> (Stopped)"))
    assert msg is not None and msg.kind is Kind.ERROR


def test_2024_preview_name_carries_the_hash() -> None:
    job_hash = "0b5a6b0e-7f61-4e42-93cf-1c4e0a1d2f3b"
    raw = bot_message(
        "**cat** - <@42> (45%) (turbo, stealth)",
        attachments=[
            {
                "id": "1",
                "filename": f"{job_hash}_grid_0.webp",
                "url": f"https://cdn.discordapp.com/x/{job_hash}_grid_0.webp?ex=1&is=2&hm=3&",
            }
        ],
        components=[
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "style": 4,
                        "label": "Cancel Job",
                        "custom_id": f"MJ::CancelJob::ByJobid::{job_hash}",
                    }
                ],
            }
        ],
    )
    msg = interpret(raw)
    assert msg is not None
    assert msg.kind is Kind.PROGRESS  # a preview plus Cancel Job is not a result
    assert (msg.percent, msg.mode, msg.stealth) == (45, "turbo", True)
    assert msg.job_hash == job_hash

    del raw["components"]
    msg = interpret(raw)
    assert msg is not None and msg.job_hash == job_hash


def test_new_web_link_markdown_and_subtext_do_not_hide_the_mode() -> None:
    content = (
        "**cat** - Variations (Strong) by <@42> "
        "[(Open on website for full quality)](<https://midjourney.com/jobs/x>) (fast)"
        "\n-# Create, explore, and organize on (midjourney.com)"
    )
    msg = interpret(bot_message(content))
    assert msg is not None
    assert (msg.prompt, msg.mode, msg.user_id) == ("cat", "fast", "42")


def test_interaction_metadata_wins_over_the_legacy_interaction() -> None:
    raw = bot_message(
        "**cat** - <@42> (Waiting to start)",
        interaction={"id": "1", "name": "old"},
        interaction_metadata={"id": "2", "name": "imagine"},
    )
    msg = interpret(raw)
    assert msg is not None and (msg.interaction_id, msg.command) == ("2", "imagine")


def test_a_partial_update_without_author_is_ignored() -> None:
    raw = bot_message("**cat** - <@42> (10%) (fast)")
    del raw["author"]
    assert interpret(raw) is None


def test_input_is_not_modified() -> None:
    raw = message("10-gw-imagine-final-grid-fast.json")
    before = copy.deepcopy(raw)
    interpret(raw)
    assert raw == before


def test_buttons_are_domain_buttons() -> None:
    msg = read("10-gw-imagine-final-grid-fast.json")
    assert all(isinstance(b, Button) for b in msg.buttons)
