"""Bodies of ``POST /interactions`` (pure): slash commands, button clicks, modal submits.

Shapes: reference §1.4 (type 2), §1.5 (type 3, capture 35), §1.6 (type 5), §1.9 (uploads as
type-11 options), capture 36 (a browser's /imagine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mjapi.errors import TransportError
from mjapi.transports.discord.commands import CHAT_INPUT, CommandRef
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID

#: Discord application-command option types (reference §1.3 "options (type,name)").
SUB_COMMAND = 1
STRING = 3
ATTACHMENT = 11
#: Interaction types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
MODAL_SUBMIT = 5
#: Component types: a button, an action row, a text input.
BUTTON = 2
ACTION_ROW = 1
TEXT_INPUT = 4


@dataclass(frozen=True)
class Where:
    """Where an interaction is sent from: the channel, its guild (None in a DM), the session."""

    channel_id: str
    guild_id: str | None
    session_id: str


@dataclass(frozen=True)
class Uploaded:
    """A file already uploaded through the attachment flow (§1.9 steps 1-3)."""

    #: the id we gave the file in the upload request; options name it as their value
    id: str
    filename: str
    uploaded_filename: str

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "filename": self.filename,
            "uploaded_filename": self.uploaded_filename,
        }


def command_payload(
    command: CommandRef,
    where: Where,
    nonce: str,
    options: Sequence[dict[str, Any]] = (),
    attachments: Sequence[Uploaded] = (),
) -> dict[str, Any]:
    """A type-2 slash command (§1.4)."""
    return _envelope(
        APPLICATION_COMMAND,
        where,
        nonce,
        {
            "version": command.version,
            "id": command.id,
            "name": command.name,
            "type": CHAT_INPUT,
            "options": list(options),
            "attachments": [a.to_json() for a in attachments],
        },
        application_id=command.application_id,
    )


def click_payload(
    where: Where, nonce: str, message_id: str, message_flags: int, custom_id: str
) -> dict[str, Any]:
    """A type-3 button click (§1.5, capture 35): ``message_flags`` echo the clicked message's."""
    payload = _envelope(
        MESSAGE_COMPONENT, where, nonce, {"component_type": BUTTON, "custom_id": custom_id}
    )
    payload["message_id"] = message_id
    payload["message_flags"] = message_flags
    return payload


def modal_payload(
    where: Where, nonce: str, modal_id: str, modal_custom_id: str, field_id: str, value: str
) -> dict[str, Any]:
    """A type-5 modal submit with one text field (§1.6); always a fresh nonce (§1.7)."""
    field = {"type": TEXT_INPUT, "custom_id": field_id, "value": value}
    data = {
        "id": modal_id,
        "custom_id": modal_custom_id,
        "components": [{"type": ACTION_ROW, "components": [field]}],
    }
    return _envelope(MODAL_SUBMIT, where, nonce, data)


def _envelope(
    kind: int,
    where: Where,
    nonce: str,
    data: dict[str, Any],
    *,
    application_id: str = MIDJOURNEY_APPLICATION_ID,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": kind,
        "application_id": application_id,
        "channel_id": where.channel_id,
        "session_id": where.session_id,
        "nonce": nonce,
        "data": data,
    }
    # DM requests carry no guild_id at all (TAI seed.json; capture 36).
    if where.guild_id:
        payload["guild_id"] = where.guild_id
    return payload


# -- options, checked against the command's schema from the index ------------------------------


def imagine_payload(
    command: CommandRef,
    *,
    channel_id: str,
    guild_id: str | None,
    session_id: str,
    nonce: str,
    prompt: str,
) -> dict[str, Any]:
    """The type-2 interaction body for ``/imagine`` (reference §1.4, capture 36)."""
    where = Where(channel_id, guild_id, session_id)
    return command_payload(command, where, nonce, imagine_options(command, prompt))


def imagine_options(command: CommandRef, prompt: str) -> list[Any]:
    """``prompt`` (a string), the only option of /imagine (capture 36)."""
    return [_option(command, "prompt", STRING, prompt)]


def blend_options(command: CommandRef, images: Sequence[Uploaded], dimensions: str) -> list[Any]:
    """``image1..imageN`` (attachments) + ``dimensions`` (NZK blend; URC blendInternal)."""
    options = [
        _option(command, f"image{i}", ATTACHMENT, image.id)
        for i, image in enumerate(images, start=1)
    ]
    options.append(_option(command, "dimensions", STRING, dimensions))
    return options


def describe_options(command: CommandRef, image: Uploaded) -> list[Any]:
    """``image`` (an attachment), TAI describe.json."""
    return [_option(command, "image", ATTACHMENT, image.id)]


def prefer_options(command: CommandRef, toggle: str) -> list[Any]:
    """``/prefer remix`` / ``/prefer variability``: a sub-command without options (ERT)."""
    _require(command, toggle, SUB_COMMAND)
    return [{"type": SUB_COMMAND, "name": toggle, "options": []}]


def _option(command: CommandRef, name: str, kind: int, value: Any) -> dict[str, Any]:
    _require(command, name, kind)
    return {"type": kind, "name": name, "value": value}


def _require(command: CommandRef, name: str, kind: int) -> None:
    # Only when the index described the options: a schema change must fail loudly here rather
    # than as a Discord 400 the user cannot read.
    if command.option_types and command.option_type(name) != kind:
        raise TransportError(f"Midjourney's /{command.name} has no option {name!r} of type {kind}")
