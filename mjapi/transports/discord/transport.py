"""``DiscordTransport``: the production ``Transport``, one gateway connection per account."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Callable, Coroutine, Sequence
from typing import Any
from urllib.request import getproxies

import httpx

from mjapi.clock import Clock, SystemClock
from mjapi.domain.accounts import Account
from mjapi.domain.events import AccountDisabled, AccountEvent, BackendEvent
from mjapi.errors import BadRequest, MjapiError, TransportError
from mjapi.net.h1_client import H1Client
from mjapi.transports.base import (
    BlendDimensions,
    ButtonTarget,
    DiscordIdentity,
    Resumable,
    ServerChannel,
    Setting,
    Upload,
)
from mjapi.transports.discord.catchup import catch_up
from mjapi.transports.discord.clicks import Opens, parse_click
from mjapi.transports.discord.commands import CommandCatalog, CommandRef
from mjapi.transports.discord.correlate import Correlator, Expect
from mjapi.transports.discord.dispatch import midjourney_dm, payload_excerpt, route
from mjapi.transports.discord.gateway import REIDENTIFY_WAIT, Fatal
from mjapi.transports.discord.identity import check_server_channel, identify
from mjapi.transports.discord.interactions import (
    Uploaded,
    blend_options,
    click_payload,
    command_payload,
    describe_options,
    imagine_options,
    modal_payload,
    prefer_options,
)
from mjapi.transports.discord.link import ClickInput, Link
from mjapi.transports.discord.modals import (
    INPAINT_SUBMIT_PATH,
    Iframe,
    Modal,
    activity_base,
    inpaint_body,
    opened,
)
from mjapi.transports.discord.ratelimit import RateLimiter, RateLimiterPool
from mjapi.transports.discord.rest import DiscordRest, SessionGate
from mjapi.transports.discord.runner import GatewayRunner
from mjapi.transports.discord.snowflake import SnowflakeFactory, snowflake_at
from mjapi.transports.discord.uploads import upload_all

log = logging.getLogger(__name__)

GATEWAY_LOST = "Discord gateway connection lost"
MODAL_FAILED = "Midjourney's form for the button could not be submitted"
#: ✉️ (U+2709 U+FE0F) URL-encoded, the seed reaction (reference §1.1).
ENVELOPE = "%E2%9C%89%EF%B8%8F"
#: /blend takes 2 to 5 images (reference §1.3).
BLEND_IMAGES = range(2, 6)
#: Seconds a Discord REST request may take.
DISCORD_TIMEOUT = 20.0
#: Settings verbs and the slash command each runs (/prefer takes a sub-command).
PREFER_TOGGLES = frozenset({Setting.VARIABILITY, Setting.REMIX})


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
        reidentify_wait: tuple[float, float] = REIDENTIFY_WAIT,
    ) -> None:
        """``base_url`` is Discord's origin (``https://discord.com``, or a simulator's).

        ``activity_url`` is the Midjourney editor's origin for Vary (Region); by default
        Discord's activity host, or ``{base_url}/discordsays`` for a simulator.

        ``clock`` dates the interaction nonces; ``rng`` drives heartbeat jitter and reconnect
        backoff; ``http`` is shared by every account and closed by ``close()`` only when the
        transport created it. ``reidentify_wait`` is the random pause before identifying anew
        after Discord invalidated a session (op 9), in seconds.
        """
        self._base_url = base_url
        self._activity_url = activity_base(base_url, activity_url)
        self._clock = clock or SystemClock()
        self._ready_timeout = ready_timeout
        self._rng = rng or random.Random()
        self._reidentify_wait = reidentify_wait
        self._owns_http = http is None
        self._http = http or discord_client()
        self._links: dict[str, Link] = {}
        #: jobs to adopt when their account is attached (``resume`` before ``attach``)
        self._resumed: dict[str, list[Resumable]] = {}
        self._queue: asyncio.Queue[BackendEvent | None] = asyncio.Queue()
        self._commands = CommandCatalog()
        self._nonces = SnowflakeFactory()
        self._background: set[asyncio.Task[None]] = set()
        self._limiters = RateLimiterPool(lambda: RateLimiter(rng=random.Random(self._rng.random())))

    def __repr__(self) -> str:
        return f"DiscordTransport({self._base_url!r}, accounts={len(self._links)})"

    # -- accounts -----------------------------------------------------------------------------

    async def identify(self, token: str) -> DiscordIdentity:
        """Check the token and find (or open) its DM channel with the Midjourney bot."""
        return await identify(self._rest(token))

    async def identify_server_channel(self, token: str, channel: ServerChannel) -> DiscordIdentity:
        """Check the token and that its user sees ``channel`` in that guild (legacy accounts)."""
        rest = self._rest(token)
        identity = await identify(rest)
        await check_server_channel(rest, channel)
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
        correlator = current.correlator if current else self._new_correlator(account.channel)
        correlator.user_id = account.discord_user_id or correlator.user_id
        # Before the runner starts: READY catches up every job in flight, these included. Kept
        # until attached, so that a failed attach leaves them for the next one.
        self._adopt(correlator, self._resumed.get(account.channel, ()))
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
        self._resumed.pop(account.channel, None)
        log.info("account %s attached", account.channel)

    async def resume(self, account: Account, jobs: Sequence[Resumable]) -> None:
        """Track jobs submitted before a restart; their history is read at READY, or at once.

        Before ``attach`` the jobs wait for it (the first READY then replays the history); on an
        attached account they are adopted now and the history is read in the background.

        Limit: the history is the last ``catchup.CATCH_UP_LIMIT`` (50) messages of the account's
        channel (and of the DM with the bot while a seed job waits). That covers the ~15 jobs an
        account runs at once, but a job whose messages are older than that (a busy shared
        channel) is only recognised by its live messages, and the watchdog ends it if none come.

        Of a job that finished while mjapi was down, the history holds the result message only
        (Discord deletes the progress message and stores no nonce): it is recognised by its job
        hash, or for a button job by the reply to the clicked message (a U pick's label).
        """
        link = self._links.get(account.channel)
        if link is None:
            self._resumed.setdefault(account.channel, []).extend(jobs)
            return
        self._adopt(link.correlator, jobs)
        # Before READY, the READY itself catches up (the jobs are in flight now).
        if link.runner.ready:
            self._spawn(self._catch_up(link))

    def _adopt(self, correlator: Correlator, jobs: Sequence[Resumable]) -> None:
        for job in jobs:
            if not correlator.adopt(job):
                log.info("resumed job %s not adopted (known already, or no key)", job.jobid)

    async def detach(self, channel: str) -> None:
        """Disconnect the account and forget its pending jobs."""
        link = self._links.pop(channel, None)
        self._resumed.pop(channel, None)
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
        link = self._live(account)
        where = await link.where(self._ready_timeout)
        nonce = self._nonces.make(self._clock.now())
        link.correlator.expect(jobid, nonce, parent_message_id=target.message_id, click=click)
        link.clicks[jobid] = ClickInput(prompt, mask)
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
        link = self._live(account)
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
        link = self._live(account)
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
        link = self._live(account)
        await link.where(self._ready_timeout)  # the seed DM must find a session to arrive on
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
        link = self._live(account)

        async def send(command: CommandRef) -> str:
            # Per attempt: a retry after a stale command version may follow a reconnect.
            where = await link.where(self._ready_timeout)
            nonce = self._nonces.make(self._clock.now())
            # Registered first: the gateway answer may arrive before the 204 does.
            link.correlator.expect(jobid, nonce, expect=expect)
            payload = command_payload(command, where, nonce, options(command), attachments)
            await self._post(link, jobid, payload)
            return nonce

        return await self._commands.invoke(link.rest, account.channel, account.server, name, send)

    async def _post(self, link: Link, jobid: str, payload: dict[str, Any]) -> None:
        try:
            # A retry after a 429 may come after the session was lost: it waits for the next
            # one and names it (the gate runs before every attempt).
            await link.rest.post_interaction(payload, session=self._session_gate(link))
        except BaseException:
            link.correlator.forget(jobid)
            link.clicks.pop(jobid, None)
            raise

    def _live(self, account: Account) -> Link:
        link = self._links.get(account.channel)
        if link is None:
            raise TransportError(f"account {account.channel} is not attached")
        link.check_alive()
        return link

    def _session_gate(self, link: Link) -> SessionGate:
        return lambda: link.session_id(self._ready_timeout)

    def forget(self, channel: str, jobid: str) -> None:
        """Stop correlating ``jobid``: the engine ended it (watchdog, cancel, refusal)."""
        link = self._links.get(channel)
        if link is not None:
            link.correlator.forget(jobid)
            link.clicks.pop(jobid, None)
        waiting = self._resumed.get(channel)
        if waiting:  # not adopted yet (the account's attach is still to come)
            self._resumed[channel] = [job for job in waiting if job.jobid != jobid]

    async def events(self) -> AsyncGenerator[BackendEvent, None]:
        """Every job and account event of every attached account, in arrival order, until ``close``.

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
        return DiscordRest(
            self._http, self._base_url, token, limiter=self._limiters.for_token(token)
        )

    def _new_correlator(self, channel: str) -> Correlator:
        # Messages older than now are history: an old notice edited later must not flag again.
        return Correlator(channel, since=snowflake_at(self._clock.now()))

    def _new_link(self, account: Account, correlator: Correlator) -> Link:
        rest = self._rest(account.discord_token)
        channel = account.channel
        runner = GatewayRunner(
            account.discord_token,
            gateway_url=rest.gateway_url,
            on_dispatch=lambda name, data: self._on_dispatch(channel, name, data),
            on_fatal=lambda fatal: self._on_fatal(channel, fatal),
            rng=random.Random(self._rng.random()),
            name=channel,
            reidentify_wait=self._reidentify_wait,
        )
        return Link(account=account, rest=rest, runner=runner, correlator=correlator)

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
        routed = route(link.correlator, name, data)
        if routed.unrecognised is not None:
            log.warning(
                "unrecognised Midjourney message in %s: %s",
                channel,
                payload_excerpt(routed.unrecognised),
            )
        for event in routed.events:
            if not isinstance(event, AccountEvent):
                link.clicks.pop(event.jobid, None)  # the job moved: no modal will come
        self._emit(routed.events)

    def _on_ready(self, link: Link, data: Any) -> None:
        user = link.runner.user
        if user is not None:
            link.correlator.user_id = user.id
        # Seed DMs come from the user's DM with the bot, which for a server-channel account is
        # another channel (§3.4); READY lists it (§2.3).
        link.correlator.dm_channel_id = midjourney_dm(data)
        # READY (never RESUMED) means a new session: what Midjourney posted since the last one
        # was never delivered. Jobs in flight then (a lost session, or a new token for the
        # account) are caught up from the channel history.
        if link.correlator.in_flight:
            self._spawn(self._catch_up(link))

    def _on_modal(self, link: Link, modal: Modal | Iframe) -> None:
        jobid = link.correlator.job_for_nonce(modal.nonce)
        if jobid is None:
            return  # a modal for a click we did not make (another client of the user)
        inputs = link.clicks.pop(jobid, ClickInput(None, None))
        self._spawn(self._submit_modal(link, jobid, modal, inputs))

    async def _submit_modal(
        self, link: Link, jobid: str, modal: Modal | Iframe, inputs: ClickInput
    ) -> None:
        try:
            if isinstance(modal, Iframe):
                # Vary (Region): the editor posts the mask to the activity server (§1.6).
                body = inpaint_body(modal.token, inputs.prompt, inputs.mask)
                await link.rest.post_activity(self._activity_url + INPAINT_SUBMIT_PATH, body)
                return
            where = await link.where(self._ready_timeout)
            nonce = self._nonces.make(self._clock.now())
            # A fresh nonce (§1.7); the job's next messages echo this one.
            link.correlator.add_nonce(jobid, nonce)
            value = inputs.prompt or modal.prefilled
            await link.rest.post_interaction(
                modal_payload(where, nonce, modal.modal_id, modal.custom_id, modal.field_id, value),
                session=self._session_gate(link),
            )
        except MjapiError as exc:
            log.warning("modal for %s failed: %s", jobid, exc.message)
            self._emit(link.correlator.abort(jobid, MODAL_FAILED, exc.message))

    def _on_fatal(self, channel: str, fatal: Fatal) -> None:
        link = self._links.get(channel)
        if link is None or not link.runner.ready:
            return  # attach() reports it to its caller
        # The account first: the engine must not hand the failed jobs' successors to it.
        self._emit([AccountDisabled(channel, fatal.reason)])
        self._emit(link.correlator.fail_all(GATEWAY_LOST, fatal.reason))

    async def _catch_up(self, link: Link) -> None:
        try:
            self._emit(await catch_up(link.rest, link.correlator))
        except MjapiError as exc:
            log.warning("catch-up of %s abandoned: %s", link.account.channel, exc.message)

    def _emit(self, events: Sequence[BackendEvent]) -> None:
        for event in events:
            self._queue.put_nowait(event)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def discord_client() -> httpx.AsyncClient:
    """The client every account's REST calls share.

    On mjapi's own HTTP/1.1 connections (``H1Client`` on ``H1Transport``: a tenth of the CPU
    per request of httpx's transport, and ``DiscordRest`` skips the client's generic steps)
    unless the environment names an HTTP proxy: httpx honours ``HTTPS_PROXY`` and friends only
    with its own transport, and an operator who routes Discord through a proxy must keep that.
    """
    if any(scheme in getproxies() for scheme in ("http", "https", "all")):
        return httpx.AsyncClient(timeout=httpx.Timeout(DISCORD_TIMEOUT))
    return H1Client(timeout=DISCORD_TIMEOUT)
