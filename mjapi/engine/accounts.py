"""Midjourney accounts and the caller's profile: discovery, legacy channels, reset, delete."""

from __future__ import annotations

import logging

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
        return await self._store.list_accounts(owner)

    async def get(self, owner: int, channel: str) -> Account:
        account = await self._store.get_account(channel)
        if account is None or account.owner != owner:
            raise NotFound(NO_CHANNEL)
        return account

    async def delete(self, owner: int, channel: str) -> None:
        await self.get(owner, channel)
        await self._transport.detach(channel)
        await self._store.delete_account(channel)

    async def reset(self, owner: int, channel: str) -> Account:
        """Clear ``pendingModMessage`` (and a disabled state): the account rejoins rotation.

        The account is connected again first (a disabled one was not); when Discord still
        refuses its token, it stays disabled and the caller gets Discord's refusal.
        """
        account = await self.get(owner, channel)
        register_secret(account.discord_token)
        try:
            await self._transport.attach(account)
        except DiscordAuthError as exc:
            await self.disable(channel, exc.message)
            raise
        cleared = account.evolve(
            pending_mod_message=None, disabled_reason=None, updated=self._clock.now()
        )
        await self._store.put_account(cleared)
        return cleared

    async def flag(self, channel: str, message: str) -> Account | None:
        """Midjourney wants the owner (moderation notice, CAPTCHA): out of rotation (596)."""
        log.warning("account %s flagged by Midjourney: %s", channel, message)
        return await self._change(channel, pending_mod_message=message)

    async def disable(self, channel: str, reason: str) -> Account | None:
        """The account can no longer be used; None when it was deleted meanwhile."""
        log.warning("account %s disabled: %s", channel, reason)
        return await self._change(channel, disabled_reason=reason)

    async def _change(self, channel: str, **changes: str) -> Account | None:
        account = await self._store.get_account(channel)
        if account is None:
            return None
        changed = account.evolve(**changes, updated=self._clock.now())
        await self._store.put_account(changed)
        return changed

    async def profile(self, owner: int) -> UserProfile:
        found = await self._store.get_profile(owner)
        return found or UserProfile(owner, self._clock.now())

    async def update_profile(
        self, owner: int, *, name: str | None, reply_url: str | None, clear_reply_url: bool
    ) -> None:
        current = await self.profile(owner)
        await self._store.put_profile(
            UserProfile(
                owner,
                current.created,
                name if name is not None else current.name,
                None if clear_reply_url else (reply_url or current.reply_url),
            )
        )

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
        existing = await self._store.get_account(channel)
        if existing is not None and existing.owner != owner:
            raise Conflict(f"Channel {channel} is configured by another user")
        now = self._clock.now()
        account = Account(
            channel=channel,
            owner=owner,
            discord_token=token,
            discord_user_id=identity.user_id,
            max_jobs=max_jobs or (existing.max_jobs if existing else DEFAULT_MAX_JOBS),
            created=existing.created if existing else now,
            updated=now,
            server=server,
            pending_mod_message=existing.pending_mod_message if existing else None,
        )
        await self._transport.attach(account)
        try:
            created = await self._store.put_account(account)
        except BaseException:
            if existing is None:
                await self._transport.detach(account.channel)
            raise
        return account, created
