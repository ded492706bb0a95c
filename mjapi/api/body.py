"""Reading request bodies: JSON (documented) or form posts (what useapi's own PHP client sends)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from mjapi.errors import BadRequest

#: Large enough for a Vary (Region) mask (a base64 PNG), small enough to refuse abuse.
MAX_BODY_BYTES = 10_000_000


async def read_body(request: Request) -> dict[str, Any]:
    """The request's fields as a dict; an empty body is an empty dict."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _form(request)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("Request body is too large")
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    except RecursionError as exc:
        raise BadRequest("Request body is nested too deeply") from exc
    if not isinstance(parsed, dict):
        raise BadRequest("Request body must be a JSON object")
    return parsed


async def _form(request: Request) -> dict[str, Any]:
    try:
        form = await request.form()
    except Exception as exc:  # starlette raises several parser errors for broken multipart
        raise BadRequest("Request body is not a valid form") from exc
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value)
    # Lists arrive as repeated fields (``blendUrls=a&blendUrls=b``) or ``blendUrls[]``.
    for key in ("blendUrls", "blendUrls[]"):
        urls = [v for v in form.getlist(key) if isinstance(v, str)]
        if urls:
            fields["blendUrls"] = urls
    return fields
