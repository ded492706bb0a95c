"""What a Midjourney button does, read from its ``custom_id`` (pure).

custom_id catalogue: reference §1.5 (``MJ::JOB::<action>::<i>::<hash>[::SOLO]``, ``MJ::Outpaint``,
``MJ::CustomZoom``, ``MJ::Inpaint``, ``MJ::BOOKMARK``...) and captures 17, 22-28, 35.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    """Kinds of button jobs, as far as correlating their result messages needs."""

    #: U1-U4 on an image grid, or on a video batch: one item of the parent, no progress
    PICK = "pick"
    #: V1-V4, Vary (Strong/Subtle/Region), and their remix forms
    VARIATION = "variation"
    #: Upscale (Subtle/Creative/2x/4x) and Redo Upscale on a single image
    UPSCALE = "upscale"
    #: Zoom Out 2x/1.5x, Make Square, Custom Zoom
    ZOOM = "zoom"
    #: ⬅️ ➡️ ⬆️ ⬇️
    PAN = "pan"
    #: 🔄 (its result carries no action label, capture 24)
    REROLL = "reroll"
    #: Animate / Extend (High/Low motion)
    VIDEO = "video"
    #: anything else that starts a job (describe picks, unknown MJ buttons)
    OTHER = "other"


class Opens(StrEnum):
    """What Discord shows after the click, before Midjourney starts the job."""

    #: nothing, unless remix mode is on (then a modal, INTERACTION_MODAL_CREATE)
    MAYBE_MODAL = "maybe_modal"
    #: always a modal: Custom Zoom asks for the prompt with ``--zoom`` (§1.6)
    MODAL = "modal"
    #: the Vary (Region) editor: INTERACTION_IFRAME_MODAL_CREATE (§1.6)
    IFRAME = "iframe"


@dataclass(frozen=True)
class Click:
    """A job-starting button, parsed."""

    custom_id: str
    family: Family
    #: the grid cell (1-4) for picks and V buttons; None when the button names no cell
    index: int | None
    opens: Opens


#: Buttons that never start a Midjourney job: ❤️ only bookmarks on the website (§1.5),
#: Cancel Job stops one.
_NO_JOB_PREFIXES = ("MJ::BOOKMARK::", "MJ::CancelJob::")
#: ``MJ::JOB::<action>`` actions by family; upscales are matched by prefix below.
_JOB_ACTIONS: dict[str, Family] = {
    "upsample": Family.PICK,
    "video_virtual_upscale": Family.PICK,
    "variation": Family.VARIATION,
    "high_variation": Family.VARIATION,
    "low_variation": Family.VARIATION,
    "reroll": Family.REROLL,
    "pan_left": Family.PAN,
    "pan_right": Family.PAN,
    "pan_up": Family.PAN,
    "pan_down": Family.PAN,
    "animate_high": Family.VIDEO,
    "animate_low": Family.VIDEO,
    "animate_high_extend": Family.VIDEO,
    "animate_low_extend": Family.VIDEO,
}


def parse_click(custom_id: str | None) -> Click | None:
    """The job a button starts, or None for link buttons, ❤️, Cancel Job and non-MJ ids."""
    if not custom_id or not custom_id.startswith("MJ::"):
        return None  # link buttons (style 5) have a url and no custom_id (captures 17, 20)
    if custom_id.startswith(_NO_JOB_PREFIXES):
        return None
    parts = custom_id.split("::")
    if parts[1] == "JOB" and len(parts) >= 4:
        return _job_click(custom_id, parts[2], parts[3])
    if parts[1] == "Outpaint":
        return Click(custom_id, Family.ZOOM, None, Opens.MAYBE_MODAL)
    if parts[1] == "CustomZoom":
        return Click(custom_id, Family.ZOOM, None, Opens.MODAL)
    if parts[1] == "Inpaint":
        return Click(custom_id, Family.VARIATION, None, Opens.IFRAME)
    return Click(custom_id, Family.OTHER, None, Opens.MAYBE_MODAL)


def _job_click(custom_id: str, action: str, cell: str) -> Click:
    family = _JOB_ACTIONS.get(action)
    if family is None:
        # upsample_v5_2x, upsample_v6r1_2x_subtle, upsample_v7_2x_creative, upsample_max ...
        family = Family.UPSCALE if action.startswith("upsample") else Family.OTHER
    index = int(cell) if cell.isdigit() and family in (Family.PICK, Family.VARIATION) else None
    # Grid V<i> carries the cell; the SOLO variations (Vary Strong/Subtle) always say 1.
    if family is Family.VARIATION and custom_id.endswith("::SOLO"):
        index = None
    return Click(custom_id, family, index, Opens.MAYBE_MODAL)
