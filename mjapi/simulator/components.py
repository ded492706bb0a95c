"""The button rows Midjourney puts under its messages, per kind of result (reference §3.3).

Layouts follow the captures: the grid (10, 20), the v6.1 "Image #N" set (25; Make Square from 27),
the "Upscaled" Redo set (26), the Cancel Job row (12). Video sets follow the custom_ids of
reference §1.5 (no video message was captured).
"""

from __future__ import annotations

from typing import Any

from mjapi.simulator import custom_ids as ids
from mjapi.simulator.objects import JsonObject

#: button styles (reference §3.3): 1 primary = used, 2 grey, 4 red, 5 link
USED = 1
GREY = 2
RED = 4
LINK = 5

#: Midjourney's custom ``upscale_1`` emoji on the Upscale buttons (capture 25)
_UPSCALE_EMOJI = {"id": "940147353879478324", "name": "upscale_1"}
#: the upscaler model of the v6.1 sets (captures 25, 26)
UPSCALER = "v6r1_2x"


def button(
    custom_id: str, label: str | None = None, emoji: str | JsonObject | None = None
) -> JsonObject:
    """A grey button; ``emoji`` a unicode emoji or a custom emoji object."""
    made: JsonObject = {"type": 2, "style": GREY, "custom_id": custom_id}
    if label is not None:
        made["label"] = label
    if emoji is not None:
        made["emoji"] = {"name": emoji} if isinstance(emoji, str) else dict(emoji)
    return made


def link_button(job_hash: str, label: str) -> JsonObject:
    """The style-5 link to the job on the website: no custom_id (captures 20, 25)."""
    return {
        "type": 2,
        "style": LINK,
        "label": label,
        "url": f"https://www.midjourney.com/jobs/{job_hash}",
    }


def row(*buttons: JsonObject) -> JsonObject:
    return {"type": 1, "components": list(buttons)}


def grid(job_hash: str, web_link: bool) -> list[JsonObject]:
    """U1-U4 + 🔄 and V1-V4 (+ the link button labelled ZWSP) as in captures 10 and 20."""
    upscales = [button(ids.upsample(i, job_hash), f"U{i}") for i in range(1, 5)]
    variations = [button(ids.variation(i, job_hash), f"V{i}") for i in range(1, 5)]
    if web_link:
        variations.append(link_button(job_hash, "\u200b"))
    return [row(*upscales, button(ids.reroll(job_hash), emoji="🔄")), row(*variations)]


def single_image(job_hash: str, square: bool, web_link: bool) -> list[JsonObject]:
    """The v6.1 "Image #N" set of capture 25, + Make Square for non-square images (capture 27)
    and the Animate buttons that came with video (reference §3.3)."""
    zoom = [
        button(ids.outpaint(50, job_hash), "Zoom Out 2x", "🔍"),
        button(ids.outpaint(75, job_hash), "Zoom Out 1.5x", "🔍"),
        button(f"MJ::CustomZoom::{job_hash}", "Custom Zoom", "🔍"),
    ]
    if not square:
        zoom.append(button(ids.outpaint(100, job_hash), "Make Square", "↕️"))
    last = [
        button(ids.solo("animate_high", job_hash), "Animate (High motion)", "🎞️"),
        button(ids.solo("animate_low", job_hash), "Animate (Low motion)", "🎞️"),
        button(f"MJ::BOOKMARK::{job_hash}", emoji="❤️"),
    ]
    if web_link:
        last.append(link_button(job_hash, "Web"))
    return [
        row(
            button(
                ids.solo(f"upsample_{UPSCALER}_subtle", job_hash),
                "Upscale (Subtle)",
                _UPSCALE_EMOJI,
            ),
            button(
                ids.solo(f"upsample_{UPSCALER}_creative", job_hash),
                "Upscale (Creative)",
                _UPSCALE_EMOJI,
            ),
            *_vary_buttons(job_hash),
            button(f"MJ::Inpaint::1::{job_hash}::SOLO", "Vary (Region)", "🖌️"),
        ),
        row(*zoom),
        row(*(button(ids.solo(f"pan_{d}", job_hash), emoji=e) for d, e in _PANS)),
        row(*last),
    ]


_PANS = (("left", "⬅️"), ("right", "➡️"), ("up", "⬆️"), ("down", "⬇️"))


def _vary_buttons(job_hash: str) -> list[JsonObject]:
    return [
        button(ids.solo("low_variation", job_hash), "Vary (Subtle)", "🪄"),
        button(ids.solo("high_variation", job_hash), "Vary (Strong)", "🪄"),
    ]


def upscaled(job_hash: str, model: str, web_link: bool) -> list[JsonObject]:
    """After an upscale: Redo Upscale ×2, Vary ×2, ❤️ + Web (capture 26).

    ``model`` is the upscaler family clicked, e.g. ``v6r1_2x`` or ``v5_2x``; the v5 family has
    no Subtle/Creative but 2x/4x (erictik savedUpscale.json, reference §1.5).
    """
    if model.startswith("v5"):
        redo = [
            button(ids.solo("upsample_v5_2x", job_hash), "Redo Upscale (2x)", _UPSCALE_EMOJI),
            button(ids.solo("upsample_v5_4x", job_hash), "Redo Upscale (4x)", _UPSCALE_EMOJI),
        ]
    else:
        redo = [
            button(
                ids.solo(f"upsample_{model}_subtle", job_hash),
                "Redo Upscale (Subtle)",
                _UPSCALE_EMOJI,
            ),
            button(
                ids.solo(f"upsample_{model}_creative", job_hash),
                "Redo Upscale (Creative)",
                _UPSCALE_EMOJI,
            ),
        ]
    last = [button(f"MJ::BOOKMARK::{job_hash}", emoji="❤️")]
    if web_link:
        last.append(link_button(job_hash, "Web"))
    return [row(*redo), row(*_vary_buttons(job_hash)), row(*last)]


def video_batch(job_hash: str, batch_size: int, web_link: bool) -> list[JsonObject]:
    """U1..U<n> picking one video (``video_virtual_upscale``) + 🔄 (reference §1.5)."""
    picks = [button(ids.video_pick(i, job_hash), f"U{i}") for i in range(1, batch_size + 1)]
    first = row(*picks, button(ids.reroll(job_hash), emoji="🔄"))
    if not web_link:
        return [first]
    return [first, row(link_button(job_hash, "\u200b"))]


def single_video(job_hash: str, web_link: bool) -> list[JsonObject]:
    """Extend (High/Low motion) on one video of a batch (reference §1.5, useapi-v2 §10)."""
    buttons = [
        button(ids.solo("animate_high_extend", job_hash), "Extend (High motion)", "🎞️"),
        button(ids.solo("animate_low_extend", job_hash), "Extend (Low motion)", "🎞️"),
        button(f"MJ::BOOKMARK::{job_hash}", emoji="❤️"),
    ]
    if web_link:
        buttons.append(link_button(job_hash, "Web"))
    return [row(*buttons)]


def cancel_row(job_hash: str) -> list[JsonObject]:
    """The red Cancel Job button of a waiting or running job (captures 12, 13)."""
    cancel: JsonObject = {
        "type": 2,
        "style": RED,
        "label": "Cancel Job",
        "custom_id": ids.cancel(job_hash),
    }
    return [row(cancel)]


def describe(web_link: bool) -> list[JsonObject]:
    """1️⃣-4️⃣, 🔄 and 🎉 Imagine all under a /describe result (reference §1.5)."""
    picks = [button(f"MJ::Job::PicReader::{i}", emoji=f"{i}\ufe0f\u20e3") for i in range(1, 5)]
    retry = button("MJ::Picread::Retry", emoji="🔄")
    everything = button("MJ::Job::PicReader::all", "Imagine all", "🎉")
    return [row(*picks, retry), row(everything)]


def custom_ids_of(components: list[JsonObject]) -> list[str]:
    """Every custom_id among the message's buttons, in order."""
    return [b["custom_id"] for r in components for b in r["components"] if "custom_id" in b]


def mark_used(components: list[JsonObject], custom_id: str) -> list[JsonObject]:
    """A copy of the rows with the clicked button turned primary (captures 17, 25, 27)."""
    marked: list[JsonObject] = []
    for old_row in components:
        buttons: list[Any] = []
        for old in old_row["components"]:
            new = dict(old)
            if new.get("custom_id") == custom_id:
                new["style"] = USED
            buttons.append(new)
        marked.append({**old_row, "components": buttons})
    return marked
