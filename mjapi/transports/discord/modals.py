"""Modals Midjourney opens after a click, read from the gateway (pure).

``INTERACTION_MODAL_CREATE`` (remix mode, Custom Zoom) is answered with a type-5 submit;
``INTERACTION_IFRAME_MODAL_CREATE`` (Vary (Region)) with a POST to the editor's activity server.
Fields: reference §1.6 and §2.4 (PXZ ``ws.ts``, SBT ``structures/Modal.js``, TAI ``InpaintAsync``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MODAL_CREATE = "INTERACTION_MODAL_CREATE"
IFRAME_MODAL_CREATE = "INTERACTION_IFRAME_MODAL_CREATE"
#: The iframe modal names the editor session as ``MJ::iframe::<token>`` (§1.6).
IFRAME_PREFIX = "MJ::iframe::"
#: Where the editor posts a region job, under the activity origin (§1.1 last row).
INPAINT_SUBMIT_PATH = "/inpaint/api/submit-job"
#: Discord's URL of the Midjourney activity (the editor iframe), by application id.
DISCORD_ACTIVITY_URL = "https://936929561302675456.discordsays.com"
TEXT_INPUT = 4


@dataclass(frozen=True)
class Modal:
    """A text modal: submit ``value`` into ``field_id`` to let the job start."""

    nonce: str
    modal_id: str
    custom_id: str
    field_id: str
    #: what Midjourney prefilled (the parent prompt; Custom Zoom adds ``--zoom 2``)
    prefilled: str


@dataclass(frozen=True)
class Iframe:
    """The Vary (Region) editor opened for the click ``nonce``."""

    nonce: str
    token: str


def opened(name: str, data: Any) -> Modal | Iframe | None:
    """The modal a dispatch opens, or None when it is not one (or not usable)."""
    if not isinstance(data, dict) or not isinstance(data.get("nonce"), str):
        return None
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str):
        return None
    if name == IFRAME_MODAL_CREATE and custom_id.startswith(IFRAME_PREFIX):
        return Iframe(data["nonce"], custom_id[len(IFRAME_PREFIX) :])
    if name != MODAL_CREATE or not isinstance(data.get("id"), str):
        return None
    field = next(_text_inputs(data.get("components")), None)
    if field is None:
        return None
    value = field.get("value")
    return Modal(
        nonce=data["nonce"],
        modal_id=data["id"],
        custom_id=custom_id,
        field_id=str(field["custom_id"]),
        prefilled=value if isinstance(value, str) else "",
    )


def inpaint_body(token: str, prompt: str | None, mask: str | None) -> dict[str, Any]:
    """The editor's submit: mask = base64 PNG without a ``data:`` prefix (TAI, PXZ)."""
    return {
        "customId": token,
        "prompt": prompt or "",
        "mask": mask,
        "userId": "0",
        "username": "0",
        "full_prompt": None,
    }


def activity_base(base_url: str, activity_url: str | None) -> str:
    """Where the editor lives: Discord's activity host, or the simulator's ``/discordsays``."""
    if activity_url:
        return activity_url.rstrip("/")
    base = base_url.rstrip("/")
    return DISCORD_ACTIVITY_URL if base == "https://discord.com" else f"{base}/discordsays"


def _text_inputs(rows: Any) -> Iterator[dict[str, Any]]:
    for row in rows if isinstance(rows, list) else []:
        inner = row.get("components") if isinstance(row, dict) else None
        for component in inner if isinstance(inner, list) else []:
            if (
                isinstance(component, dict)
                and component.get("type") == TEXT_INPUT
                and isinstance(component.get("custom_id"), str)
            ):
                yield component
