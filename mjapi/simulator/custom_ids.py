"""Midjourney's button ``custom_id``s (reference §1.5 catalogue; captures 10, 12, 17, 25-28).

``parse`` turns a custom_id into a ``ButtonAction`` the bot can play; ``None`` for ids the
simulator does not play (a click on them is refused with a loud 400).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_HASH = r"(?P<hash>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"


class Kind(Enum):
    """What a click asks Midjourney to do."""

    PICK = "pick"  # U1-U4 on a grid: the i-th image, at once
    VARIATION = "variation"  # V1-V4
    REROLL = "reroll"  # 🔄
    VARY = "vary"  # Vary (Strong) / (Subtle); detail "high" | "low"
    PAN = "pan"  # ⬅️ ➡️ ⬆️ ⬇️; detail "left" | "right" | "up" | "down"
    ZOOM = "zoom"  # Zoom Out 2x / 1.5x / Make Square; detail "50" | "75" | "100"
    CUSTOM_ZOOM = "custom_zoom"  # opens the custom zoom modal
    REGION = "region"  # Vary (Region): opens the inpaint iframe
    UPSCALE = "upscale"  # Upscale / Redo Upscale; detail the model, e.g. "v6r1_2x_subtle"
    ANIMATE = "animate"  # Animate (High/Low motion); detail "high" | "low"
    EXTEND = "extend"  # Extend (High/Low motion) on a single video; detail "high" | "low"
    VIDEO_PICK = "video_pick"  # U1-U4 on a video batch
    BOOKMARK = "bookmark"  # ❤️: no result message
    CANCEL = "cancel"  # Cancel Job on a waiting/progress message (capture 12)
    DESCRIBE_PICK = "describe_pick"  # 1️⃣-4️⃣ under a /describe result; index 1..4
    DESCRIBE_ALL = "describe_all"  # 🎉 Imagine all
    DESCRIBE_RETRY = "describe_retry"  # 🔄 under a /describe result
    APPEAL = "appeal"  # Appeal under "Action needed to continue" (reference §4)
    ACKNOWLEDGE = "acknowledge"  # Acknowledged under "Pending mod message"
    CAPTCHA = "captcha"  # an answer to the "verify you're human" challenge; index 1..4


@dataclass(frozen=True)
class ButtonAction:
    kind: Kind
    #: the job the button belongs to ("" for the describe buttons, which carry none)
    job_hash: str = ""
    #: U/V/video index 1..4 (1 for SOLO buttons)
    index: int = 1
    detail: str = ""


_PATTERNS: tuple[tuple[re.Pattern[str], Kind], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (rf"MJ::JOB::upsample::(?P<index>[1-4])::{_HASH}", Kind.PICK),
        (rf"MJ::JOB::variation::(?P<index>[1-4])::{_HASH}(::SOLO)?", Kind.VARIATION),
        (rf"MJ::JOB::reroll::0::{_HASH}::SOLO", Kind.REROLL),
        (rf"MJ::JOB::(?P<detail>high|low)_variation::1::{_HASH}::SOLO", Kind.VARY),
        (rf"MJ::JOB::pan_(?P<detail>left|right|up|down)::1::{_HASH}::SOLO", Kind.PAN),
        (rf"MJ::Outpaint::(?P<detail>50|75|100)::1::{_HASH}::SOLO", Kind.ZOOM),
        (rf"MJ::CustomZoom::{_HASH}", Kind.CUSTOM_ZOOM),
        (rf"MJ::Inpaint::1::{_HASH}::SOLO", Kind.REGION),
        (
            rf"MJ::JOB::upsample_(?P<detail>v[0-9r]+_[24]x(_subtle|_creative)?)::1::{_HASH}::SOLO",
            Kind.UPSCALE,
        ),
        (rf"MJ::JOB::animate_(?P<detail>high|low)::1::{_HASH}::SOLO", Kind.ANIMATE),
        (
            rf"MJ::JOB::animate_(?P<detail>high|low)_extend::(?P<index>[1-4])::{_HASH}(::SOLO)?",
            Kind.EXTEND,
        ),
        (rf"MJ::JOB::video_virtual_upscale::(?P<index>[1-4])::{_HASH}", Kind.VIDEO_PICK),
        (rf"MJ::BOOKMARK::{_HASH}", Kind.BOOKMARK),
        (rf"MJ::CancelJob::ByJobid::{_HASH}", Kind.CANCEL),
        (r"MJ::Job::PicReader::(?P<index>[1-4])", Kind.DESCRIBE_PICK),
        (r"MJ::Job::PicReader::all", Kind.DESCRIBE_ALL),
        (r"MJ::Picread::Retry", Kind.DESCRIBE_RETRY),
        (rf"MJ::Prompts::Appeal::{_HASH}", Kind.APPEAL),
        (rf"MJ::Moderation::Acknowledge::{_HASH}", Kind.ACKNOWLEDGE),
        (rf"MJ::Captcha::(?P<index>[1-4])::{_HASH}", Kind.CAPTCHA),
    )
)


def parse(custom_id: str) -> ButtonAction | None:
    """The action behind a Midjourney button, or None if the simulator does not play it."""
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(custom_id)
        if match is None:
            continue
        groups = match.groupdict()
        return ButtonAction(
            kind=kind,
            job_hash=groups.get("hash") or "",
            index=int(groups.get("index") or 1),
            detail=groups.get("detail") or "",
        )
    return None


# -- the ids the bot puts on its messages --------------------------------------------------


def upsample(index: int, job_hash: str) -> str:
    return f"MJ::JOB::upsample::{index}::{job_hash}"


def variation(index: int, job_hash: str) -> str:
    return f"MJ::JOB::variation::{index}::{job_hash}"


def reroll(job_hash: str) -> str:
    return f"MJ::JOB::reroll::0::{job_hash}::SOLO"


def solo(action: str, job_hash: str) -> str:
    """``MJ::JOB::<action>::1::<hash>::SOLO`` (captures 17, 25, 26)."""
    return f"MJ::JOB::{action}::1::{job_hash}::SOLO"


def outpaint(percent: int, job_hash: str) -> str:
    return f"MJ::Outpaint::{percent}::1::{job_hash}::SOLO"


def video_pick(index: int, job_hash: str) -> str:
    return f"MJ::JOB::video_virtual_upscale::{index}::{job_hash}"


def cancel(job_hash: str) -> str:
    return f"MJ::CancelJob::ByJobid::{job_hash}"


def appeal(job_hash: str) -> str:
    """The Appeal button of a moderated prompt (yokonsan/midjourney-api#6, reference §4)."""
    return f"MJ::Prompts::Appeal::{job_hash}"


def acknowledge(job_hash: str) -> str:
    """The Acknowledged button of "Pending mod message" (its real custom_id was not captured)."""
    return f"MJ::Moderation::Acknowledge::{job_hash}"


def captcha(index: int, job_hash: str) -> str:
    """One answer of the CAPTCHA challenge (reference §4: ``MJ::Captcha...``)."""
    return f"MJ::Captcha::{index}::{job_hash}"
