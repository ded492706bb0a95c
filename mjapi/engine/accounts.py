"""Midjourney accounts and the caller's profile: discovery, legacy channels, reset, delete.

The accounts are kept in memory: read once at start (``load``), then changed only through this
class, which writes the store first and its memory copy after the write succeeded. mjapi runs
one process per database (docs/architecture.md), so the copy is authoritative and every job
POST chooses its account without reading (and decrypting) the store. Changes to one account are
serialized by a lock, so that a moderation flag arriving during a reset is not lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from mjapi.clock import Clock
from mjapi.domain.accounts import DEFAULT_MAX_JOBS, Account
from mjapi.errors import Conflict, DiscordAuthError, NotFound
from mjapi.logs import register_secret
from mjapi.storage.base import Store, UserProfile
from mjapi.transports.base import DiscordIdentity, ServerChannel, Transport

log = logging.getLogger(__name__)

NO_CONFIGURATION = "Configuration not found. To create configuration use POST account/midjourney."
NO_CHANNEL = "Configuration not found for provided channel"


class Accounts:
    """What ``/v2/account`` and ``/v2/account/midjourney`` do."""

    def __init__(self, store: Store, transport: Transport, clock: Clock) -> None:
        self._store = store
        self._transport = transport
        self._clock = clock
        #: channel -> account, as last written to the store
        self._known: dict[str, Account] = {}
        #: owner -> their accounts by channel, built when asked and dropped when one changes
        self._listings: dict[int, list[Account]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: owner -> profile (None: none stored), filled on first read; written only here
        self._profiles: dict[int, UserProfile | None] = {}

    async def load(self) -> list[Account]:
        """Read every account from the store into memory (at start); returns them all."""
        accounts = await self._store.list_accounts()
        self._known = {a.channel: a for a in accounts}
        self._listings.clear()
        return accounts

    def owned(self, owner: int) -> list[Account]:
        """``owner``'s accounts ordered by channel, as the store lists them (a fresh list)."""
        listing = self._listings.get(owner)
        if listing is None:
            mine = (a for a in self._known.values() if a.owner == owner)
            listing = self._listings[owner] = sorted(mine, key=_channel)
        return list(listing)

    def find(self, channel: str) -> Account | None:
        """The account of ``channel``, whoever owns it; None when there is none."""
        return self._known.get(channel)

    async def add(self, owner: int, token: str, max_jobs: int | None) -> tuple[Account, bool]:
        """Discover the token's Midjourney DM channel, connect it, store it; True when new."""
        identity = await self._transport.identify(token)
        return await self._save(owner, token, identity, identity.dm_channel_id, None, max_jobs)

    async def add_server_channel(
        self, owner: int, token: str, channel: ServerChannel, max_jobs: int | None
    ) -> tuple[Account, bool]:
        """The legacy form: an account that works in a channel of the user's own server."""
        identity = await self._transport.identify_server_channel(token, channel)
        return await self._save(
            owner, token, identity, channel.channel_id, channel.guild_id, max_jobs
        )

    async def list(self, owner: int) -> list[Account]:
        return self.owned(owner)

    async def get(self, owner: int, channel: str) -> Account:
        return self._owned_one(owner, channel)

    def _owned_one(self, owner: int, channel: str) -> Account:
        account = self._known.get(channel)
        if account is None or account.owner != owner:
            raise NotFound(NO_CHANNEL)
        return account

    async def delete(self, owner: int, channel: str) -> None:
        async with self._lock(channel):
            self._owned_one(owner, channel)
            await self._store.delete_account(channel)
            self._remember(channel, None)
            # Disconnected once forgotten (its last events find no account and change nothing),
            # and within the lock: an add of the same channel waiting for it connects again
            # afterwards instead of being disconnected by this delete.
            await self._transport.detach(channel)

    async def reset(self, owner: int, channel: str) -> Account:
        """Clear ``pendingModMessage`` (and a disabled state): the account rejoins rotation.

        The account is connected again first (a disabled one was not); when Discord still
        refuses its token, it stays disabled and the caller gets Discord's refusal.
        """
        account = self._owned_one(owner, channel)
        register_secret(account.discord_token)
        try:
            await self._transport.attach(account)
        except DiscordAuthError as exc:
            await self.disable(channel, exc.message)
            raise
        cleared = await self._change(channel, pending_mod_message=None, disabled_reason=None)
        if cleared is None:  # deleted while it was connecting: the connection made is not wanted
            await self._transport.detach(channel)
            raise NotFound(NO_CHANNEL)
        return cleared

    async def flag(self, channel: str, message: str) -> Account | None:
        """Midjourney wants the owner (moderation notice, CAPTCHA): out of rotation (596)."""
        log.warning("account %s flagged by Midjourney: %s", channel, message)
        return await self._change(channel, pending_mod_message=message)

    async def disable(self, channel: str, reason: str) -> Account | None:
        """The account can no longer be used; None when it was deleted meanwhile."""
        log.warning("account %s disabled: %s", channel, reason)
        return await self._change(channel, disabled_reason=reason)

    async def _change(self, channel: str, **changes: str | None) -> Account | None:
        async with self._lock(channel):
            account = self._known.get(channel)
            if account is None:
                return None
            changed = account.evolve(**changes, updated=self._clock.now())
            await self._store.put_account(changed)
            self._remember(channel, changed)
            return changed

    def _lock(self, channel: str) -> asyncio.Lock:
        # Kept for good: at most one per channel ever configured here.
        return self._locks.setdefault(channel, asyncio.Lock())

    def _remember(self, channel: str, account: Account | None) -> None:
        """Make memory follow a store write that succeeded (None: the account was deleted)."""
        before = self._known.pop(channel, None)
        if account is not None:
            self._known[channel] = account
        for changed in {a.owner for a in (before, account) if a is not None}:
            self._listings.pop(changed, None)

    async def profile(self, owner: int) -> UserProfile:
        return await self._stored_profile(owner) or UserProfile(owner, self._clock.now())

    async def default_reply_url(self, owner: int) -> str | None:
        """The ``replyUrl`` of ``owner``'s profile (read from the store once per owner)."""
        profile = await self._stored_profile(owner)
        return profile.reply_url if profile else None

    async def _stored_profile(self, owner: int) -> UserProfile | None:
        if owner not in self._profiles:
            found = await self._store.get_profile(owner)
            # setdefault: an update written while this read was in flight wins
            return self._profiles.setdefault(owner, found)
        return self._profiles[owner]

    async def update_profile(
        self, owner: int, *, name: str | None, reply_url: str | None, clear_reply_url: bool
    ) -> None:
        current = await self.profile(owner)
        updated = UserProfile(
            owner,
            current.created,
            name if name is not None else current.name,
            None if clear_reply_url else (reply_url or current.reply_url),
        )
        await self._store.put_profile(updated)
        self._profiles[owner] = updated

    async def _save(
        self,
        owner: int,
        token: str,
        identity: DiscordIdentity,
        channel: str,
        server: str | None,
        max_jobs: int | None,
    ) -> tuple[Account, bool]:
        # Only tokens Discord accepted are remembered for redaction: the set stays bounded by
        # the number of real accounts, not by what clients post.
        register_secret(token)
        wanted = _Wanted(owner, token, identity.user_id, channel, server, max_jobs)
        # Connected outside the lock: the account's events (and the job events behind them,
        # event_lanes.py) are not held up while its gateway gets ready.
        await self._transport.attach(wanted.account(self._known.get(channel), self._clock.now()))
        async with self._lock(channel):
            existing = self._known.get(channel)
            try:
                # From the newest version: a moderation flag raised meanwhile is kept.
                account = wanted.account(existing, self._clock.now())
                # Again within the lock: at once when still connected, and a reconnection when a
                # delete of the channel disconnected it while this add waited for the lock.
                await self._transport.attach(account)
                created = await self._store.put_account(account)
            except BaseException:
                if existing is None:
                    await self._transport.detach(channel)
                raise
            self._remember(channel, account)
        return account, created


@dataclass(frozen=True)
class _Wanted:
    """What an add request configures, to be combined with the account already stored."""

    owner: int
    token: str
    user_id: str
    channel: str
    server: str | None
    max_jobs: int | None

    def account(self, existing: Account | None, now: datetime) -> Account:
        """The account to store over ``existing``; Conflict when another user configured it."""
        if existing is not None and existing.owner != self.owner:
            raise Conflict(f"Channel {self.channel} is configured by another user")
        return Account(
            channel=self.channel,
            owner=self.owner,
            discord_token=self.token,
            discord_user_id=self.user_id,
            max_jobs=self.max_jobs or (existing.max_jobs if existing else DEFAULT_MAX_JOBS),
            created=existing.created if existing else now,
            updated=now,
            server=self.server,
            pending_mod_message=existing.pending_mod_message if existing else None,
        )


def _channel(account: Account) -> str:
    return account.channel
