"""``POST /interactions``: read the body (JSON or multipart ``payload_json``) and validate it.

Checks, in Discord's order of concern: interaction type, application, channel, command id and
version against the command index, options, nonce. Each refusal is a ``DiscordError`` with the
status and body Discord uses (capture 33 for a stale version).

Type 3 (button clicks) must name a bot message of the channel that carries the clicked
custom_id, with ``message_flags`` equal to the message's flags (reference §1.5); type 5 (modal
submits) must name a modal the bot opened for this user (reference §1.6).

Simulator choices (documented for transport authors):

* commands, sub-commands and buttons the simulator does not play (e.g. /shorten, /prefer suffix,
  select menus) are refused with 400 and an inner code ``SIMULATOR_NOT_IMPLEMENTED`` (a client
  finds out loudly, not by waiting for nothing);
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

from mjapi.simulator import custom_ids, errors
from mjapi.simulator.commands import PLAYED_COMMANDS, PLAYED_PREFERENCES
from mjapi.simulator.components import custom_ids_of
from mjapi.simulator.custom_ids import ButtonAction
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.pending import PendingModal
from mjapi.simulator.state import SimChannel, SimulatorState
from mjapi.simulator.uploads import ResolvedFile
from mjapi.simulator.users import MJ_BOT_ID, SimUser

log = logging.getLogger(__name__)

APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
MODAL_SUBMIT = 5
#: Discord's limit on a nonce's length
_NONCE_MAX = 25
_BUTTON = 2
_ATTACHMENT_OPTION = 11
#: buttons whose message need not be a result the bot remembers (the bot only acknowledges
#: the moderation and CAPTCHA ones)
_STATELESS = {
    custom_ids.Kind.CANCEL,
    custom_ids.Kind.BOOKMARK,
    custom_ids.Kind.APPEAL,
    custom_ids.Kind.ACKNOWLEDGE,
    custom_ids.Kind.CAPTCHA,
}


@dataclass(frozen=True)
class AcceptedCommand:
    """A valid application command interaction."""

    channel: SimChannel
    name: str
    #: option name -> value (top-level options); attachment options resolved to their file
    options: dict[str, Any]
    nonce: str | None


@dataclass(frozen=True)
class AcceptedClick:
    """A valid button click (type 3)."""

    channel: SimChannel
    #: the clicked message as stored
    message: JsonObject
    custom_id: str
    action: ButtonAction
    nonce: str | None


@dataclass(frozen=True)
class AcceptedModal:
    """A valid modal submit (type 5)."""

    channel: SimChannel
    modal: PendingModal
    #: the submitted text of the modal's prompt field
    prompt: str
    nonce: str | None


Accepted = AcceptedCommand | AcceptedClick | AcceptedModal


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
) -> Accepted:
    """What the body asks for, or the DiscordError Discord would answer.

    ``live_sessions``: the session ids of the user's READY gateway connections.
    """
    kind = _check_type(body.get("type"))
    if body.get("application_id") != MJ_BOT_ID:
        raise errors.unknown("Application", errors.UNKNOWN_APPLICATION)
    channel = _channel(body, user, state)
    data = body.get("data")
    if not isinstance(data, dict):
        raise errors.invalid_form_body(("data",), "BASE_TYPE_REQUIRED", "This field is required")
    _note_session(body.get("session_id"), user, live_sessions)
    nonce = _nonce(body)
    if kind == MESSAGE_COMPONENT:
        return _click(body, data, channel, state, nonce)
    if kind == MODAL_SUBMIT:
        return _modal_submit(data, user, channel, state, nonce)
    name = _command_name(data, state)
    options = _options(data, user, state)
    _check_command_options(name, options)
    return AcceptedCommand(channel=channel, name=name, options=options, nonce=nonce)


def _check_type(kind: object) -> int:
    if isinstance(kind, int) and kind in (APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT):
        return kind
    raise errors.invalid_form_body(
        ("type",), "BASE_TYPE_CHOICES", "Value must be one of {2, 3, 5}."
    )


def _click(
    body: JsonObject,
    data: JsonObject,
    channel: SimChannel,
    state: SimulatorState,
    nonce: str | None,
) -> AcceptedClick:
    """A button click on a bot message of this channel (reference §1.5)."""
    message = state.message(channel.id, str(body.get("message_id")))
    if message is None or message["author"]["id"] != MJ_BOT_ID:
        raise errors.unknown("Message", errors.UNKNOWN_MESSAGE)
    if data.get("component_type") != _BUTTON:
        raise errors.not_implemented(("data", "component_type"), "select menus (component_type 3)")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or custom_id not in custom_ids_of(message["components"]):
        raise errors.invalid_form_body(
            ("data", "custom_id"), "COMPONENT_VALIDATION_FAILED", "Component validation failed"
        )
    if body.get("message_flags") != message["flags"]:
        raise errors.invalid_form_body(
            ("message_flags",), "MESSAGE_FLAGS_MISMATCH", "message_flags do not match the message"
        )
    action = custom_ids.parse(custom_id)
    if action is None:
        raise errors.not_implemented(("data", "custom_id"), f"the button {custom_id!r}")
    if action.kind not in _STATELESS and state.results.by_message(message["id"]) is None:
        raise errors.not_implemented(
            ("message_id",), "buttons of a message the simulator no longer remembers"
        )
    return AcceptedClick(channel, message, custom_id, action, nonce)


def _modal_submit(
    data: JsonObject, user: SimUser, channel: SimChannel, state: SimulatorState, nonce: str | None
) -> AcceptedModal:
    """A modal submit naming a modal the bot opened for this user here (reference §1.6)."""
    modal = state.modals.get(str(data.get("id")))
    if (
        modal is None
        or modal.user_id != user.id
        or modal.channel_id != channel.id
        or data.get("custom_id") != modal.custom_id
    ):
        raise errors.invalid_form_body(
            ("data", "id"), "INTERACTION_UNKNOWN_MODAL", "Unknown modal or custom_id"
        )
    prompt = _text_value(data.get("components"), modal.field_id)
    if prompt is None or not prompt.strip():
        raise errors.invalid_form_body(
            ("data", "components"), "BASE_TYPE_REQUIRED", f"{modal.field_id} is required"
        )
    state.modals.take(modal.modal_id)
    return AcceptedModal(channel, modal, prompt.strip(), nonce)


def _text_value(rows: object, field_id: str) -> str | None:
    """The value of the text input ``field_id`` among the submitted action rows."""
    if not isinstance(rows, list):
        return None
    for row in rows:
        inputs = row.get("components") if isinstance(row, dict) else None
        for text_input in inputs if isinstance(inputs, list) else []:
            if isinstance(text_input, dict) and text_input.get("custom_id") == field_id:
                value = text_input.get("value")
                return value if isinstance(value, str) else None
    return None


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


def _options(data: JsonObject, user: SimUser, state: SimulatorState) -> dict[str, Any]:
    """Option name -> value; type 11 values resolved to the uploaded file (reference §1.9)."""
    options = data.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
        raise errors.invalid_form_body(("data", "options"), "BASE_TYPE_ARRAY", "Must be an array.")
    resolved: dict[str, Any] = {}
    for option in options:
        value = option.get("value")
        if option.get("type") == _ATTACHMENT_OPTION:
            value = _uploaded(data, value, user, state)
        resolved[str(option.get("name"))] = value
    return resolved


def _uploaded(
    data: JsonObject, value: object, user: SimUser, state: SimulatorState
) -> ResolvedFile:
    """The file of ``data.attachments`` whose id is ``value``, uploaded by this user."""
    attachments = data.get("attachments")
    entries = attachments if isinstance(attachments, list) else []
    entry = next(
        (a for a in entries if isinstance(a, dict) and str(a.get("id")) == str(value)), None
    )
    slot = None
    if entry is not None:
        slot = state.uploads.uploaded(user.id, str(entry.get("uploaded_filename")))
    if entry is None or slot is None or slot.data is None:
        raise errors.invalid_form_body(
            ("data", "attachments"), "ATTACHMENT_NOT_FOUND", "Unknown or not uploaded attachment"
        )
    return ResolvedFile(
        str(entry.get("filename") or slot.filename), slot.upload_filename, slot.data
    )


def _check_command_options(name: str, options: dict[str, Any]) -> None:
    if name == "imagine":
        _require_text(options, "prompt")
    elif name == "blend":
        if not all(isinstance(options.get(key), ResolvedFile) for key in ("image1", "image2")):
            raise _required("image1 and image2")
        if options.get("dimensions") not in (None, "--ar 2:3", "--ar 1:1", "--ar 3:2"):
            raise errors.invalid_form_body(
                ("data", "options"), "BASE_TYPE_CHOICES", "dimensions must be one of the choices"
            )
    elif name == "describe":
        if not isinstance(options.get("image"), ResolvedFile):
            _require_text(options, "link")
    elif name == "prefer":
        sub_command = next(iter(options), None)
        if sub_command not in PLAYED_PREFERENCES:
            raise errors.not_implemented(("data", "options"), f"/prefer {sub_command}")


def _require_text(options: dict[str, Any], name: str) -> None:
    value = options.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _required(f"the {name} option")


def _required(what: str) -> errors.DiscordError:
    return errors.invalid_form_body(
        ("data", "options"), "BASE_TYPE_REQUIRED", f"{what} is required"
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
