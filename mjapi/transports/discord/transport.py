"""``DiscordTransport``: the production ``Transport``, one gateway connection per account."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from mjapi.clock import Clock, SystemClock
from mjapi.domain.accounts import Account
from mjapi.domain.events import JobEvent
from mjapi.errors import TransportError
from mjapi.transports.base import DiscordIdentity
from mjapi.transports.discord.commands import CommandCatalog, CommandRef, imagine_payload
from mjapi.transports.discord.correlate import Correlator
from mjapi.transports.discord.dispatch import route
from mjapi.transports.discord.gateway import Fatal
from mjapi.transports.discord.interpret import interpret
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID
from mjapi.transports.discord.rest import DiscordRest
from mjapi.transports.discord.runner import GatewayRunner
from mjapi.transports.discord.snowflake import SnowflakeFactory

log = logging.getLogger(__name__)

#: How many recent channel messages to re-read after a session had to be identified anew.
CATCH_UP_LIMIT = 50
GATEWAY_LOST = "Discord gateway connection lost"


@dataclass
class _Link:
    """One attached account: its REST client, gateway runner and correlator."""

    account: Account
    rest: DiscordRest
    runner: GatewayRunner
    correlator: Correlator
    readies: int = 0


class DiscordTransport:
    """Drives the Midjourney bot through Discord with each account's user token."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock | None = None,
        ready_timeout: float = 20.0,
        rng: random.Random | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """``base_url`` is Discord's origin (``https://discord.com``, or a simulator's).

        ``clock`` dates the interaction nonces; ``rng`` drives heartbeat jitter and reconnect
        backoff; ``http`` is shared by every account and closed by ``close()`` only when the
        transport created it.
        """
        self._base_url = base_url
        self._clock = clock or SystemClock()
        self._ready_timeout = ready_timeout
        self._rng = rng or random.Random()
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(20.0))
        self._links: dict[str, _Link] = {}
        self._queue: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self._commands = CommandCatalog()
        self._nonces = SnowflakeFactory()
        self._background: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"DiscordTransport({self._base_url!r}, accounts={len(self._links)})"

    # -- accounts -----------------------------------------------------------------------------

    async def identify(self, token: str) -> DiscordIdentity:
        """Check the token and find (or open) its DM channel with the Midjourney bot."""
        rest = self._rest(token)
        me = await rest.me()
        user_id = me.get("id")
        if not isinstance(user_id, str):
            raise TransportError("Discord returned no user id for the token")
        channel_id = await self._midjourney_dm(rest)
        return DiscordIdentity(user_id, str(me.get("username") or ""), channel_id)

    async def attach(self, account: Account) -> None:
        """Connect the account's gateway and wait for READY (DiscordAuthError on close 4004)."""
        current = self._links.get(account.channel)
        if (
            current is not None
            and current.runner.alive
            and current.account.discord_token == account.discord_token
        ):
            current.account = account
            # A concurrent attach may still be waiting for this runner's READY.
            await current.runner.wait_ready(self._ready_timeout)
            return
        if current is not None:
            await current.runner.stop()
        # A new token for the same channel keeps the jobs already submitted there.
        correlator = current.correlator if current else Correlator(account.channel)
        correlator.user_id = account.discord_user_id or correlator.user_id
        link = self._new_link(account, correlator)
        self._links[account.channel] = link
        link.runner.start()
        try:
            await link.runner.wait_ready(self._ready_timeout)
        except BaseException:
            await link.runner.stop()
            if self._links.get(account.channel) is link:
                del self._links[account.channel]
            raise
        log.info("account %s attached", account.channel)

    async def detach(self, channel: str) -> None:
        """Disconnect the account and forget its pending jobs."""
        link = self._links.pop(channel, None)
        self._commands.forget(channel)
        if link is not None:
            await link.runner.stop()
            log.info("account %s detached", channel)

    # -- jobs ---------------------------------------------------------------------------------

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        """Post ``/imagine`` for ``jobid``; returns the nonce once Discord answered 204."""
        link = self._links.get(account.channel)
        if link is None:
            raise TransportError(f"account {account.channel} is not attached")
        session_id = link.runner.session_id
        # A runner that stopped for good keeps its last session id, but nothing it posts could
        # ever be answered: refuse now instead of leaving the job to the watchdog.
        if session_id is None or not (link.runner.alive and link.runner.ready):
            raise TransportError(f"account {account.channel} has no live gateway session")

        async def send(command: CommandRef) -> str:
            nonce = self._nonces.make(self._clock.now())
            # Registered first: the gateway answer may arrive before the 204 does.
            link.correlator.expect(jobid, nonce)
            payload = imagine_payload(
                command,
                channel_id=account.channel,
                guild_id=account.server,
                session_id=session_id,
                nonce=nonce,
                prompt=prompt,
            )
            try:
                await link.rest.post_interaction(payload)
            except BaseException:
                link.correlator.forget(jobid)
                raise
            return nonce

        return await self._commands.invoke(
            link.rest, account.channel, account.server, "imagine", send
        )

    def forget(self, channel: str, jobid: str) -> None:
        """Stop correlating ``jobid``: the engine ended it (watchdog, cancel, refusal)."""
        link = self._links.get(channel)
        if link is not None:
            link.correlator.forget(jobid)

    async def events(self) -> AsyncGenerator[JobEvent, None]:
        """Every job event from every attached account, in arrival order, until ``close``.

        One queue feeds it: run a single consumer (the engine), or events are split between them.
        """
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        """Disconnect every account and release the HTTP client."""
        for channel in list(self._links):
            await self.detach(channel)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._owns_http:
            await self._http.aclose()
        self._queue.put_nowait(None)

    # -- wiring -------------------------------------------------------------------------------

    def _rest(self, token: str) -> DiscordRest:
        return DiscordRest(self._http, self._base_url, token)

    def _new_link(self, account: Account, correlator: Correlator) -> _Link:
        rest = self._rest(account.discord_token)
        channel = account.channel
        runner = GatewayRunner(
            account.discord_token,
            gateway_url=rest.gateway_url,
            on_dispatch=lambda name, data: self._on_dispatch(channel, name, data),
            on_fatal=lambda fatal: self._on_fatal(channel, fatal),
            rng=random.Random(self._rng.random()),
            name=channel,
        )
        return _Link(account=account, rest=rest, runner=runner, correlator=correlator)

    def _on_dispatch(self, channel: str, name: str, data: Any) -> None:
        link = self._links.get(channel)
        if link is None:
            return
        if name == "READY":
            self._on_ready(link)
        self._emit(route(link.correlator, name, data))

    def _on_ready(self, link: _Link) -> None:
        link.readies += 1
        user = link.runner.user
        if user is not None:
            link.correlator.user_id = user.id
        # A second READY means the session could not be resumed: whatever Midjourney posted in
        # between was never delivered. Re-read the channel so running jobs are not stranded.
        if link.readies > 1 and link.correlator.in_flight:
            self._spawn(self._catch_up(link))

    def _on_fatal(self, channel: str, fatal: Fatal) -> None:
        link = self._links.get(channel)
        if link is None or not link.runner.ready:
            return  # attach() reports it to its caller
        self._emit(link.correlator.fail_all(GATEWAY_LOST, fatal.reason))

    async def _catch_up(self, link: _Link) -> None:
        try:
            messages = await link.rest.channel_messages(link.account.channel, CATCH_UP_LIMIT)
        except TransportError as exc:
            log.warning("catch-up of %s failed: %s", link.account.channel, exc.message)
            return
        # REST lists newest first; replay oldest first. As updates, so nothing is paired as
        # an orphan: old grids in the history must never complete a running job.
        for raw in reversed(messages):
            message = interpret(raw)
            if message is not None:
                self._emit(link.correlator.on_message_update(message))

    def _emit(self, events: list[JobEvent]) -> None:
        for event in events:
            self._queue.put_nowait(event)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _midjourney_dm(self, rest: DiscordRest) -> str:
        for channel in await rest.dm_channels():
            if _is_dm_with(channel, MIDJOURNEY_APPLICATION_ID):
                return str(channel["id"])
        opened = await rest.open_dm(MIDJOURNEY_APPLICATION_ID)
        if not isinstance(opened.get("id"), str):
            raise TransportError("Discord did not open a DM with the Midjourney bot")
        return str(opened["id"])


def _is_dm_with(channel: dict[str, Any], user_id: str) -> bool:
    # Type 1 = DM. Recipients come as user objects; newer clients also see recipient_ids.
    if channel.get("type", 1) != 1 or not isinstance(channel.get("id"), str):
        return False
    recipients = channel.get("recipients") or []
    ids = {r.get("id") for r in recipients if isinstance(r, dict)}
    ids.update(channel.get("recipient_ids") or [])
    return ids == {user_id}
