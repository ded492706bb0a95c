"""``POST /interactions``: read the body (JSON or multipart ``payload_json``) and validate it.

Checks, in Discord's order of concern: interaction type, application, channel, command id and
version against the command index, options, nonce. Each refusal is a ``DiscordError`` with the
status and body Discord uses (capture 33 for a stale version).

Simulator choices (documented for transport authors):

* type 3 (buttons, selects) and type 5 (modal submits) are refused with 400 and an inner code
  ``SIMULATOR_NOT_IMPLEMENTED`` until the simulator plays them;
* of the chat-input commands only imagine, fast, relax and turbo are played; the other commands
  of the index get the same 400 (a client finds out loudly, not by waiting for nothing);
* ``session_id`` is not required to be a live gateway session of the user (Discord is lenient
  there too: clients long sent a hard-coded one, reference §1.7).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from mjapi.simulator import errors
from mjapi.simulator.bot import PLAYED_COMMANDS
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.state import SimChannel, SimulatorState
from mjapi.simulator.users import MJ_BOT_ID, SimUser

log = logging.getLogger(__name__)

APPLICATION_COMMAND = 2
_LATER_TYPES = {3: "component interactions (type 3: buttons, selects)", 5: "modal submits (type 5)"}
#: Discord's limit on a nonce's length
_NONCE_MAX = 25


@dataclass(frozen=True)
class AcceptedCommand:
    """A valid application command interaction."""

    channel: SimChannel
    name: str
    #: option name -> value (top-level options)
    options: dict[str, Any]
    nonce: str | None


async def read_body(request: Request) -> JsonObject:
    """The interaction JSON, sent as the body or as the ``payload_json`` form part (§1.2)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form() as form:
            part = form.get("payload_json")
            raw: str | bytes = await part.read() if isinstance(part, UploadFile) else part or ""
    else:
        raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_json() from None
    if not isinstance(body, dict):
        raise errors.invalid_json()
    return body


def validate(
    body: JsonObject, user: SimUser, state: SimulatorState, live_sessions: Collection[str]
) -> AcceptedCommand:
    """The command the body asks for, or the DiscordError Discord would answer.

    ``live_sessions``: the session ids of the user's READY gateway connections.
    """
    _check_type(body.get("type"))
    if body.get("application_id") != MJ_BOT_ID:
        raise errors.unknown("Application", errors.UNKNOWN_APPLICATION)
    channel = _channel(body, user, state)
    data = body.get("data")
    if not isinstance(data, dict):
        raise errors.invalid_form_body(("data",), "BASE_TYPE_REQUIRED", "This field is required")
    name = _command_name(data, state)
    options = _options(data)
    if name == "imagine":
        _require_prompt(options)
    _note_session(body.get("session_id"), user, live_sessions)
    return AcceptedCommand(channel=channel, name=name, options=options, nonce=_nonce(body))


def _check_type(kind: object) -> None:
    if kind == APPLICATION_COMMAND:
        return
    if isinstance(kind, int) and kind in _LATER_TYPES:
        raise errors.not_implemented(("type",), _LATER_TYPES[kind])
    raise errors.invalid_form_body(
        ("type",), "BASE_TYPE_CHOICES", "Value must be one of {2, 3, 5}."
    )


def _channel(body: JsonObject, user: SimUser, state: SimulatorState) -> SimChannel:
    channel = state.channels.get(str(body.get("channel_id")))
    if channel is None:
        raise errors.unknown("Channel", errors.UNKNOWN_CHANNEL)
    if channel.owner_id != user.id:
        raise errors.missing_access()
    if body.get("guild_id") != channel.guild_id:
        # a DM interaction carries no guild_id (or null); a server one carries the channel's guild
        raise errors.invalid_form_body(
            ("guild_id",), "INTERACTION_GUILD_MISMATCH", "guild_id does not match channel_id"
        )
    return channel


def _command_name(data: JsonObject, state: SimulatorState) -> str:
    command = state.commands.by_id(str(data.get("id")))
    if command is None:
        raise errors.unknown("application command", errors.UNKNOWN_APPLICATION_COMMAND)
    if data.get("version") != command["version"]:
        raise errors.outdated_command()
    name = str(command["name"])
    if data.get("name") != name:
        raise errors.invalid_form_body(
            ("data", "name"), "INTERACTION_APPLICATION_COMMAND_INVALID", f"expected {name!r}"
        )
    if name not in PLAYED_COMMANDS:
        raise errors.not_implemented(("data", "name"), f"the /{name} command")
    return name


def _options(data: JsonObject) -> dict[str, Any]:
    options = data.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
        raise errors.invalid_form_body(("data", "options"), "BASE_TYPE_ARRAY", "Must be an array.")
    return {str(option.get("name")): option.get("value") for option in options}


def _require_prompt(options: dict[str, Any]) -> None:
    prompt = options.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise errors.invalid_form_body(
            ("data", "options"), "BASE_TYPE_REQUIRED", "The prompt option is required"
        )


def _nonce(body: JsonObject) -> str | None:
    nonce = body.get("nonce")
    if nonce is None:
        return None
    if isinstance(nonce, bool) or not isinstance(nonce, str | int):
        raise errors.invalid_form_body(("nonce",), "BASE_TYPE_BAD_TYPE", "Must be a string.")
    text = str(nonce)
    if len(text) > _NONCE_MAX:
        raise errors.invalid_form_body(
            ("nonce",), "BASE_TYPE_BAD_LENGTH", f"Must be {_NONCE_MAX} or fewer in length."
        )
    return text


def _note_session(session_id: object, user: SimUser, live_sessions: Collection[str]) -> None:
    # Accepted either way (module docstring); logged so a transport bug can be spotted.
    if session_id not in live_sessions:
        log.debug("interaction of user %s names no live gateway session", user.id)
