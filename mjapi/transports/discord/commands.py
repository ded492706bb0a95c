"""Midjourney slash-command ids and versions, discovered per channel and refreshed when stale.

Command versions drift (reference §1.3, §8): a stale one makes ``POST /interactions`` answer 400 /
50035 ``INTERACTION_APPLICATION_COMMAND_INVALID_VERSION`` (capture 33). So the ids come from the
channel's ``application-command-index`` (captures 30, 31), are cached, and an interaction refused
for that reason is retried once with a freshly fetched index.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mjapi.errors import TransportError
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID, STALE_COMMAND_VERSION
from mjapi.transports.discord.rest import DiscordRest, InvalidFormBody

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A chat-input (slash) command in Discord's command type numbering.
CHAT_INPUT = 1


@dataclass(frozen=True)
class CommandRef:
    """What a type-2 interaction needs to name a slash command."""

    id: str
    version: str
    application_id: str
    name: str
    #: top-level option names and their types, as the index describes them (empty if it did not)
    option_types: tuple[tuple[str, int], ...] = field(default=(), compare=False)

    def option_type(self, name: str) -> int | None:
        """The type of option ``name``, or None when the schema does not list it."""
        return next((kind for option, kind in self.option_types if option == name), None)


class CommandNotFound(TransportError):
    """The channel's command index has no such Midjourney command."""


def find_command(
    index: dict[str, Any], name: str, application_id: str = MIDJOURNEY_APPLICATION_ID
) -> CommandRef:
    """The chat-input command ``name`` of ``application_id`` in an index response."""
    for command in index.get("application_commands") or []:
        if not isinstance(command, dict):
            continue
        if (
            command.get("name") == name
            and str(command.get("application_id")) == application_id
            and command.get("type", CHAT_INPUT) == CHAT_INPUT
        ):
            return CommandRef(
                id=str(command["id"]),
                version=str(command["version"]),
                application_id=application_id,
                name=name,
                option_types=_option_types(command.get("options")),
            )
    raise CommandNotFound(f"Midjourney command /{name} is not available in this channel")


def is_stale_version(exc: BaseException) -> bool:
    """True for the 400 Discord gives when a command version is outdated (capture 33)."""
    return isinstance(exc, InvalidFormBody) and STALE_COMMAND_VERSION in exc.error_codes


class CommandCatalog:
    """Per-channel cache of Midjourney slash commands."""

    def __init__(self) -> None:
        self._indexes: dict[str, dict[str, Any]] = {}

    def forget(self, channel_id: str) -> None:
        """Drop what is cached for a channel."""
        self._indexes.pop(channel_id, None)

    async def lookup(
        self,
        rest: DiscordRest,
        channel_id: str,
        guild_id: str | None,
        name: str,
        *,
        refresh: bool = False,
    ) -> CommandRef:
        """The command, from the cache unless ``refresh`` or not yet fetched."""
        index = None if refresh else self._indexes.get(channel_id)
        if index is None:
            index = await rest.command_index(channel_id, guild_id)
            self._indexes[channel_id] = index
        return find_command(index, name)

    async def invoke(
        self,
        rest: DiscordRest,
        channel_id: str,
        guild_id: str | None,
        name: str,
        send: Callable[[CommandRef], Awaitable[T]],
    ) -> T:
        """Run ``send`` with the command; once more with a fresh index if its version was stale."""
        command = await self.lookup(rest, channel_id, guild_id, name)
        try:
            return await send(command)
        except InvalidFormBody as exc:
            if not is_stale_version(exc):
                raise
            log.info("command /%s version %s is outdated; refreshing", name, command.version)
        fresh = await self.lookup(rest, channel_id, guild_id, name, refresh=True)
        return await send(fresh)


def _option_types(options: Any) -> tuple[tuple[str, int], ...]:
    # e.g. blend: (11, image1), (11, image2), (3, dimensions), (11, image3..5) (capture 30)
    found: list[tuple[str, int]] = []
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict):
            name, kind = option.get("name"), option.get("type")
            if isinstance(name, str) and isinstance(kind, int):
                found.append((name, kind))
    return tuple(found)
