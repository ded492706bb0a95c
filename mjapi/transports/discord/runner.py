"""The websocket shell around ``GatewaySession`` for one account.

It owns the socket, the heartbeat timer and the reconnect loop; every protocol decision is made by
the pure session (``gateway.py``). Dispatches go to a callback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from mjapi import jsontext
from mjapi.errors import DiscordAuthError, MjapiError, RateLimited, TransportError
from mjapi.transports.discord.backoff import Backoff, ReconnectPolicy
from mjapi.transports.discord.gateway import (
    REIDENTIFY_WAIT,
    Action,
    Dispatch,
    Fatal,
    GatewaySession,
    Reconnect,
    Send,
    SessionUser,
)
from mjapi.transports.discord.inbox import Inbox, InboxConnection
from mjapi.transports.discord.protocol import GATEWAY_QUERY, USER_AGENT, CloseCode
from mjapi.transports.discord.zlib_stream import ZlibStream, ZlibStreamError

log = logging.getLogger(__name__)
# websockets logs every frame at DEBUG, IDENTIFY and RESUME (which carry the token) included.
# Its logger for our connections is capped at INFO so a global DEBUG level cannot leak a token.
_wire_log = logging.getLogger(f"{__name__}.wire")
_wire_log.setLevel(logging.INFO)

#: A READY for a user account lists every guild and DM; it easily exceeds websockets' 1 MiB.
MAX_FRAME_BYTES = 64 * 2**20
#: Events that mean the session is usable (a fresh one, or a resumed one).
READY_EVENTS = frozenset({"READY", "RESUMED"})

DispatchHandler = Callable[[str, Any], None]
FatalHandler = Callable[[Fatal], None]


def gateway_endpoint(url: str) -> str:
    """``url`` with our query: ``?encoding=json&v=9&compress=zlib-stream`` (§2.1)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path or "/", query=urlencode(GATEWAY_QUERY)))


def error_for_fatal(fatal: Fatal) -> TransportError:
    """The exception ``attach`` raises when the gateway gave up."""
    if fatal.code in (CloseCode.AUTHENTICATION_FAILED, 401):
        return DiscordAuthError()
    return TransportError(fatal.reason)


class GatewayRunner:
    """Keeps one account's gateway connection alive: connect, heartbeat, resume, back off."""

    def __init__(
        self,
        token: str,
        *,
        gateway_url: Callable[[], Awaitable[str]],
        on_dispatch: DispatchHandler,
        on_fatal: FatalHandler | None = None,
        rng: random.Random | None = None,
        name: str = "gateway",
        open_timeout: float = 10.0,
        reidentify_wait: tuple[float, float] = REIDENTIFY_WAIT,
    ) -> None:
        self._rng = rng or random.Random()
        self._session = GatewaySession(
            token, jitter=self._rng.random, reidentify_wait=reidentify_wait
        )
        self._fetch_gateway_url = gateway_url
        self._on_dispatch = on_dispatch
        self._on_fatal = on_fatal
        self._policy = ReconnectPolicy(Backoff(base=1.0, cap=60.0, rng=self._rng))
        self._open_timeout = open_timeout
        self._log = log.getChild(name)
        self._gateway_url: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._ready = False
        #: set while a connection has a usable session (READY/RESUMED arrived on it)
        self._connected = asyncio.Event()
        #: the current connection's inbox, while there is one (``stop`` silences it at once)
        self._inbox: Inbox | None = None
        self.fatal: Fatal | None = None

    # -- public -------------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        """The gateway session id from READY (interactions must name it, §1.7)."""
        return self._session.session_id

    @property
    def user(self) -> SessionUser | None:
        """The user READY reported."""
        return self._session.user

    @property
    def ready(self) -> bool:
        """True once a READY (or RESUMED) arrived on some connection."""
        return self._ready

    @property
    def alive(self) -> bool:
        """True while the runner keeps (or tries to keep) a connection."""
        return self._task is not None and not self._task.done() and self.fatal is None

    def start(self) -> None:
        """Begin connecting in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._main(), name=f"mjapi-{self._log.name}")

    # The timeout is part of the contract (a missing READY becomes a TransportError with a
    # useful message), so it is a parameter rather than the caller's asyncio.timeout.
    async def wait_ready(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return once READY/RESUMED arrived; DiscordAuthError/TransportError if it cannot."""
        try:
            async with asyncio.timeout(timeout):
                await self._settled.wait()
        except TimeoutError:
            raise TransportError(f"Discord gateway was not READY within {timeout:g}s") from None
        if self.fatal is not None:
            raise error_for_fatal(self.fatal)

    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109
        """Return once the current connection carries a usable session (READY or RESUMED).

        Interactions are posted only then: what Midjourney answers while no session is
        connected may be lost for good (a session Discord invalidated replays nothing).
        """
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise TransportError(
                f"Discord gateway is reconnecting (no session within {timeout:g}s)"
            ) from None
        if self.fatal is not None:
            raise error_for_fatal(self.fatal)
        if not self.alive:
            raise TransportError("Discord gateway connection was stopped")

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        task, self._task = self._task, None
        self._connected.set()  # wake waiters: they find the runner stopped
        if task is None:
            return
        if self._inbox is not None:
            # Now, not when the task takes its cancellation: bytes already on the socket
            # may be read before that, and a stopped runner dispatches nothing more.
            self._inbox.stop()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled ourselves, not just our runner task

    # -- the loop -----------------------------------------------------------------------------

    async def _main(self) -> None:
        try:
            await self._reconnect_forever()
        except asyncio.CancelledError:
            raise
        except Exception:
            self._log.exception("gateway runner crashed")
            self._die(Fatal(None, "gateway runner crashed"))

    async def _reconnect_forever(self) -> None:
        resume = False
        while True:
            outcome = await self._connect_once(resume)
            if isinstance(outcome, Fatal):
                self._die(outcome)
                return
            resume = outcome.resume
            delay = self._policy.delay(asked=outcome.delay, ready=self._connected.is_set())
            self._connected.clear()
            self._log.info("reconnecting in %.2fs (resume=%s)", delay, resume)
            await asyncio.sleep(delay)

    async def _connect_once(self, resume: bool) -> Reconnect | Fatal:
        try:
            url = await self._url(resume)
            async with connect(
                url,
                user_agent_header=USER_AGENT,
                max_size=MAX_FRAME_BYTES,
                open_timeout=self._open_timeout,
                logger=_wire_log,
                # The gateway heartbeat (op 1/11) is the liveness check Discord defines; websockets'
                # own pings would add traffic Discord's clients do not send (and draw from the
                # global random module, which property tests running beside us must not see).
                ping_interval=None,
                # zlib-stream already compresses the whole stream (§2.1); permessage-deflate on
                # top of it would deflate every frame twice on the server and inflate it twice
                # here, for nothing. So the extension is not offered.
                compression=None,
                # messages are handled as they are parsed, not queued for recv() (inbox.py)
                create_connection=InboxConnection,
            ) as ws:
                assert isinstance(ws, InboxConnection)
                # zlib-stream: one inflate context for the whole connection (§2.1).
                stream = ZlibStream(MAX_FRAME_BYTES)
                inbox = Inbox(
                    lambda message: self._read(message, stream),
                    self._dispatch,
                    pause=ws.pause_reading,
                    resume=ws.resume_reading,
                )
                ws.attach(inbox)
                self._inbox = inbox
                try:
                    outcome = await self._pump(ws, inbox)
                except asyncio.CancelledError:
                    inbox.stop()  # stopped: nothing more is handed on, read or not
                    raise
                except Exception:
                    self._hand_on(inbox.stop())
                    raise
                finally:
                    self._inbox = None
                self._hand_on(inbox.stop())
                if isinstance(outcome, Reconnect):
                    # Not 1000/1001: those would invalidate the session we want to resume.
                    await ws.close(CloseCode.RECONNECTING, "reconnecting")
                return outcome
        except DiscordAuthError:
            return Fatal(401, "Discord rejected the token (HTTP 401 on GET /gateway)")
        except RateLimited as exc:
            return Reconnect(resume=resume, delay=exc.retry_after)
        except (OSError, TimeoutError, WebSocketException, MjapiError) as exc:
            self._log.warning("gateway connection failed: %s", type(exc).__name__)
            self._gateway_url = None  # ask GET /gateway again next time
            return Reconnect(resume=self._session.can_resume)

    async def _url(self, resume: bool) -> str:
        # RESUME must go to the resume_gateway_url READY named (§2.3); IDENTIFY to GET /gateway.
        if resume and self._session.can_resume and self._session.resume_gateway_url:
            return gateway_endpoint(self._session.resume_gateway_url)
        if self._gateway_url is None:
            self._gateway_url = await self._fetch_gateway_url()
        return gateway_endpoint(self._gateway_url)

    async def _pump(self, ws: ClientConnection, inbox: Inbox) -> Reconnect | Fatal:
        while True:
            outcome = await self._receive_until_due(ws, inbox)
            if outcome is None:
                # The heartbeat timer is due: beat, or give up on a zombie connection.
                outcome = await self._perform(ws, self._session.on_tick(self._loop_time()))
            if outcome is None:
                continue
            return outcome

    def _hand_on(self, left: list[list[Action]]) -> None:
        """The dispatches of messages read but not performed when their connection ended.

        Reading them moved the session's sequence number, so a RESUME will not replay them:
        dropped here, they would be lost. Sends are moot on a connection that is ending, and
        a READY among them does not make the ended connection usable (``live=False``).
        """
        for actions in left:
            for action in actions:
                if isinstance(action, Dispatch):
                    self._dispatch(action, live=False)

    async def _receive_until_due(
        self, ws: ClientConnection, inbox: Inbox
    ) -> Reconnect | Fatal | None:
        """Perform what the inbox queued until the heartbeat timer is due (None) or the
        connection ends. Dispatch-only messages never come here: the inbox ran them.

        One timeout scope spans many messages and is moved only when the session's deadline
        moves (HELLO, a beat): a scope per message cost a timer handle and a task lookup each,
        which at thousands of messages per second was a measurable share of the server's CPU.
        Heartbeat times are measured on the event loop's clock, the one the scope sleeps on;
        an injected (fake) wall clock must not be able to stall the heartbeat.
        """
        try:
            async with asyncio.timeout_at(self._session.next_deadline()) as due:
                while True:
                    actions = await inbox.next()
                    if actions is None:
                        received = ws.protocol.close_rcvd
                        code = received.code if received is not None else None
                        self._log.info("gateway closed (code %s)", code)
                        return _first_outcome(self._session.on_closed(code))
                    inbox.busy = True
                    try:
                        outcome = await self._perform_unbounded(due, ws, actions)
                    finally:
                        inbox.busy = False
                    if outcome is not None:
                        return outcome
                    deadline = self._session.next_deadline()
                    if deadline != due.when():
                        due.reschedule(deadline)
        except TimeoutError:
            return None

    async def _perform_unbounded(
        self, due: asyncio.Timeout, ws: ClientConnection, actions: list[Action]
    ) -> Reconnect | Fatal | None:
        # A send must not be cut in half by the heartbeat timer: the scope is lifted while
        # anything is sent (the caller sets it again). Dispatches alone never wait.
        for action in actions:
            if isinstance(action, Send):
                due.reschedule(None)
                break
        return await self._perform(ws, actions)

    def _read(self, raw: str | bytes, stream: ZlibStream) -> list[Action]:
        """The session's actions for one websocket message (none for part of a message).

        Called by the inbox from the socket's ``data_received``, in arrival order.
        """
        try:
            text = raw if isinstance(raw, str) else stream.feed(raw)
        except ZlibStreamError as exc:
            # The shared inflate context is broken: nothing later on this socket can be read.
            self._log.warning("gateway stream unreadable (%s); reconnecting", exc)
            return self._session.on_closed(None)
        if text is None:
            return []  # part of a message; the rest follows in the next frames
        frame = _decode(text)
        if frame is None:
            self._log.warning("ignoring an undecodable gateway frame")
            return []
        return self._session.on_frame(frame, self._loop_time())

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def _perform(
        self, ws: ClientConnection, actions: list[Action]
    ) -> Reconnect | Fatal | None:
        for action in actions:
            if isinstance(action, Send):
                try:
                    await ws.send(json.dumps(action.payload))
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else None
                    return _first_outcome(self._session.on_closed(code))
            elif isinstance(action, Dispatch):
                self._dispatch(action)
            else:
                return action
        return None

    def _dispatch(self, action: Dispatch, *, live: bool = True) -> None:
        """Hand ``action`` to the app; ``live``: it came on the connection in use."""
        if action.name in READY_EVENTS:
            self._ready = True
            if live:
                self._connected.set()
            self._settled.set()
        try:
            self._on_dispatch(action.name, action.data)
        except Exception:
            # One bad event must not take the account's connection down.
            self._log.exception("dispatch handler failed for %s", action.name)

    def _die(self, fatal: Fatal) -> None:
        self._log.error("gateway stopped: %s", fatal.reason)
        self.fatal = fatal
        self._settled.set()
        self._connected.set()  # wake waiters: they find the runner dead
        if self._on_fatal is not None:
            self._on_fatal(fatal)


def _decode(text: str) -> dict[str, Any] | None:
    try:
        frame = jsontext.loads(text)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def _first_outcome(actions: list[Action]) -> Reconnect | Fatal:
    for action in actions:
        if isinstance(action, Reconnect | Fatal):
            return action
    return Reconnect(resume=False)
