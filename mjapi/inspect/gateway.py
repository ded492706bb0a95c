"""Gateway frames that are not Midjourney messages: what they are and the fields that matter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID, Opcode

DISPATCH = Opcode.DISPATCH

_NOTES = {
    "MESSAGE_DELETE": (
        "a deleted message; not a job failure by itself (Midjourney deletes the progress "
        "message once the result is posted)"
    ),
    "INTERACTION_CREATE": "Discord accepted the interaction; its messages carry its id",
    "INTERACTION_SUCCESS": "Midjourney took the interaction; its messages follow",
    "INTERACTION_FAILURE": "Midjourney never answered the interaction: the job fails",
    "INTERACTION_MODAL_CREATE": "a modal (remix, Custom Zoom): mjapi answers with a type-5 submit",
    "INTERACTION_IFRAME_MODAL_CREATE": "the Vary (Region) editor: mjapi posts the mask to it",
    "READY": "the gateway session is up",
}


def op_name(op: int) -> str:
    """``HEARTBEAT_ACK`` for 11 ...; ``OP_<n>`` for opcodes a user session never sees."""
    try:
        return Opcode(op).name
    except ValueError:
        return f"OP_{op}"


def control(op: int, data: Any) -> dict[str, Any]:
    """A non-dispatch frame (heartbeat, hello, reconnect ...): never a job event."""
    result: dict[str, Any] = {"kind": op_name(op).lower(), "status": None}
    if op == Opcode.HELLO and isinstance(data, Mapping):
        result["heartbeat_interval"] = data.get("heartbeat_interval")
    elif op == Opcode.INVALID_SESSION:
        result["resumable"] = data is True
    # IDENTIFY and RESUME carry the account's token: nothing of their ``d`` is echoed.
    result["note"] = "gateway control frame; the message interpreter ignores it"
    return result


def dispatch(event: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """An op-0 event other than MESSAGE_CREATE/UPDATE."""
    describe = _EVENTS.get(event)
    if describe is None and event.startswith("MESSAGE_REACTION_"):
        describe = reaction
    if describe is None and event.startswith("INTERACTION_"):
        return _interaction(data) | {"kind": event.lower()} | _note(event)
    if describe is None:
        return {"kind": "gateway_event", "status": None, "note": "not used by mjapi"}
    return describe(data) | _note(event)


def _note(event: str) -> dict[str, str]:
    note = _NOTES.get(event)
    return {"note": note} if note else {}


def _interaction(data: Mapping[str, Any]) -> dict[str, Any]:
    # INTERACTION_CREATE/SUCCESS carry only {id, nonce} (captures 04, 05: no nonce when the
    # client sent none); the modal events add channel_id, custom_id and title.
    result: dict[str, Any] = {
        "kind": "interaction",
        "status": None,
        "ids": {
            "interaction_id": _text(data.get("id")),
            "nonce": _text(data.get("nonce")),
            "channel_id": _text(data.get("channel_id")),
        },
    }
    for key in ("custom_id", "title"):
        if key in data:
            result[key] = data[key]
    return result


def _message_delete(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "message_delete",
        "status": None,
        "ids": {
            "message_id": _text(data.get("id")),
            "channel_id": _text(data.get("channel_id")),
            "guild_id": _text(data.get("guild_id")),
        },
    }


def _message_delete_bulk(data: Mapping[str, Any]) -> dict[str, Any]:
    ids = data.get("ids")
    return {
        "kind": "message_delete_bulk",
        "status": None,
        "ids": {
            "message_ids": list(ids) if isinstance(ids, list) else [],
            "channel_id": _text(data.get("channel_id")),
            "guild_id": _text(data.get("guild_id")),
        },
    }


def is_reaction(data: Mapping[str, Any]) -> bool:
    """A MESSAGE_REACTION_* ``d`` even without its frame (capture 15)."""
    return "emoji" in data and "message_id" in data and "user_id" in data


def reaction(data: Mapping[str, Any]) -> dict[str, Any]:
    """Who reacted with what on which message (❌ on a bot message deletes the job message)."""
    emoji = data.get("emoji")
    author = _text(data.get("message_author_id"))
    return {
        "kind": "reaction",
        "status": None,
        "emoji": _text(emoji.get("name")) if isinstance(emoji, Mapping) else None,
        "on_midjourney_message": author == MIDJOURNEY_APPLICATION_ID if author else None,
        "ids": {
            "message_id": _text(data.get("message_id")),
            "channel_id": _text(data.get("channel_id")),
            "guild_id": _text(data.get("guild_id")),
            "user_id": _text(data.get("user_id")),
            "message_author_id": author,
        },
        "note": "a reaction, not a Midjourney message: the message interpreter ignores it",
    }


def _ready(data: Mapping[str, Any]) -> dict[str, Any]:
    user = data.get("user")
    return {
        "kind": "ready",
        "status": None,
        "session_id": _text(data.get("session_id")),
        "resume_gateway_url": _text(data.get("resume_gateway_url")),
        "ids": {
            "user_id": _text(user.get("id")) if isinstance(user, Mapping) else None,
            "midjourney_dm_channel_id": _midjourney_dm(data.get("private_channels")),
        },
    }


def _midjourney_dm(channels: Any) -> str | None:
    """The DM channel with the bot: READY lists ``recipient_ids`` (older: ``recipients``)."""
    for channel in channels if isinstance(channels, list) else []:
        if not isinstance(channel, Mapping):
            continue
        recipients = channel.get("recipient_ids") or [
            r.get("id") for r in channel.get("recipients") or [] if isinstance(r, Mapping)
        ]
        if MIDJOURNEY_APPLICATION_ID in recipients:
            return _text(channel.get("id"))
    return None


_EVENTS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "MESSAGE_DELETE": _message_delete,
    "MESSAGE_DELETE_BULK": _message_delete_bulk,
    "READY": _ready,
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
