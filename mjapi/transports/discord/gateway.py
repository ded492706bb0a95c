"""The Discord gateway protocol for one user session, as a pure state machine.

``GatewaySession`` takes frames, ticks and close codes and answers with actions; it never touches a
socket or a timer. The async runner (``runner.py``) performs the actions. Protocol rules follow
reference §2.2-2.3 and the discord.py / hikari notes in style-anchors §3.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mjapi.transports.discord.protocol import (
    CAPABILITIES,
    CLIENT_PROPERTIES,
    RECONNECTABLE_CLOSE_CODES,
    SESSION_ENDING_CLOSE_CODES,
    CloseCode,
    Opcode,
)

log = logging.getLogger(__name__)

#: After op 9 with ``d: false`` a random pause before identifying anew, so that sessions
#: invalidated together do not identify together. Discord suggests 1-5 s for bot fleets; we run
#: one session per account, and every second of it is a second in which the account's running
#: jobs hear nothing (the engine's watchdog counts it), so the spread is shorter.
REIDENTIFY_WAIT = (0.2, 1.0)


@dataclass(frozen=True)
class Send:
    """Send this JSON payload on the socket."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class Dispatch:
    """A gateway event (op 0) for the application: ``name`` is ``t``, ``data`` is ``d``."""

    name: str
    data: Any


@dataclass(frozen=True)
class Reconnect:
    """Drop this connection and open a new one; RESUME on it when ``resume`` is true."""

    resume: bool
    #: wait at least this long (seconds) before connecting again
    delay: float = 0.0


@dataclass(frozen=True)
class Fatal:
    """Stop for good: reconnecting cannot help (e.g. close 4004, the token was rejected)."""

    code: int | None
    reason: str


Action = Send | Dispatch | Reconnect | Fatal


@dataclass(frozen=True)
class SessionUser:
    """The account READY reported."""

    id: str
    username: str


class GatewaySession:
    """Gateway state of one user session: identify/resume, heartbeats, sequence, reconnects."""

    def __init__(
        self,
        token: str,
        *,
        jitter: Callable[[], float] | None = None,
        reidentify_wait: tuple[float, float] = REIDENTIFY_WAIT,
    ) -> None:
        self._token = token
        # Discord asks for the first beat after interval * random(0, 1) so that clients that
        # reconnect together do not beat together; tests inject a fixed value.
        self._jitter = jitter or random.random
        self._reidentify_wait = reidentify_wait
        self.session_id: str | None = None
        self.resume_gateway_url: str | None = None
        self.seq: int | None = None
        self.user: SessionUser | None = None
        self._interval: float | None = None
        self._next_beat: float | None = None
        self._awaiting_ack = False
        self.last_ack_at: float | None = None

    # -- queries ------------------------------------------------------------------------------

    @property
    def can_resume(self) -> bool:
        """True when a RESUME would name a session and a position in it."""
        return self.session_id is not None and self.seq is not None

    @property
    def heartbeat_interval(self) -> float | None:
        """Seconds between beats on the current connection (None before HELLO)."""
        return self._interval

    def next_deadline(self) -> float | None:
        """When ``on_tick`` must be called next (None: no timer needed)."""
        return self._next_beat

    # -- inputs -------------------------------------------------------------------------------

    def on_frame(self, frame: dict[str, Any], now: float) -> list[Action]:
        """React to one decoded gateway frame received at ``now`` (monotonic seconds)."""
        op = frame.get("op")
        data = frame.get("d")
        if op == Opcode.DISPATCH:
            return self._on_dispatch(frame, data)
        if op == Opcode.HELLO:
            return self._on_hello(data, now)
        if op == Opcode.HEARTBEAT_ACK:
            self._awaiting_ack = False
            self.last_ack_at = now
            return []
        if op == Opcode.HEARTBEAT:
            # The server wants a beat now; it does not move our own schedule.
            return [Send(self._heartbeat())]
        if op == Opcode.RECONNECT:
            return self._reconnect(resume=True)
        if op == Opcode.INVALID_SESSION:
            return self._on_invalid_session(resumable=bool(data))
        log.debug("ignoring gateway opcode %r", op)
        return []

    def on_tick(self, now: float) -> list[Action]:
        """Time passed: beat when due, or give up on a zombie connection."""
        if self._interval is None or self._next_beat is None or now < self._next_beat:
            return []
        if self._awaiting_ack:
            # The previous beat was never acknowledged: the connection is a zombie (it may
            # look open but nothing comes through). Discord's advice is to reconnect + resume.
            log.warning("gateway heartbeat not acknowledged; reconnecting")
            return self._reconnect(resume=True)
        self._awaiting_ack = True
        self._next_beat = now + self._interval
        return [Send(self._heartbeat())]

    def on_closed(self, code: int | None) -> list[Action]:
        """The server (or the network) closed the socket with ``code`` (None: no close frame)."""
        self._stop_heartbeat()
        if code == CloseCode.AUTHENTICATION_FAILED:
            return [Fatal(code, "Discord rejected the token (gateway close 4004)")]
        if code is not None and 4000 <= code < 5000 and code not in RECONNECTABLE_CLOSE_CODES:
            return [Fatal(code, f"Discord ended the gateway session (close code {code})")]
        if code in SESSION_ENDING_CLOSE_CODES:
            self._forget_session()
            return [Reconnect(resume=False)]
        # 1000/1001 from the server, 1006 (no close frame) and the reconnectable 4xxx: the
        # session usually survives, so try RESUME first (discord.py does the same after a
        # network error); Discord answers op 9 when it cannot.
        return [Reconnect(resume=self.can_resume)]

    # -- handlers -----------------------------------------------------------------------------

    def _on_hello(self, data: Any, now: float) -> list[Action]:
        interval_ms = data.get("heartbeat_interval") if isinstance(data, dict) else None
        if not isinstance(interval_ms, int | float) or interval_ms <= 0:
            return [Reconnect(resume=self.can_resume)]
        self._interval = interval_ms / 1000.0
        self._next_beat = now + self._interval * self._jitter()
        self._awaiting_ack = False
        first = self._resume() if self.can_resume else self._identify()
        return [Send(first)]

    def _on_dispatch(self, frame: dict[str, Any], data: Any) -> list[Action]:
        seq = frame.get("s")
        if isinstance(seq, int):
            self.seq = seq
        name = frame.get("t")
        if not isinstance(name, str):
            return []
        if name == "READY" and isinstance(data, dict):
            self._on_ready(data)
        return [Dispatch(name, data)]

    def _on_ready(self, data: dict[str, Any]) -> None:
        session_id = data.get("session_id")
        self.session_id = session_id if isinstance(session_id, str) else None
        url = data.get("resume_gateway_url")
        self.resume_gateway_url = url if isinstance(url, str) else None
        user = data.get("user")
        if isinstance(user, dict) and isinstance(user.get("id"), str):
            self.user = SessionUser(id=user["id"], username=str(user.get("username", "")))

    def _on_invalid_session(self, *, resumable: bool) -> list[Action]:
        # op 9: d tells whether the session may be resumed (discord.py); if not, everything
        # about it is void and the next HELLO must IDENTIFY.
        if resumable:
            return self._reconnect(resume=True)
        self._forget_session()
        self._stop_heartbeat()
        low, high = self._reidentify_wait
        return [Reconnect(resume=False, delay=low + (high - low) * self._jitter())]

    def _reconnect(self, *, resume: bool) -> list[Action]:
        self._stop_heartbeat()
        return [Reconnect(resume=resume and self.can_resume)]

    # -- payloads -----------------------------------------------------------------------------

    def _identify(self) -> dict[str, Any]:
        # A user token identifies like the browser client: no intents, no shard (§2.2).
        return {
            "op": Opcode.IDENTIFY.value,
            "d": {
                "token": self._token,
                "capabilities": CAPABILITIES,
                "properties": dict(CLIENT_PROPERTIES),
                "presence": {"status": "online", "since": 0, "activities": [], "afk": False},
                "compress": False,
                "client_state": {
                    "guild_versions": {},
                    "highest_last_message_id": "0",
                    "read_state_version": 0,
                    "user_guild_settings_version": -1,
                    "user_settings_version": -1,
                    "private_channels_version": "0",
                    "api_code_version": 0,
                },
            },
        }

    def _resume(self) -> dict[str, Any]:
        return {
            "op": Opcode.RESUME.value,
            "d": {"token": self._token, "session_id": self.session_id, "seq": self.seq},
        }

    def _heartbeat(self) -> dict[str, Any]:
        return {"op": Opcode.HEARTBEAT.value, "d": self.seq}

    # -- state helpers ------------------------------------------------------------------------

    def _stop_heartbeat(self) -> None:
        self._interval = None
        self._next_beat = None
        self._awaiting_ack = False

    def _forget_session(self) -> None:
        self.session_id = None
        self.resume_gateway_url = None
        self.seq = None

    def __repr__(self) -> str:
        # Never show the token (it is the whole account).
        return f"GatewaySession(session_id={self.session_id!r}, seq={self.seq!r})"
