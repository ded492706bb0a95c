"""inspect_payload() on every file in tests/captures (the README's expected values), on the
input shapes the CLI accepts (JSON lines, wrappers, multipart) and on synthetic payloads that no
capture has."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mjapi.inspect import InspectError, inspect_payload, parse_document, render
from tests.conftest import CAPTURES, load_capture
from tests.unit.test_interpret import GRIDS_18  # capture 18, newest first

MJ = "936929561302675456"
CAPTURE_FILES = sorted(p.name for p in CAPTURES.glob("*.json"))


def matches(actual: Any, expected: Any, where: str = "result") -> None:
    """``expected`` is a subset of ``actual``: dict keys not named are free, lists are exact,
    a callable is a predicate on the value."""
    if callable(expected):
        assert expected(actual), f"{where}: {actual!r} fails the check"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}: no {key!r} in {sorted(actual)}"
            matches(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items, not {len(expected)}"
        for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
            matches(got, want, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def inspect_capture(name: str) -> list[dict[str, Any]]:
    return inspect_payload(parse_document((CAPTURES / name).read_text(encoding="utf-8")))


# -- expected values, from the captures README ------------------------------------------------


def grid_buttons(job_hash: str) -> list[dict[str, str]]:
    """U1-U4, 🔄, V1-V4 of a finished grid (the link button is no job button)."""
    ups = [(f"U{i}", f"MJ::JOB::upsample::{i}::{job_hash}") for i in range(1, 5)]
    reroll = [("🔄", f"MJ::JOB::reroll::0::{job_hash}::SOLO")]
    variations = [(f"V{i}", f"MJ::JOB::variation::{i}::{job_hash}") for i in range(1, 5)]
    return [{"label": label, "custom_id": cid} for label, cid in ups + reroll + variations]


def solo_buttons(job_hash: str, *labels_and_ids: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {"label": label, "custom_id": cid.replace("{h}", job_hash)} for label, cid in labels_and_ids
    ]


PANS = tuple((arrow, f"MJ::JOB::pan_{way}::1::{{h}}::SOLO") for arrow, way in
             [("⬅️", "left"), ("➡️", "right"), ("⬆️", "up"), ("⬇️", "down")])  # fmt: skip
ZOOMS = (
    ("Zoom Out 2x", "MJ::Outpaint::50::1::{h}::SOLO"),
    ("Zoom Out 1.5x", "MJ::Outpaint::75::1::{h}::SOLO"),
    ("Custom Zoom", "MJ::CustomZoom::{h}"),
)
VARY = (
    ("Vary (Subtle)", "MJ::JOB::low_variation::1::{h}::SOLO"),
    ("Vary (Strong)", "MJ::JOB::high_variation::1::{h}::SOLO"),
)


def done(
    message_id: str, prompt: Any, user: str, mode: str | None, job_hash: str, **more: Any
) -> dict[str, Any]:
    """A finished job message with its hash and mode."""
    return {
        "kind": "done",
        "status": "completed",
        "progress": None,
        "mode": mode,
        "prompt": prompt,
        "user_id": user,
        "job_hash": job_hash,
        "ids": {"message_id": message_id},
        "error": None,
        **more,
    }


def known(value: Any) -> bool:
    """Any size: the README does not list every file's."""
    return isinstance(value, int) and value > 0


def image(width: int, height: int, size: Any, **more: Any) -> dict[str, Any]:
    return {"width": width, "height": height, "size": size, **more}


SNOW_USER = "1127612768489578560"
SNOW_HASH = "a03e625f-383b-4592-8121-77f87ded20d4"
SNOW_IDS = {
    "message_id": "1127632832227987536",
    "channel_id": "1127614059894820930",
    "guild_id": "1127614059156602984",
    "nonce": None,
    "interaction_id": "1127632830055333938",
    "reply_to": None,
}


def snow_waiting(seq: int) -> dict[str, Any]:
    return {
        "event": "MESSAGE_CREATE",
        "seq": seq,
        "kind": "waiting",
        "status": "started",
        "progress": None,
        "mode": None,
        "prompt": "snow",
        "user_id": SNOW_USER,
        "command": "imagine",
        "job_hash": None,
        "ids": SNOW_IDS,
        "flags": 0,
        "buttons": [],
        "attachments": [],
        "embed": None,
        "error": None,
    }


def snow_progress(
    seq: int, percent: int, size: int, attachment_id: str | None = None
) -> dict[str, Any]:
    preview = image(512, 512, size, filename="grid_0.webp", content_type="image/webp")
    if attachment_id:
        preview["id"] = attachment_id
    return {
        "event": "MESSAGE_UPDATE",
        "seq": seq,
        "kind": "progress",
        "status": "progress",
        "progress": percent,
        "mode": "fast",
        "prompt": "snow",
        "user_id": SNOW_USER,
        "job_hash": None,  # plain grid_0.webp carries no hash
        "ids": SNOW_IDS,
        "buttons": [],
        "attachments": [preview],
    }


SNOW_FINAL = {
    "event": "MESSAGE_CREATE",
    "seq": 50,
    **done("1127633074377728010", "snow", SNOW_USER, "fast", SNOW_HASH),
    "attachments": [
        image(
            2048,
            2048,
            7466456,
            id="1127633073417224222",
            filename=f"user_snow_{SNOW_HASH}.png",
            content_type="image/png",
        )
    ],
    "buttons": grid_buttons(SNOW_HASH),
}
SNOW_DELETE = {
    "event": "MESSAGE_DELETE",
    "seq": 51,
    "kind": "message_delete",
    "status": None,
    "ids": {
        "message_id": "1127632832227987536",
        "channel_id": "1127614059894820930",
        "guild_id": "1127614059156602984",
    },
    "note": lambda note: "not a job failure" in note,
}
HEARTBEAT_ACK = {"event": "HEARTBEAT_ACK", "seq": None, "kind": "heartbeat_ack", "status": None}
SNOW_INTERACTION = {"interaction_id": "1127632830055333938", "nonce": None}
SNOW_PROGRESS = [
    (43, 0, 21226),
    (44, 15, 28950),
    (45, 31, 29954),
    (46, 46, 29980),
    (47, 62, 31968),
    (48, 78, 36768),
    (49, 93, 46754),
]

GLASS_USER = "439110225975443468"
GLASS_HASH = "a7cb1552-f779-4094-9afe-2acf22dae280"
COSTUME_USER = "1047955146509914234"
COSTUME_PROMPT = (
    "a costume designer with short black hair and big blue eyes looking at her costume projects"
    " at her studio, creating modern looks for film --ar 16:9 --v 6.0 --style raw --s 250"
)
SOCCER_USER = "1248365783801794653"
SOCCER_PROMPT = (
    "I want a soccer design green, yellow and red, with a soccer ball on the left side or in the"
    " upper left corner, I want everything with red, greend and a little yellow, be creative,"
    " dynamic and make the design perfect"
)
QUEUED_PROMPT = (
    "A family setting up a colorful tarp over their picnic table during a gentle rain, the parents"
    " laughing as the children splash in puddles nearby. The forest feels alive with freshness."
    " Photography, Fujifilm, 18mm lens, F/3.2, --ar 16:9"
)
NIJI_USER = "1013250593877397634"
TASK_USER = "1012268717368946718"
GIRL = "Cute little girl drinking cola in the hot summer. --s 750 --v 5.2"
UPSCALE_19 = "c0817eea-4c46-4284-a64a-e36158d72cfe"


def grid_18(message_id: str, prompt: str, job_hash: str, ext: str) -> dict[str, Any]:
    return done(
        message_id,
        prompt,
        NIJI_USER,
        "relaxed",
        job_hash,
        attachments=[image(2048, 2048, known, filename=lambda f: f.endswith(f"{job_hash}.{ext}"))],
        buttons=grid_buttons(job_hash),
    )


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "01-gw-imagine-waiting-to-start-with-nonce.json": [
        {
            "event": "MESSAGE_CREATE",
            "seq": 8,
            "kind": "waiting",
            "status": "started",
            "progress": None,
            "mode": None,
            "prompt": "glass",
            "user_id": GLASS_USER,
            "command": "imagine",
            "job_hash": None,
            "ids": {
                "message_id": "1083788668470304788",
                "channel_id": "1069126859100524575",
                "guild_id": None,
                "nonce": "1083788665919897600",
                "interaction_id": "1083788667513999500",
                "reply_to": None,
            },
            "flags": 0,
            "buttons": [],
            "attachments": [],
            "embed": None,
            "error": None,
        }
    ],
    "02-gw-imagine-final-grid-relaxed-v4.json": [
        {
            "event": "MESSAGE_CREATE",
            "seq": 14,
            **done("1083788807800897597", "glass", GLASS_USER, "relaxed", GLASS_HASH),
            "ids": {"message_id": "1083788807800897597", "nonce": None, "interaction_id": None},
            "attachments": [
                {
                    "id": "1083788807381471404",
                    "filename": f"user_glass_{GLASS_HASH}.png",
                    "content_type": "image/png",
                    "width": 1024,
                    "height": 1024,
                    "size": 1249332,
                    "url": "https://cdn.discordapp.com/attachments/1069126859100524575/"
                    f"1083788807381471404/user_glass_{GLASS_HASH}.png",
                }
            ],
            "buttons": grid_buttons(GLASS_HASH),
        }
    ],
    "03-gw-sequence-imagine-fast-full-lifecycle.json": [
        {
            "event": "INTERACTION_CREATE",
            "seq": 40,
            "kind": "interaction_create",
            "ids": SNOW_INTERACTION,
        },
        {
            "event": "INTERACTION_SUCCESS",
            "seq": 41,
            "kind": "interaction_success",
            "ids": SNOW_INTERACTION,
        },
        snow_waiting(42),
        snow_progress(*SNOW_PROGRESS[0]),
        HEARTBEAT_ACK,
        *(snow_progress(*step) for step in SNOW_PROGRESS[1:]),
        HEARTBEAT_ACK,
        SNOW_FINAL,
        SNOW_DELETE,
        HEARTBEAT_ACK,
    ],
    "04-gw-interaction-create.json": [
        {
            "event": "INTERACTION_CREATE",
            "seq": 40,
            "kind": "interaction_create",
            "status": None,
            "ids": SNOW_INTERACTION,
        },
    ],
    "05-gw-interaction-success.json": [
        {
            "event": "INTERACTION_SUCCESS",
            "seq": 41,
            "kind": "interaction_success",
            "status": None,
            "ids": SNOW_INTERACTION,
        },
    ],
    "06-gw-imagine-waiting-to-start-type20.json": [snow_waiting(42)],
    "07-gw-imagine-progress-0pct-fast.json": [snow_progress(43, 0, 21226, "1127632875299287080")],
    "08-gw-imagine-progress-31pct-fast.json": [snow_progress(45, 31, 29954, "1127632929716183090")],
    "09-gw-imagine-progress-93pct-fast.json": [snow_progress(49, 93, 46754, "1127633043608305684")],
    "10-gw-imagine-final-grid-fast.json": [SNOW_FINAL],
    "11-gw-message-delete-progress-message.json": [SNOW_DELETE],
    "12-gw-upscale-waiting-to-start-cancel-button.json": [
        {
            "event": "MESSAGE_CREATE",
            "seq": 14,
            "kind": "waiting",
            "status": "started",
            "prompt": "snow",
            "user_id": SNOW_USER,
            "action": "pick",
            "index": 1,
            "job_hash": "7071fece-eb01-4729-8d25-b13a5b705369",
            "ids": {
                "message_id": "1127644209617322004",
                "guild_id": None,
                "reply_to": "1127633074377728010",
            },
            "flags": 64,
            "buttons": [
                {
                    "label": "Cancel Job",
                    "custom_id": "MJ::CancelJob::ByJobid::7071fece-eb01-4729-8d25-b13a5b705369",
                }
            ],
        }
    ],
    "13-gw-button-job-waiting-to-start-reply-probably-zoom.json": [
        {
            "event": "MESSAGE_CREATE",
            "seq": 26,
            "kind": "waiting",
            "status": "started",
            "prompt": "rain",
            "user_id": SNOW_USER,
            "command": None,  # no interaction: a button job, not a new /imagine
            "action": None,  # the payload does not say it is a zoom
            "job_hash": "875fbd3a-ef43-4134-a4e8-cd853565cbfd",
            "ids": {"message_id": "1127962511753363537", "reply_to": "1127962442635419768"},
            "flags": 64,
            "buttons": [
                {
                    "label": "Cancel Job",
                    "custom_id": "MJ::CancelJob::ByJobid::875fbd3a-ef43-4134-a4e8-cd853565cbfd",
                }
            ],
        }
    ],
    "14-gw-job-queued-embed-2024.json": [
        {
            "event": "MESSAGE_CREATE",
            "seq": 39,
            "kind": "queued",
            "status": None,  # not a failure: the job waits for its start message
            "prompt": QUEUED_PROMPT,
            "user_id": "138343612806070272",
            "command": "imagine",
            "ids": {
                "message_id": "1317068339507368026",
                "channel_id": "1291762963174129696",
                "nonce": "1317068334054768640",
                "interaction_id": "1317068335745077299",
            },
            "flags": 64,
            "embed": {
                "title": "Job queued",
                "color": 16239475,
                "description": "You have reached the maximum allowed number of concurrent jobs."
                " Don't worry, this job will start as soon as another one finishes!",
                "footer": f"/imagine {QUEUED_PROMPT}",
            },
            "error": None,
            "note": lambda note: note.startswith("not an error"),
        }
    ],
    "15-gw-reaction-add-x-on-bot-message-d-only.json": [
        {
            "kind": "reaction",
            "status": None,
            "emoji": "❌",
            "on_midjourney_message": True,
            "ids": {
                "user_id": "138343612806070272",
                "message_id": "1317073046384672820",
                "message_author_id": MJ,
                "channel_id": "1291762963174129696",
            },
        }
    ],
    "16-gw-message-delete-after-x-reaction.json": [
        {
            "event": "MESSAGE_DELETE",
            "seq": 26,
            "kind": "message_delete",
            "ids": {
                "message_id": "1317073046384672820",
                "channel_id": "1291762963174129696",
                "guild_id": None,
            },
        }
    ],
    "17-rest-upscale-image2-v52-with-referenced-grid.json": [
        done(
            "1131713979111186482",
            # the trailing "(fast)" is inside the bold prompt: prompt text, not the mode
            lambda p: (
                p.startswith("high definition photo of a modern powder bathroom")
                and p.endswith("Include some natural desert elements into the design. (fast)")
            ),
            "1122599062454157382",
            None,
            "f58fa448-1620-4aca-9621-005ef9f3b383",
            action="pick",
            index=2,
            attachments=[
                image(
                    1024,
                    1024,
                    1433631,
                    id="1131713978821791776",
                    content_type="image/png",
                    filename="user_high_definition_photo_of_a_modern_powder_bathroom_in_a_"
                    "f58fa448-1620-4aca-9621-005ef9f3b383.png",
                )
            ],
            buttons=solo_buttons(
                "f58fa448-1620-4aca-9621-005ef9f3b383", *reversed(VARY), *ZOOMS, *PANS
            ),
            referenced_message={
                "message_id": "1131713804179362064",
                "job_hash": "3eaa7c0c-9825-4110-9c89-02c4e463a8d0",
                "action": "variation",
                "mode": "fast",
            },
        )
    ],
    "18-rest-channel-messages-grids-relaxed-niji.json": [grid_18(*g) for g in GRIDS_18],
    "19-rest-channel-messages-taskid-prefix-v52.json": [
        done(
            "1129312174465101875",
            f"[2652827195710015] {GIRL}",
            TASK_USER,
            "relaxed",
            "56f6aed4-a822-4799-8da4-f2045b42bae9",
            attachments=[image(2048, 2048, known)],
        ),
        done(
            "1129311241345703966",
            f"[7569307775639689] {GIRL}",
            TASK_USER,
            "relaxed",
            "73caa3d3-4736-414d-9c3d-4c392b799813",
            attachments=[image(2048, 2048, known)],
        ),
        done(
            "1129257193477247016",
            "[3654696650374942] Puppy --s 750 --v 5.2",
            TASK_USER,
            "relaxed",
            "f0673eb6-49ad-4101-8dd5-1b3851d96f81",
            attachments=[image(2048, 2048, known)],
        ),
        done(
            "1128641343909007401",
            lambda p: p.startswith("[6144234458317582] "),
            TASK_USER,
            None,
            UPSCALE_19,
            action="pick",
            index=4,
            attachments=[image(1024, 1024, 1811877)],
            referenced_message={
                "message_id": "1128599623762714675",
                "job_hash": "c09a2935-432a-464c-bb31-6250a418a3c1",
            },
        ),
    ],
    "20-rest-grid-v6-fast-with-web-link-button.json": [
        done(
            "1295785882057707561",
            "blue and orange tweed pattern",
            "981209633890922577",
            "fast",
            "de273824-280b-4828-8fc7-f58815945b17",
            attachments=[
                image(
                    2048,
                    2048,
                    10080924,
                    id="1295785881369710674",
                    filename="user_blue_and_orange_tweed_pattern_"
                    "de273824-280b-4828-8fc7-f58815945b17.png",
                    url=lambda u: ".png?ex=670fea24&is=670e98a4&hm=1ed52f9a" in u,
                )
            ],
            buttons=grid_buttons("de273824-280b-4828-8fc7-f58815945b17"),
        )
    ],
    "21-rest-grid-image-prompt-niji.json": [
        done(
            "1295784995075395624",
            "<https://s.mj.run/itzmNy6wh_4> make me 4 diffrent photo like that --niji 5",
            "937715069922467921",
            "fast",
            "a78091d5-c03c-4b8b-ba3f-3d89864e98b7",
            attachments=[
                image(
                    2048,
                    2048,
                    5792026,
                    filename="user_make_me_4_diffrent_photo_like_that_"
                    "a78091d5-c03c-4b8b-ba3f-3d89864e98b7.png",
                )
            ],
            buttons=grid_buttons("a78091d5-c03c-4b8b-ba3f-3d89864e98b7"),
        )
    ],
    "22-rest-variations-strong-grid-fast-stealth.json": [
        done(
            "1295405378602799175",
            "create a template image that represents a costume designer working behind the"
            " camera, in an aesthetic and elegant way --ar 16:9 --v 6.0 --style raw --s 250",
            COSTUME_USER,
            "fast",
            "76ea0ff4-f2f7-4a0f-aae6-52e7495f6fdc",
            stealth=True,
            action="variation",
            variant="Strong",
            attachments=[image(2912, 1632, 8634532)],
            ids={"reply_to": "1295403270721765431"},
            referenced_message={
                "message_id": "1295403270721765431",
                "job_hash": "99a6f252-e431-415c-ae21-afea2091c64b",
            },
        )
    ],
    "23-rest-remix-strong-grid-no-referenced-message.json": [
        done(
            "1295405306439794688",
            "a costume designer (woman in her 50's, with short dark hair and big blue eyes) at"
            " her studio, creating modern looks for film --ar 16:9 --v 6.0 --style raw --s 250",
            COSTUME_USER,
            "fast",
            "6288a0eb-ed4a-4cd9-ad14-83ab1623e229",
            stealth=True,
            action="variation",
            variant="Strong",
            ids={"message_id": "1295405306439794688", "reply_to": "1295404207297396737"},
            buttons=grid_buttons("6288a0eb-ed4a-4cd9-ad14-83ab1623e229"),
        )
    ],
    "24-rest-reroll-with-edited-prompt-type19-no-label.json": [
        done(
            "1295408046876524715",
            "minimalist fashion background for keynote presentation"
            " --ar 16:9 --v 6.0 --style raw --s 250",
            COSTUME_USER,
            "fast",
            "9c776a8c-eae0-4aa0-98ef-540e4bf013ac",
            stealth=True,
            action=None,  # a reroll result names no action
            ids={"message_id": "1295408046876524715", "reply_to": "1295407786146136086"},
            referenced_message={
                "job_hash": "859b857a-0e67-47e2-845f-8f8d32bef1d7",
                "prompt": "fashion background for keynote presentation"
                " --ar 16:9 --v 6.0 --style raw --s 250",
            },
        )
    ],
    "25-rest-upscale-image4-v61-buttons.json": [
        done(
            "1295783910734561433",
            SOCCER_PROMPT,
            SOCCER_USER,
            None,
            "14ffad55-e2fb-4e2e-8e4f-49c419b48ea5",
            action="pick",
            index=4,
            attachments=[image(1024, 1024, 1166417)],
            buttons=solo_buttons(
                "14ffad55-e2fb-4e2e-8e4f-49c419b48ea5",
                ("Upscale (Subtle)", "MJ::JOB::upsample_v6r1_2x_subtle::1::{h}::SOLO"),
                ("Upscale (Creative)", "MJ::JOB::upsample_v6r1_2x_creative::1::{h}::SOLO"),
                *VARY,
                ("Vary (Region)", "MJ::Inpaint::1::{h}::SOLO"),
                *ZOOMS,
                *PANS,
            ),
            # the parent's red embed (to another user) does not make it a failed job
            referenced_message={
                "message_id": "1295783832254939177",
                "kind": "done",
                "job_hash": "168f01f8-a242-4c4f-8d34-c3b248c8eb7a",
            },
        )
    ],
    "26-rest-upscaled-subtle-result-redo-buttons.json": [
        done(
            "1295784129547472906",
            f"{SOCCER_PROMPT} --v 6.1",
            SOCCER_USER,
            "fast",
            "46efb4a1-960f-4471-8f5b-f563c24455fc",
            action="upscale",
            variant="Subtle",
            attachments=[image(2048, 2048, 4271125)],
            buttons=solo_buttons(
                "46efb4a1-960f-4471-8f5b-f563c24455fc",
                ("Redo Upscale (Subtle)", "MJ::JOB::upsample_v6r1_2x_subtle::1::{h}::SOLO"),
                ("Redo Upscale (Creative)", "MJ::JOB::upsample_v6r1_2x_creative::1::{h}::SOLO"),
                *VARY,
            ),
            ids={"reply_to": "1295783910734561433"},
        )
    ],
    "27-rest-upscale-image3-v60-make-square.json": [
        done(
            "1295404720894251008",
            COSTUME_PROMPT,
            COSTUME_USER,
            None,
            "958e3dc1-4f3c-426b-b538-df30985a8dfa",
            action="pick",
            index=3,
            attachments=[image(1456, 816, 1764706)],
            buttons=solo_buttons(
                "958e3dc1-4f3c-426b-b538-df30985a8dfa",
                ("Upscale (Subtle)", "MJ::JOB::upsample_v6_2x_subtle::1::{h}::SOLO"),
                ("Upscale (Creative)", "MJ::JOB::upsample_v6_2x_creative::1::{h}::SOLO"),
                *VARY,
                ("Vary (Region)", "MJ::Inpaint::1::{h}::SOLO"),
                *ZOOMS,
                ("Make Square", "MJ::Outpaint::100::1::{h}::SOLO"),
                *PANS,
            ),
            referenced_message={
                "message_id": "1295404289036124274",
                "job_hash": "e2cb059f-9b0e-4f71-b43d-72feedfc1eb0",
            },
        )
    ],
    "28-rest-zoom-out-grid-fast-stealth.json": [
        done(
            "1295404903778226258",
            COSTUME_PROMPT,
            COSTUME_USER,
            "fast",
            "bf91a209-c832-47e3-b6de-c1541f9919cb",
            stealth=True,
            action="zoom",
            attachments=[image(2912, 1632, 6118486)],
            buttons=grid_buttons("bf91a209-c832-47e3-b6de-c1541f9919cb"),
            referenced_message={"message_id": "1295404720894251008"},
        )
    ],
    "29-rest-non-bot-user-message.json": [
        {
            "kind": "user_message",
            "status": None,
            "ids": {"message_id": "1295784439812587552", "author_id": "761042041508986920"},
            "content": lambda text: "**" not in text,
        }
    ],
    "30-rest-application-command-index-guild-2024-05.json": [
        {
            "kind": "command_index",
            "status": None,
            "version": "1240021480897511445",
            "applications": [],
            "commands": lambda commands: len(commands) == 59,
        }
    ],
    "31-rest-application-command-index-2024-08.json": [
        {
            "kind": "command_index",
            "version": "1267632560465248388",
            "applications": [{"id": MJ, "name": "Midjourney Bot"}],
            "commands": lambda commands: len(commands) == 24,
        }
    ],
    "32-rest-application-commands-search-imagine-2023-09.json": [
        {
            "kind": "command_search",
            "applications": [{"id": MJ, "name": "Midjourney Bot"}],
            "commands": [
                {
                    "name": "imagine",
                    "id": "938956540159881230",
                    "version": "1118961510123847772",
                    "type": 1,
                    "application_id": MJ,
                    "options": [{"name": "prompt", "type": 3, "required": True}],
                }
            ],
            "cursor_next": None,
        }
    ],
    "33-rest-error-400-command-outdated.json": [
        {
            "kind": "discord_error",
            "status": None,
            "http_status": 400,
            "code": 50035,
            "message": "Invalid Form Body",
            "errors": [{"path": "data", "code": "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION"}],
            "note": lambda note: "refresh the application-command index" in note,
        }
    ],
    "34-rest-error-429-rate-limited.json": [
        {
            "kind": "rate_limited",
            "status": None,
            "http_status": 429,
            "retry_after": 2.06,
            "global": False,
            "message": "The resource is being rate limited.",
        }
    ],
    "35-req-interaction-type3-upsample-dm.json": [
        {
            "kind": "interaction_request",
            "type": 3,
            "type_name": "message_component",
            "ids": {
                "nonce": "1083840138678632448",
                "application_id": MJ,
                "channel_id": "1069126859100524575",
                "guild_id": None,
                "message_id": "1083838511947448451",
            },
            "message_flags": 0,
            "component_type": 2,
            "custom_id": "MJ::JOB::upsample::4::350fb24a-dd72-45f2-ade8-048379a2ed5a",
            "click": {
                "family": "pick",
                "index": 4,
                "job_hash": "350fb24a-dd72-45f2-ade8-048379a2ed5a",
            },
        }
    ],
    "36-req-interaction-type2-imagine-payload-json.json": [
        {
            "kind": "interaction_request",
            "type": 2,
            "type_name": "application_command",
            "ids": {"nonce": "1083811737217531904", "channel_id": "1069126859100524575"},
            "session_id": "7687ebdc6846e1f686f02b14c4f150d1",
            "command": {
                "name": "imagine",
                "id": "938956540159881230",
                "version": "1077969938624553050",
                "options": [{"name": "prompt", "type": 3, "value": "one more"}],
            },
        }
    ],
}


# -- every capture ----------------------------------------------------------------------------


def test_the_captures_directory_has_36_files() -> None:
    assert len(CAPTURE_FILES) == 36
    assert set(EXPECTED) == set(CAPTURE_FILES)


@pytest.mark.parametrize("name", CAPTURE_FILES)
def test_every_capture_reads_as_the_readme_says(name: str) -> None:
    assert name in EXPECTED, f"say in EXPECTED what inspect must read from {name}"
    results = inspect_capture(name)

    matches(results, EXPECTED[name])
    for result in results:
        assert "kind" in result and "status" in result
        assert json.loads(json.dumps(result)) == result  # plain JSON, nothing else


def test_23_without_referenced_message_has_no_parent_summary() -> None:
    [result] = inspect_capture("23-rest-remix-strong-grid-no-referenced-message.json")
    assert "referenced_message" not in result


def commands(name: str) -> dict[str, dict[str, Any]]:
    [result] = inspect_capture(name)
    return {c["name"]: c for c in result["commands"] if c["application_id"] == MJ}


INDEX_30 = [
    ("imagine", "938956540159881230", "1237876415471554623"),
    ("describe", "1092492867185950852", "1237876415471554625"),
    ("blend", "1062880104792997970", "1237876415471554624"),
    ("shorten", "1121575372539039774", "1237876415471554626"),
    ("show", "1169435442328911902", "1237876415471554630"),
    ("info", "972289487818334209", "1237876415735660565"),
    ("settings", "1000850743479255081", "1237876415790055475"),
]


@pytest.mark.parametrize(("command", "command_id", "version"), INDEX_30)
def test_30_command_ids_and_versions(command: str, command_id: str, version: str) -> None:
    found = commands("30-rest-application-command-index-guild-2024-05.json")[command]
    assert (found["id"], found["version"], found["type"]) == (command_id, version, 1)


def test_30_options_message_commands_and_staff_commands() -> None:
    found = commands("30-rest-application-command-index-guild-2024-05.json")
    assert found["imagine"]["options"] == [{"name": "prompt", "type": 3, "required": True}]
    assert found["describe"]["options"] == [
        {"name": "image", "type": 11, "required": False},
        {"name": "link", "type": 3, "required": False},
    ]
    blend = [(o["name"], o["required"]) for o in found["blend"]["options"]]
    assert blend[:3] == [("image1", True), ("image2", True), ("dimensions", False)]
    for name, command_id in [
        ("Cancel Job", "987795925764280352"),
        ("DM Results", "987795925764280353"),
        ("Report Job", "991449849599885383"),
    ]:
        assert (found[name]["id"], found[name]["type"]) == (command_id, 3)
    assert found["ban_word"]["guild_id"] == "662267976984297473"
    assert found["imagine"]["guild_id"] is None


def test_31_versions_that_moved_and_the_new_command() -> None:
    found = commands("31-rest-application-command-index-2024-08.json")
    assert found["imagine"]["id"] == "938956540159881230"
    assert found["shorten"]["version"] == "1247736572414001223"
    assert found["show"]["version"] == "1247736572414001224"
    assert found["stealth"]["version"] == "1259937291770658936"
    assert found["list_personalize_codes"]["id"] == "1267632559278526577"


# -- input shapes -----------------------------------------------------------------------------


def test_a_gateway_log_in_json_lines_reads_like_the_json_list() -> None:
    frames = load_capture("03-gw-sequence-imagine-fast-full-lifecycle.json")
    text = "\n".join(json.dumps(f) for f in frames[:8]) + "\n\n" + json.dumps(frames[8]) + "\n"

    assert parse_document(text) == frames[:9]
    assert inspect_payload(parse_document(text)) == inspect_payload(frames[:9])


def test_a_bare_message_and_a_frame_read_the_same_apart_from_event_and_seq() -> None:
    frame = load_capture("10-gw-imagine-final-grid-fast.json")
    [from_frame] = inspect_payload(frame)
    [bare] = inspect_payload(frame["d"])
    assert (from_frame.pop("event"), from_frame.pop("seq")) == ("MESSAGE_CREATE", 50)
    assert from_frame == bare


def test_rest_history_keeps_file_order() -> None:
    history = load_capture("18-rest-channel-messages-grids-relaxed-niji.json")
    ids = [r["ids"]["message_id"] for r in inspect_payload(history)]
    assert ids == [m["id"] for m in history]  # newest first, as Discord sent it


@pytest.mark.parametrize("payload_key", ["payload", "frames", "body", "data"])
def test_a_capture_wrapper_with_notes_is_unwrapped(payload_key: str) -> None:
    inner = load_capture("03-gw-sequence-imagine-fast-full-lifecycle.json")
    wrapped = {"source": "some/repo ws-sample", "notes": "trimmed log lines", payload_key: inner}
    assert inspect_payload(wrapped) == inspect_payload(inner)


def test_a_wrapper_around_a_list_of_wrapped_payloads() -> None:
    bodies = [
        {"source": "issue #82", "body": load_capture("34-rest-error-429-rate-limited.json")},
        {"note": "issue #186", "response": load_capture("33-rest-error-400-command-outdated.json")},
    ]
    results = inspect_payload({"source": "two issues", "captures": None, "payload": bodies})
    assert [r["kind"] for r in results] == ["rate_limited", "discord_error"]


def test_multipart_payload_json_is_an_interaction_request() -> None:
    body = load_capture("36-req-interaction-type2-imagine-payload-json.json")
    [result] = inspect_payload({"payload_json": json.dumps(body)})
    assert result["kind"] == "interaction_request" and result["multipart"] is True
    assert result["command"]["name"] == "imagine"
    assert inspect_payload({"payload_json": "{oops"})[0]["kind"] == "unknown"


def test_the_payload_is_not_modified() -> None:
    raw = load_capture("25-rest-upscale-image4-v61-buttons.json")
    before = copy.deepcopy(raw)
    inspect_payload(raw)
    assert raw == before


@pytest.mark.parametrize("value", [42, "text", None, {"hello": "world"}, [[1]]])
def test_anything_else_is_unknown_not_an_exception(value: Any) -> None:
    results = inspect_payload(value)
    assert results and all(r["kind"] == "unknown" for r in results)


# -- parse_document and render ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        ('{\n  "op": 0,\n  oops\n}', "not valid JSON: Expecting property name"),
        ("not json", "not valid JSON"),
        ('{"op": 11}\n{"op": 11}\n{"op": \n', "not valid JSON lines (line 3)"),
    ],
)
def test_invalid_documents_say_why(text: str, message: str) -> None:
    with pytest.raises(InspectError) as caught:
        parse_document(text)
    assert message in caught.value.message


def test_a_byte_order_mark_is_tolerated() -> None:
    assert parse_document('\ufeff{"op": 11, "d": null}') == {"op": 11, "d": None}


def test_compact_output_is_one_result_per_line_and_still_one_document() -> None:
    results = inspect_capture("03-gw-sequence-imagine-fast-full-lifecycle.json")
    text = render(results, compact=True)
    lines = text.splitlines()
    assert len(lines) == len(results) + 2 and (lines[0], lines[-1]) == ("[", "]")
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == results
    assert json.loads(text) == results
    assert render([], compact=True) == "[]"


def test_pretty_output_keeps_emoji_readable() -> None:
    text = render(inspect_capture("10-gw-imagine-final-grid-fast.json"))
    assert '"label": "🔄"' in text and text.startswith("[\n  {")


# -- synthetic payloads the captures lack (reference §2.3, §2.4, §3.4, §4) --------------------


def bot_message(content: str = "", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "2000",
        "channel_id": "100",
        "author": {"id": MJ, "bot": True},
        "content": content,
        "timestamp": "2025-06-01T00:00:00+00:00",
        "nonce": "1111",
        "attachments": [],
        "components": [],
        "embeds": [],
    }
    return base | fields


def error_embed(title: str, description: str = "details") -> dict[str, Any]:
    return bot_message(embeds=[{"title": title, "description": description, "color": 16711680}])


@pytest.mark.parametrize(
    ("embed", "status", "reason"),
    [
        (error_embed("Banned prompt detected"), "moderated", "moderated"),
        (error_embed("Invalid parameter"), "failed", "error"),
        (error_embed("Queue full"), "failed", "queue_full"),
        (error_embed("Pending mod message"), "failed", "account_flagged"),
        (error_embed("Action needed to continue", "Please verify you're human"), "failed",
         "account_flagged"),
        (error_embed("Credits exhausted"), "failed", "account_disabled"),
        (error_embed("Something new"), "failed", "error"),
    ],
)  # fmt: skip
def test_error_embeds_carry_the_catalogue_reason(
    embed: dict[str, Any], status: str, reason: str
) -> None:
    [result] = inspect_payload({"op": 0, "t": "MESSAGE_CREATE", "s": 3, "d": embed})
    title = embed["embeds"][0]["title"]
    matches(
        result,
        {
            "kind": "error",
            "status": status,
            "ids": {"nonce": "1111"},
            "error": {"title": title, "description": embed["embeds"][0]["description"]},
        },
    )
    assert result["error"]["reason"] == reason


def test_a_stopped_job_fails_without_an_embed() -> None:
    [result] = inspect_payload(bot_message("**cat** - <@42> (Stopped)"))
    assert result["status"] == "failed"
    assert result["error"] == {"title": None, "description": None, "reason": "error"}


RESULT_MESSAGES: list[tuple[dict[str, Any], str, str | None]] = [
    (bot_message("**Job ID**: 0b5a6b0e-7f61-4e42-93cf-1c4e0a1d2f3b **seed** 42"), "seed",
     "completed"),
    (bot_message("", embeds=[{"description": "1\ufe0f\u20e3 a cat"}]), "described", "completed"),
    (bot_message("Done! Your jobs now do not show"), "reply", "completed"),
    (bot_message("", flags=128), "waiting", "started"),
    (bot_message("something Midjourney never said"), "other", None),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "kind", "status"), RESULT_MESSAGES)
def test_other_midjourney_messages(raw: dict[str, Any], kind: str, status: str | None) -> None:
    [result] = inspect_payload(raw)
    assert (result["kind"], result["status"]) == (kind, status)


def test_a_seed_dm_reports_the_seed() -> None:
    [result] = inspect_payload(RESULT_MESSAGES[0][0])
    assert result["seed"] == {"value": 42, "job_hash": "0b5a6b0e-7f61-4e42-93cf-1c4e0a1d2f3b"}


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ({"id": "1", "channel_id": "2", "embeds": []}, "partial_message"),
        (bot_message() | {"author": {"id": "5", "bot": True}}, "other_bot_message"),
        (bot_message() | {"author": {"id": "5"}}, "user_message"),
    ],
)
def test_messages_the_interpreter_does_not_read(raw: dict[str, Any], kind: str) -> None:
    [result] = inspect_payload({"op": 0, "t": "MESSAGE_UPDATE", "s": 9, "d": raw})
    assert (result["event"], result["kind"], result["status"]) == ("MESSAGE_UPDATE", kind, None)


def frame(event: str | None, data: Any, op: int = 0, seq: int | None = 7) -> dict[str, Any]:
    return {"op": op, "t": event, "s": seq, "d": data}


GATEWAY: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (frame("READY", {"session_id": "abc", "resume_gateway_url": "wss://g",
                     "user": {"id": "42", "username": "user"},
                     "private_channels": [{"id": "900", "type": 1, "recipient_ids": ["7"]},
                                          {"id": "901", "type": 1, "recipient_ids": [MJ]}]}),
     {"event": "READY", "kind": "ready", "session_id": "abc", "resume_gateway_url": "wss://g",
      "ids": {"user_id": "42", "midjourney_dm_channel_id": "901"}}),
    (frame("READY", {"session_id": "abc", "private_channels": [
        {"id": "902", "recipients": [{"id": MJ}]}]}),
     {"ids": {"user_id": None, "midjourney_dm_channel_id": "902"}}),
    (frame(None, {"heartbeat_interval": 41250}, op=10, seq=None),
     {"event": "HELLO", "kind": "hello", "heartbeat_interval": 41250}),
    (frame(None, False, op=9, seq=None), {"event": "INVALID_SESSION", "resumable": False}),
    (frame(None, None, op=7, seq=None), {"event": "RECONNECT", "kind": "reconnect"}),
    (frame(None, None, op=42, seq=None), {"event": "OP_42", "kind": "op_42"}),
    (frame("INTERACTION_FAILURE", {"id": "5", "nonce": "6"}),
     {"kind": "interaction_failure", "ids": {"interaction_id": "5", "nonce": "6"},
      "note": lambda n: "job fails" in n}),
    (frame("INTERACTION_MODAL_CREATE", {"id": "5", "nonce": "6", "channel_id": "100",
                                        "custom_id": "MJ::ImagineModal::1", "title": "Remix"}),
     {"kind": "interaction_modal_create", "custom_id": "MJ::ImagineModal::1", "title": "Remix",
      "ids": {"interaction_id": "5", "nonce": "6", "channel_id": "100"}}),
    (frame("MESSAGE_DELETE_BULK", {"ids": ["1", "2"], "channel_id": "100"}),
     {"kind": "message_delete_bulk", "ids": {"message_ids": ["1", "2"], "channel_id": "100"}}),
    (frame("MESSAGE_REACTION_REMOVE", {"user_id": "42", "message_id": "1", "channel_id": "100",
                                       "emoji": {"name": "✉️"}}),
     {"kind": "reaction", "emoji": "✉️", "on_midjourney_message": None}),
    (frame("TYPING_START", {"channel_id": "100"}), {"kind": "gateway_event", "status": None}),
    (frame("MESSAGE_CREATE", None), {"event": "MESSAGE_CREATE", "kind": "unknown"}),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "expected"), GATEWAY)
def test_gateway_frames_that_are_not_messages(
    raw: dict[str, Any], expected: dict[str, Any]
) -> None:
    [result] = inspect_payload(raw)
    matches(result, expected)


def test_identify_never_echoes_the_token() -> None:
    identify = frame(None, {"token": "secret-discord-token", "properties": {}}, op=2, seq=None)
    [result] = inspect_payload(identify)
    assert result["kind"] == "identify"
    assert "secret-discord-token" not in json.dumps(result)


def test_a_modal_submit_request_lists_its_fields() -> None:
    body = {
        "type": 5,
        "application_id": MJ,
        "channel_id": "100",
        "nonce": "77",
        "data": {
            "id": "5",
            "custom_id": "MJ::ImagineModal::1",
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": "MJ::Prompt", "value": "dog"}]}
            ],
        },
    }
    [result] = inspect_payload(body)
    matches(
        result,
        {
            "type_name": "modal_submit",
            "custom_id": "MJ::ImagineModal::1",
            "fields": [{"custom_id": "MJ::Prompt", "value": "dog"}],
        },
    )


def test_a_command_with_a_subcommand_and_an_upload() -> None:
    body = {
        "type": 2,
        "nonce": "1",
        "data": {
            "name": "prefer",
            "options": [{"type": 1, "name": "remix", "options": []}],
            "attachments": [{"id": "0", "filename": "cat.png"}],
        },
    }
    [result] = inspect_payload(body)
    assert result["command"]["options"] == [
        {"name": "remix", "type": 1, "value": None, "options": []}
    ]
    assert result["command"]["attachments"] == ["cat.png"]


def test_a_click_on_a_link_free_non_job_button() -> None:
    body = {"type": 3, "nonce": "1", "data": {"component_type": 2, "custom_id": "MJ::BOOKMARK::x"}}
    [result] = inspect_payload(body)
    assert result["click"] == {"family": None, "index": None, "job_hash": None}


def test_a_discord_error_other_than_50035() -> None:
    [result] = inspect_payload({"code": 10003, "message": "Unknown Channel"})
    assert (result["kind"], result["code"], result["errors"]) == ("discord_error", 10003, [])
    assert result["http_status"] is None and "note" not in result


def test_nested_50035_errors_keep_their_paths() -> None:
    body = {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "data": {"options": {"0": {"value": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}}},
            "nonce": {"_errors": [{"code": "NONCE_TYPE_INVALID", "message": "bad"}]},
        },
    }
    [result] = inspect_payload(body)
    assert result["errors"] == [
        {"path": "data.options.0.value", "code": "BASE_TYPE_MAX_LENGTH", "message": None},
        {"path": "nonce", "code": "NONCE_TYPE_INVALID", "message": "bad"},
    ]
    assert "note" not in result
