"""``DiscordTransport``: the production ``Transport``, one gateway connection per account."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from mjapi.clock import Clock, SystemClock
from mjapi.domain.accounts import Account
from mjapi.domain.events import JobEvent
from mjapi.errors import BadRequest, DiscordHTTPError, MjapiError, TransportError
from mjapi.transports.base import (
    BlendDimensions,
    ButtonTarget,
    DiscordIdentity,
    ServerChannel,
    Setting,
    Upload,
)
from mjapi.transports.discord.clicks import Opens, parse_click
from mjapi.transports.discord.commands import CommandCatalog, CommandRef
from mjapi.transports.discord.correlate import Correlator, Expect
from mjapi.transports.discord.dispatch import is_dm_with, midjourney_dm, route
from mjapi.transports.discord.gateway import Fatal
from mjapi.transports.discord.interactions import (
    Uploaded,
    Where,
    blend_options,
    click_payload,
    command_payload,
    describe_options,
    imagine_options,
    modal_payload,
    prefer_options,
)
from mjapi.transports.discord.interpret import interpret
from mjapi.transports.discord.modals import (
    INPAINT_SUBMIT_PATH,
    Iframe,
    Modal,
    activity_base,
    inpaint_body,
    opened,
)
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID
from mjapi.transports.discord.rest import DiscordRest
from mjapi.transports.discord.runner import GatewayRunner
from mjapi.transports.discord.snowflake import SnowflakeFactory
from mjapi.transports.discord.uploads import upload_all

log = logging.getLogger(__name__)

#: How many recent channel messages to re-read after a session had to be identified anew.
CATCH_UP_LIMIT = 50
GATEWAY_LOST = "Discord gateway connection lost"
MODAL_FAILED = "Midjourney's form for the button could not be submitted"
#: ✉️ (U+2709 U+FE0F) URL-encoded, the seed reaction (reference §1.1).
ENVELOPE = "%E2%9C%89%EF%B8%8F"
#: /blend takes 2 to 5 images (reference §1.3).
BLEND_IMAGES = range(2, 6)
#: Settings verbs and the slash command each runs (/prefer takes a sub-command).
PREFER_TOGGLES = frozenset({Setting.VARIABILITY, Setting.REMIX})


@dataclass(frozen=True)
class _ClickInput:
    """What a click's modal (if Midjourney opens one) must be filled with."""

    prompt: str | None
    mask: str | None


@dataclass
class _Link:
    """One attached account: its REST client, gateway runner and correlator."""

    account: Account
    rest: DiscordRest
    runner: GatewayRunner
    correlator: Correlator
    readies: int = 0
    #: clicks that may still get a modal, by jobid (dropped at the job's first event)
    clicks: dict[str, _ClickInput] = field(default_factory=dict)


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
        activity_url: str | None = None,
    ) -> None:
        """``base_url`` is Discord's origin (``https://discord.com``, or a simulator's).

        ``activity_url`` is the Midjourney editor's origin for Vary (Region); by default
        Discord's activity host, or ``{base_url}/discordsays`` for a simulator.

        ``clock`` dates the interaction nonces; ``rng`` drives heartbeat jitter and reconnect
        backoff; ``http`` is shared by every account and closed by ``close()`` only when the
        transport created it.
        """
        self._base_url = base_url
        self._activity_url = activity_base(base_url, activity_url)
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

    async def identify_server_channel(self, token: str, channel: ServerChannel) -> DiscordIdentity:
        """Check the token and that its user sees ``channel`` in that guild (legacy accounts)."""
        rest = self._rest(token)
        identity = await self.identify(token)
        guilds = {g.get("id") for g in await rest.guilds()}
        if channel.guild_id not in guilds:
            raise BadRequest(f"The Discord account is not a member of server {channel.guild_id}")
        try:
            channels = {c.get("id") for c in await rest.guild_channels(channel.guild_id)}
        except DiscordHTTPError as exc:
            if exc.http_status not in (403, 404):
                raise
            channels = set()
        if channel.channel_id not in channels:
            raise BadRequest(
                f"Channel {channel.channel_id} not found in server {channel.guild_id} "
                "or not accessible to the Discord account"
            )
        return identity

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
        return await self._command(
            account, jobid, "imagine", lambda command: imagine_options(command, prompt)
        )

    async def button(
        self,
        account: Account,
        jobid: str,
        target: ButtonTarget,
        *,
        prompt: str | None = None,
        mask: str | None = None,
    ) -> str:
        """Click a button (type 3, §1.5); a modal it opens is filled in when it arrives."""
        click = parse_click(target.custom_id)
        if click is None:
            raise BadRequest("This button does not start a Midjourney job")
        if click.opens is Opens.IFRAME and not mask:
            raise BadRequest("Vary (Region) requires a mask")
        link, where = self._live(account)
        nonce = self._nonces.make(self._clock.now())
        link.correlator.expect(jobid, nonce, parent_message_id=target.message_id, click=click)
        link.clicks[jobid] = _ClickInput(prompt, mask)
        payload = click_payload(
            where, nonce, target.message_id, target.message_flags, target.custom_id
        )
        await self._post(link, jobid, payload)
        return nonce

    async def blend(
        self,
        account: Account,
        jobid: str,
        images: Sequence[Upload],
        dimensions: BlendDimensions,
    ) -> str:
        """Upload the images and run ``/blend``: a grid job like /imagine."""
        if len(images) not in BLEND_IMAGES:
            raise BadRequest("blend needs 2 to 5 images")
        link, _ = self._live(account)
        files = await upload_all(link.rest, account.channel, images)
        return await self._command(
            account,
            jobid,
            "blend",
            lambda command: blend_options(command, files, dimensions.option),
            attachments=files,
        )

    async def describe(self, account: Account, jobid: str, image: Upload) -> str:
        """Upload the image and run ``/describe``; completes with the four prompts."""
        link, _ = self._live(account)
        files = await upload_all(link.rest, account.channel, [image])
        return await self._command(
            account,
            jobid,
            "describe",
            lambda command: describe_options(command, files[0]),
            attachments=files,
            expect=Expect.DESCRIPTION,
        )

    async def seed(self, account: Account, jobid: str, target: ButtonTarget) -> str:
        """React ✉️ on the grid; the bot DMs its seed (§3.4). Returns ``seed:<hash>``."""
        if not target.job_hash:
            raise BadRequest("The job has no Midjourney job id to ask the seed of")
        link, _ = self._live(account)
        key = link.correlator.expect_seed(jobid, target.job_hash)
        try:
            await link.rest.add_reaction(account.channel, target.message_id, ENVELOPE)
        except BaseException:
            link.correlator.forget(jobid)
            raise
        return key

    async def setting(self, account: Account, jobid: str, setting: Setting) -> str:
        """Run /info, /fast, /relax, /turbo or /prefer variability|remix; completes on the reply."""
        if setting in PREFER_TOGGLES:
            return await self._command(
                account,
                jobid,
                "prefer",
                lambda command: prefer_options(command, setting.value),
                expect=Expect.REPLY,
            )
        return await self._command(
            account, jobid, setting.value, lambda _command: [], expect=Expect.REPLY
        )

    async def _command(
        self,
        account: Account,
        jobid: str,
        name: str,
        options: Callable[[CommandRef], list[Any]],
        *,
        attachments: Sequence[Uploaded] = (),
        expect: Expect = Expect.RESULT,
    ) -> str:
        """Post slash command ``name`` (type 2, §1.4) for ``jobid``; returns its nonce."""
        link, where = self._live(account)

        async def send(command: CommandRef) -> str:
            nonce = self._nonces.make(self._clock.now())
            # Registered first: the gateway answer may arrive before the 204 does.
            link.correlator.expect(jobid, nonce, expect=expect)
            payload = command_payload(command, where, nonce, options(command), attachments)
            await self._post(link, jobid, payload)
            return nonce

        return await self._commands.invoke(link.rest, account.channel, account.server, name, send)

    async def _post(self, link: _Link, jobid: str, payload: dict[str, Any]) -> None:
        try:
            await link.rest.post_interaction(payload)
        except BaseException:
            link.correlator.forget(jobid)
            link.clicks.pop(jobid, None)
            raise

    def _live(self, account: Account) -> tuple[_Link, Where]:
        """The account's link and where its interactions come from; refused when not live."""
        link = self._links.get(account.channel)
        if link is None:
            raise TransportError(f"account {account.channel} is not attached")
        session_id = link.runner.session_id
        # A runner that stopped for good keeps its last session id, but nothing it posts could
        # ever be answered: refuse now instead of leaving the job to the watchdog.
        if session_id is None or not (link.runner.alive and link.runner.ready):
            raise TransportError(f"account {account.channel} has no live gateway session")
        return link, Where(account.channel, account.server, session_id)

    def forget(self, channel: str, jobid: str) -> None:
        """Stop correlating ``jobid``: the engine ended it (watchdog, cancel, refusal)."""
        link = self._links.get(channel)
        if link is not None:
            link.correlator.forget(jobid)
            link.clicks.pop(jobid, None)

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
            self._on_ready(link, data)
        modal = opened(name, data)
        if modal is not None:
            self._on_modal(link, modal)
            return
        events = route(link.correlator, name, data)
        for event in events:
            link.clicks.pop(event.jobid, None)  # the job started: no modal will come
        self._emit(events)

    def _on_ready(self, link: _Link, data: Any) -> None:
        link.readies += 1
        user = link.runner.user
        if user is not None:
            link.correlator.user_id = user.id
        # Seed DMs come from the user's DM with the bot, which for a server-channel account is
        # another channel (§3.4); READY lists it (§2.3).
        link.correlator.dm_channel_id = midjourney_dm(data)
        # A second READY means the session could not be resumed: whatever Midjourney posted in
        # between was never delivered. Re-read the channel so running jobs are not stranded.
        if link.readies > 1 and link.correlator.in_flight:
            self._spawn(self._catch_up(link))

    def _on_modal(self, link: _Link, modal: Modal | Iframe) -> None:
        jobid = link.correlator.job_for_nonce(modal.nonce)
        if jobid is None:
            return  # a modal for a click we did not make (another client of the user)
        inputs = link.clicks.pop(jobid, _ClickInput(None, None))
        self._spawn(self._submit_modal(link, jobid, modal, inputs))

    async def _submit_modal(
        self, link: _Link, jobid: str, modal: Modal | Iframe, inputs: _ClickInput
    ) -> None:
        try:
            if isinstance(modal, Iframe):
                # Vary (Region): the editor posts the mask to the activity server (§1.6).
                body = inpaint_body(modal.token, inputs.prompt, inputs.mask)
                await link.rest.post_activity(self._activity_url + INPAINT_SUBMIT_PATH, body)
                return
            _, where = self._live(link.account)
            nonce = self._nonces.make(self._clock.now())
            # A fresh nonce (§1.7); the job's next messages echo this one.
            link.correlator.add_nonce(jobid, nonce)
            value = inputs.prompt or modal.prefilled
            await link.rest.post_interaction(
                modal_payload(where, nonce, modal.modal_id, modal.custom_id, modal.field_id, value)
            )
        except MjapiError as exc:
            log.warning("modal for %s failed: %s", jobid, exc.message)
            self._emit(link.correlator.abort(jobid, MODAL_FAILED, exc.message))

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
            if is_dm_with(channel, MIDJOURNEY_APPLICATION_ID):
                return str(channel["id"])
        opened = await rest.open_dm(MIDJOURNEY_APPLICATION_ID)
        if not isinstance(opened.get("id"), str):
            raise TransportError("Discord did not open a DM with the Midjourney bot")
        return str(opened["id"])
