"""Everything the simulator knows, in memory: users, their channels, messages, files, commands."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mjapi.simulator.cdn import Cdn
from mjapi.simulator.commands import CommandIndex
from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.pending import Pending, PendingIframe, PendingModal
from mjapi.simulator.results import ResultRegistry
from mjapi.simulator.uploads import UploadStore
from mjapi.simulator.users import SimUser, derive_user, is_well_formed

#: message flag: only the invoking user sees it (Discord never lists these in history)
_EPHEMERAL = 64

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
        #: users with remix mode / high variability mode on (``/prefer remix|variability``)
        self.remix: set[str] = set()
        self.high_variability: set[str] = set()
        #: the finished bot messages whose buttons can be played
        self.results = ResultRegistry(config.max_stored_attachments)
        #: upload slots and their bytes (reference §1.9)
        self.uploads = UploadStore()
        #: modals (by modal id) and Vary (Region) editors (by token) awaiting a submit
        self.modals: Pending[PendingModal] = Pending()
        self.iframes: Pending[PendingIframe] = Pending()
        #: tokens revoked at run time (``/_sim/tokens/revoke``): refused like rejected ones
        self.revoked: set[str] = set()
        #: token -> plan set at run time (``/_sim/plans``), over the configured one
        self._plans: dict[str, str] = {}

    def user_for_token(self, token: str | None) -> SimUser | None:
        """The user a token authenticates, registered on first sight; None if refused."""
        if not token or not is_well_formed(token) or self.is_refused(token):
            return None
        user = derive_user(token, self.plan_for(token))
        if user.id not in self.users:
            self._register(user)
        return self.users[user.id]

    def is_refused(self, token: str) -> bool:
        return token in self._config.rejected_tokens or token in self.revoked

    def plan_for(self, token: str) -> str:
        return self._plans.get(token) or self._config.plan_for(token)

    def set_plan(self, token: str, plan: str) -> SimUser | None:
        """Change the account's Midjourney plan now; the user, if the simulator knows it yet."""
        known = self._config.known_plans()
        if plan not in known:
            raise ValueError(f"unknown plan {plan!r}; known: {sorted(known)}")
        self._plans[token] = plan
        user = derive_user(token, plan)
        if user.id not in self.users:
            return None
        self.users[user.id] = dataclasses.replace(self.users[user.id], plan=plan)
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
        """Store a created or edited message (its latest version is what REST shows).

        Ephemeral ones are kept too (their buttons, e.g. Cancel Job, can be clicked) but never
        listed, like Discord.
        """
        self.messages[message["channel_id"]][message["id"]] = message

    def message(self, channel_id: str, message_id: str) -> JsonObject | None:
        return self.messages.get(channel_id, {}).get(message_id)

    def delete_message(self, channel_id: str, message_id: str) -> bool:
        return self.messages[channel_id].pop(message_id, None) is not None

    def last_message_id(self, channel_id: str) -> str | None:
        messages = self.messages.get(channel_id, {})
        ids = [key for key, message in messages.items() if not message["flags"] & _EPHEMERAL]
        return max(ids, key=int) if ids else None

    def channel_messages(
        self,
        channel_id: str,
        limit: int = DEFAULT_PAGE,
        before: str | None = None,
        after: str | None = None,
    ) -> list[JsonObject]:
        """A page of the channel's history, newest first, like Discord."""
        stored = {
            key: message
            for key, message in self.messages.get(channel_id, {}).items()
            if not message["flags"] & _EPHEMERAL
        }
        ids = sorted(stored, key=int, reverse=True)
        if before is not None:
            ids = [i for i in ids if int(i) < int(before)]
        if after is not None:
            # Discord pages forward from ``after``: the oldest ``limit`` newer ones, newest first.
            ids = [i for i in ids if int(i) > int(after)][-limit:]
        return [stored[i] for i in ids[:limit]]
