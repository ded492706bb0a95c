"""Which payload a JSON value is, and one result per message or payload in it (pure).

Accepted shapes: a gateway frame ``{op, t, s, d}``; a bare message object; a list of either (REST
history newest first, or a gateway log), kept in file order; a REST body (command index, Discord
error, 429); an ``/interactions`` request body, also as a multipart ``{"payload_json": "…"}``; a
bare gateway ``d`` that says what it is (a reaction); and any of these inside a capture wrapper
(``{"source": …, "notes": …, "payload": …}``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mjapi.inspect import bodies, gateway
from mjapi.inspect.messages import describe_message

#: Keys a capture wrapper uses for its provenance; a Discord payload has none of them at its top.
_WRAPPER_NOTES = frozenset(
    {"source", "sources", "notes", "note", "comment", "expected", "captured", "what", "url"}
)
#: Keys a capture wrapper keeps the captured JSON under, most specific first.
_WRAPPER_PAYLOADS = (
    "payload",
    "frames",
    "events",
    "messages",
    "message",
    "frame",
    "body",
    "capture",
    "request",
    "response",
    "data",
)
#: Keys that make an object a Discord payload even when it also has a note-like key.
_PAYLOAD_MARKERS = frozenset({"op", "author", "type", "application_commands", "retry_after"})


def inspect_payload(payload: Any) -> list[dict[str, Any]]:
    """One result per message or payload in ``payload``, in the order they appear."""
    return list(_walk(payload))


def _walk(payload: Any) -> Iterator[dict[str, Any]]:
    if isinstance(payload, list):
        for item in payload:
            yield from _walk(item)
        return
    if not isinstance(payload, Mapping):
        yield _unknown(payload)
        return
    inner = _wrapped(payload)
    if inner is not None:
        yield from _walk(inner)
        return
    yield describe(payload)


def _wrapped(obj: Mapping[str, Any]) -> Any:
    """The captured JSON inside a wrapper object with notes, or None when ``obj`` is the payload."""
    if obj.keys() & _PAYLOAD_MARKERS or not obj.keys() & _WRAPPER_NOTES:
        return None
    key = next((k for k in _WRAPPER_PAYLOADS if isinstance(obj.get(k), Mapping | list)), None)
    return obj[key] if key is not None else None


def describe(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The result for one JSON object, whatever Discord payload it is."""
    if isinstance(obj.get("op"), int):
        return _frame(obj)
    if isinstance(obj.get("payload_json"), str):
        return bodies.multipart_request(obj["payload_json"])
    if "application_commands" in obj:
        return bodies.command_index(obj)
    if "retry_after" in obj:
        return bodies.rate_limited(obj)
    if isinstance(obj.get("code"), int) and "message" in obj:
        return bodies.discord_error(obj)
    if bodies.is_interaction_request(obj):
        return bodies.interaction_request(obj)
    if "author" in obj or {"id", "channel_id"} <= obj.keys():
        return describe_message(obj)
    if gateway.is_reaction(obj):
        # Capture 15: a MESSAGE_REACTION_ADD ``d`` saved without its frame.
        return gateway.reaction(obj)
    return _unknown(obj)


def _frame(frame: Mapping[str, Any]) -> dict[str, Any]:
    event = frame.get("t")
    data = frame.get("d")
    head: dict[str, Any] = {"event": event or gateway.op_name(frame["op"]), "seq": frame.get("s")}
    if frame["op"] != gateway.DISPATCH:
        return head | gateway.control(frame["op"], data)
    if not isinstance(data, Mapping) or not isinstance(event, str):
        return head | _unknown(data)
    if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
        return head | describe_message(data)
    return head | gateway.dispatch(event, data)


def _unknown(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "unknown", "status": None}
    if isinstance(value, Mapping):
        result["keys"] = sorted(value)  # enough to recognise the payload, nothing of its values
    else:
        result["json_type"] = type(value).__name__
    result["note"] = "not a Discord payload mjapi knows"
    return result
