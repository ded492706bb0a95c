"""Route one gateway dispatch of an account to its channel's correlator (pure).

A user session receives everything the user sees (every guild, every DM, reactions, read
states...). Only Midjourney bot messages in the account's channel and the interaction echoes
matter (reference §2.4 "Filtering"); the rest is dropped here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mjapi.domain.events import BackendEvent
from mjapi.transports.discord.correlate import Correlator
from mjapi.transports.discord.interpret import interpret
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID

MESSAGE_CREATE = "MESSAGE_CREATE"
MESSAGE_UPDATE = "MESSAGE_UPDATE"
MESSAGE_DELETE = "MESSAGE_DELETE"
#: Both echo ``{id, nonce}`` of our interaction (captures 04/05); either teaches the id.
INTERACTION_ECHOES = frozenset({"INTERACTION_CREATE", "INTERACTION_SUCCESS"})
INTERACTION_FAILURE = "INTERACTION_FAILURE"
#: How much of an unrecognised message's JSON a warning shows.
PAYLOAD_LOG_LIMIT = 4096


@dataclass(frozen=True)
class Routed:
    """What one dispatch caused."""

    events: list[BackendEvent] = field(default_factory=list)
    #: a Midjourney message nothing could make sense of, to be reported (once per message id)
    unrecognised: dict[str, Any] | None = None


def route(correlator: Correlator, name: str, data: Any) -> Routed:
    """The job and account events one dispatch causes in ``correlator``'s channel."""
    if not isinstance(data, dict):
        return Routed()
    if name in (MESSAGE_CREATE, MESSAGE_UPDATE):
        return _message(correlator, name, data)
    if name == MESSAGE_DELETE:
        if data.get("channel_id") != correlator.channel_id or not isinstance(data.get("id"), str):
            return Routed()
        return Routed(list(correlator.on_message_delete(data["id"])))
    if name in INTERACTION_ECHOES:
        interaction_id = data.get("id")
        if isinstance(interaction_id, str):
            correlator.on_interaction(_nonce(data), interaction_id)
        return Routed()
    if name == INTERACTION_FAILURE:
        return Routed(list(correlator.on_interaction_failure(_nonce(data))))
    return Routed()


def _message(correlator: Correlator, name: str, data: dict[str, Any]) -> Routed:
    # The account's channel, plus the user's DM with the bot where seed DMs arrive (§3.4).
    # Checked first, before anything is read: a user session sees every channel of the user.
    channel_id = data.get("channel_id")
    if channel_id != correlator.channel_id and not correlator.watches(channel_id):
        return Routed()
    # interpret() checks the author before it reads or builds anything else (capture 29).
    message = interpret(data)
    if message is None:
        return Routed()  # not the Midjourney bot
    seen = correlator.observe(message, created=name == MESSAGE_CREATE)
    return Routed(seen.events, data if seen.unrecognised else None)


def payload_excerpt(payload: Any, limit: int = PAYLOAD_LOG_LIMIT) -> str:
    """``payload`` as compact JSON, cut to ``limit`` characters for a log line."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def midjourney_dm(ready: Any) -> str | None:
    """The DM channel with the Midjourney bot among READY's ``private_channels`` (§2.3)."""
    channels = ready.get("private_channels") if isinstance(ready, dict) else None
    for channel in channels if isinstance(channels, list) else []:
        if isinstance(channel, dict) and is_dm_with(channel, MIDJOURNEY_APPLICATION_ID):
            return str(channel["id"])
    return None


def is_dm_with(channel: dict[str, Any], user_id: str) -> bool:
    """True for a one-to-one DM channel (type 1) whose only recipient is ``user_id``."""
    if channel.get("type", 1) != 1 or not isinstance(channel.get("id"), str):
        return False
    # Recipients come as user objects; a user session's READY lists recipient_ids (BAI).
    recipients = channel.get("recipients") or []
    ids = {r.get("id") for r in recipients if isinstance(r, dict)}
    ids.update(channel.get("recipient_ids") or [])
    return ids == {user_id}


def _nonce(data: dict[str, Any]) -> str | None:
    nonce = data.get("nonce")
    return str(nonce) if isinstance(nonce, str | int) and not isinstance(nonce, bool) else None
