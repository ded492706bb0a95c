"""REST bodies and ``/interactions`` requests: what they are and the fields that matter."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from mjapi.transports.discord.clicks import parse_click
from mjapi.transports.discord.protocol import INVALID_FORM_BODY, STALE_COMMAND_VERSION

#: Interaction types a client sends (Discord's numbering).
_INTERACTION_TYPES = {2: "application_command", 3: "message_component", 5: "modal_submit"}
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_STALE_NOTE = "stale command version: refresh the application-command index and retry"


# -- application-command index / search -------------------------------------------------------


def command_index(body: Mapping[str, Any]) -> dict[str, Any]:
    """``application-command-index`` (captures 30, 31) or a command search (capture 32)."""
    searched = "cursor" in body
    result: dict[str, Any] = {
        "kind": "command_search" if searched else "command_index",
        "status": None,
        "version": body.get("version"),
        "applications": [
            {"id": app.get("id"), "name": app.get("name")} for app in _objects(body, "applications")
        ],
        "commands": [_command(c) for c in _objects(body, "application_commands")],
    }
    if searched:
        cursor = body.get("cursor")
        result["cursor_next"] = cursor.get("next") if isinstance(cursor, Mapping) else None
    return result


def _command(command: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": command.get("name"),
        "id": command.get("id"),
        "version": command.get("version"),
        # 1 slash command, 2 user command, 3 message command ("Cancel Job")
        "type": command.get("type"),
        "application_id": command.get("application_id"),
        "guild_id": command.get("guild_id"),
        "options": [
            {"name": o.get("name"), "type": o.get("type"), "required": o.get("required", False)}
            for o in _objects(command, "options")
        ],
    }


# -- errors -----------------------------------------------------------------------------------


def rate_limited(body: Mapping[str, Any]) -> dict[str, Any]:
    """A 429 body (capture 34): how long to wait and whether the limit is global."""
    return {
        "kind": "rate_limited",
        "status": None,
        "http_status": 429,
        "retry_after": body.get("retry_after"),
        "global": body.get("global", False),
        "code": body.get("code"),
        "message": body.get("message"),
    }


def discord_error(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Discord JSON error body; 50035 lists nested field errors (capture 33)."""
    errors = list(_field_errors(body.get("errors"), ""))
    result: dict[str, Any] = {
        "kind": "discord_error",
        "status": None,
        # Discord answers "Invalid Form Body" with 400 only; other codes share statuses
        "http_status": 400 if body["code"] == INVALID_FORM_BODY else None,
        "code": body["code"],
        "message": body.get("message"),
        "errors": errors,
    }
    if any(e["code"] == STALE_COMMAND_VERSION for e in errors):
        result["note"] = _STALE_NOTE
    return result


def _field_errors(node: Any, path: str) -> Iterator[dict[str, Any]]:
    """Every ``_errors`` entry of a 50035 tree with the field path it belongs to."""
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        if key == "_errors" and isinstance(value, list):
            for error in value:
                if isinstance(error, Mapping):
                    yield {"path": path, "code": error.get("code"), "message": error.get("message")}
        else:
            yield from _field_errors(value, f"{path}.{key}" if path else str(key))


# -- interaction requests ---------------------------------------------------------------------


def is_interaction_request(body: Mapping[str, Any]) -> bool:
    """A ``POST /interactions`` body (captures 35, 36), not a message or event."""
    return (
        body.get("type") in _INTERACTION_TYPES
        and isinstance(body.get("data"), Mapping)
        and "author" not in body
        and any(k in body for k in ("application_id", "nonce", "session_id", "channel_id"))
    )


def multipart_request(payload_json: str) -> dict[str, Any]:
    """The ``payload_json`` part of a multipart ``/interactions`` POST (uploads, capture 36)."""
    try:
        body = json.loads(payload_json)
    except json.JSONDecodeError as exc:
        return {"kind": "unknown", "status": None, "note": f"payload_json is not JSON: {exc.msg}"}
    if not isinstance(body, Mapping) or not is_interaction_request(body):
        return {"kind": "unknown", "status": None, "note": "payload_json is no interaction"}
    return interaction_request(body, multipart=True)


def interaction_request(body: Mapping[str, Any], *, multipart: bool = False) -> dict[str, Any]:
    """Type, target and the command or button an ``/interactions`` body names."""
    kind = body["type"]
    data: Mapping[str, Any] = body["data"]
    result: dict[str, Any] = {
        "kind": "interaction_request",
        "status": None,
        "type": kind,
        "type_name": _INTERACTION_TYPES[kind],
        "multipart": multipart,
        "ids": {
            "nonce": _text(body.get("nonce")),
            "application_id": _text(body.get("application_id")),
            "channel_id": _text(body.get("channel_id")),
            "guild_id": _text(body.get("guild_id")),
            "message_id": _text(body.get("message_id")),
        },
        "session_id": _text(body.get("session_id")),
        "message_flags": body.get("message_flags"),
    }
    if kind == 2:
        return result | {"command": _invoked_command(data)}
    if kind == 3:
        return result | _click(data)
    return result | _modal_submit(data)


def _invoked_command(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": data.get("name"),
        "id": data.get("id"),
        "version": data.get("version"),
        "options": _options(data.get("options")),
        "attachments": [a.get("filename") for a in _objects(data, "attachments")],
    }


def _options(raw: Any) -> list[dict[str, Any]]:
    # Sub-commands (/prefer remix) nest their own options.
    options = []
    for option in raw if isinstance(raw, list) else []:
        if isinstance(option, Mapping):
            item = {k: option.get(k) for k in ("name", "type", "value")}
            if "options" in option:
                item["options"] = _options(option["options"])
            options.append(item)
    return options


def _click(data: Mapping[str, Any]) -> dict[str, Any]:
    custom_id = _text(data.get("custom_id"))
    click = parse_click(custom_id)
    return {
        "custom_id": custom_id,
        "component_type": data.get("component_type"),
        "click": {
            "family": click.family.value if click else None,
            "index": click.index if click else None,
            "job_hash": _hash_in_custom_id(custom_id),
        },
    }


def _hash_in_custom_id(custom_id: str | None) -> str | None:
    # MJ::JOB::upsample::4::<hash>, MJ::Outpaint::50::1::<hash>::SOLO ...: one "::" segment.
    parts = custom_id.split("::") if custom_id and custom_id.startswith("MJ::") else []
    return next((p.lower() for p in parts if _UUID_RE.match(p)), None)


def _modal_submit(data: Mapping[str, Any]) -> dict[str, Any]:
    # Text inputs sit in action rows: components[].components[] {custom_id, value}.
    fields = [
        {"custom_id": field.get("custom_id"), "value": field.get("value")}
        for row in _objects(data, "components")
        for field in _objects(row, "components")
    ]
    return {"custom_id": _text(data.get("custom_id")), "fields": fields}


# -- helpers ----------------------------------------------------------------------------------


def _objects(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
