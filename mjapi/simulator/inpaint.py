"""The Vary (Region) editor's backend: ``POST /discordsays/inpaint/api/submit-job``.

Production serves it at ``https://936929561302675456.discordsays.com/inpaint/api/submit-job``;
clients POST ``{customId, prompt, mask, userId, username, full_prompt}`` where ``customId`` is the
token of the ``MJ::iframe::<token>`` modal and ``mask`` a base64 PNG, white = the region to
change (reference §1.6; TAI ``InpaintAsync``, PXZ ``inpaint``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mjapi.simulator.describe import open_image
from mjapi.simulator.pending import PendingIframe
from mjapi.simulator.state import SimulatorState


class RegionPlayer(Protocol):
    def submit_region(
        self, pending: PendingIframe, prompt: str | None, mask: Image.Image
    ) -> bool: ...


class InpaintApi:
    def __init__(self, state: SimulatorState, bot: RegionPlayer) -> None:
        self._state = state
        self._bot = bot

    async def submit_job(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _refuse("the body is not JSON")
        if not isinstance(body, dict):
            return _refuse("the body is not a JSON object")
        pending = self._state.iframes.get(str(body.get("customId")))
        if pending is None:
            return _refuse("unknown or already used customId")
        mask = _mask(body.get("mask"))
        if mask is None:
            return _refuse("mask must be a base64 image")
        prompt = body.get("prompt")
        edited = prompt.strip() if isinstance(prompt, str) and prompt.strip() else None
        self._state.iframes.take(pending.token)
        if not self._bot.submit_region(pending, edited, mask):
            return _refuse("the job to vary is no longer known")
        return JSONResponse({"success": True})


def _mask(raw: object) -> Image.Image | None:
    if not isinstance(raw, str) or not raw:
        return None
    encoded = raw.split(",", 1)[1] if raw.startswith("data:") else raw
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return open_image(data)


def _refuse(message: str) -> Response:
    return JSONResponse({"success": False, "error": message}, status_code=400)
