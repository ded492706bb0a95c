"""Everything the simulator knows, in memory: users, their channels, messages, files, commands."""

from __future__ import annotations

from dataclasses import dataclass

from mjapi.simulator.cdn import Cdn
from mjapi.simulator.commands import CommandIndex
from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.users import SimUser, derive_user, is_well_formed

#: Discord's default and maximum ``limit`` of ``GET /channels/{id}/messages``
DEFAULT_PAGE = 50
MAX_PAGE = 100


@dataclass(frozen=True)
class SimChannel:
    """A channel where the bot answers exactly one simulated user."""

    id: str
    owner_id: str
    #: None for the DM with the bot
    guild_id: str | None


class SimulatorState:
    """The in-memory world; tests read it to assert on what the simulator did."""

    def __init__(self, config: SimulatorConfig, commands: CommandIndex, cdn: Cdn) -> None:
        self._config = config
        self.commands = commands
        #: the CDN's files (``len(state.attachments)``, ``state.attachments.get(...)``)
        self.attachments = cdn
        self.users: dict[str, SimUser] = {}
        self.channels: dict[str, SimChannel] = {}
        #: channel id -> message id -> the message object as last sent (deleted ones removed)
        self.messages: dict[str, dict[str, JsonObject]] = {}
        #: user id -> "fast" | "relaxed" | "turbo" (set by /fast, /relax, /turbo)
        self.modes: dict[str, str] = {}

    def user_for_token(self, token: str | None) -> SimUser | None:
        """The user a token authenticates, registered on first sight; None if refused."""
        if not token or not is_well_formed(token) or token in self._config.rejected_tokens:
            return None
        user = derive_user(token, self._config.plan_for(token))
        if user.id not in self.users:
            self._register(user)
        return self.users[user.id]

    def _register(self, user: SimUser) -> None:
        self.users[user.id] = user
        self.channels[user.dm_channel_id] = SimChannel(user.dm_channel_id, user.id, None)
        self.channels[user.guild_channel_id] = SimChannel(
            user.guild_channel_id, user.id, user.guild_id
        )
        for channel_id in (user.dm_channel_id, user.guild_channel_id):
            self.messages.setdefault(channel_id, {})

    def mode_of(self, user_id: str) -> str:
        return self.modes.get(user_id, "fast")

    def save_message(self, message: JsonObject) -> None:
        """Store a created or edited message (its latest version is what REST shows)."""
        self.messages[message["channel_id"]][message["id"]] = message

    def delete_message(self, channel_id: str, message_id: str) -> bool:
        return self.messages[channel_id].pop(message_id, None) is not None

    def last_message_id(self, channel_id: str) -> str | None:
        ids = self.messages.get(channel_id, {})
        return max(ids, key=int) if ids else None

    def channel_messages(
        self,
        channel_id: str,
        limit: int = DEFAULT_PAGE,
        before: str | None = None,
        after: str | None = None,
    ) -> list[JsonObject]:
        """A page of the channel's history, newest first, like Discord."""
        stored = self.messages.get(channel_id, {})
        ids = sorted(stored, key=int, reverse=True)
        if before is not None:
            ids = [i for i in ids if int(i) < int(before)]
        if after is not None:
            # Discord pages forward from ``after``: the oldest ``limit`` newer ones, newest first.
            ids = [i for i in ids if int(i) > int(after)][-limit:]
        return [stored[i] for i in ids[:limit]]
