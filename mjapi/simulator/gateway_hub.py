"""Open gateway connections, the sessions they carry, and sessions waiting to be resumed.

Reference §2.3: a session outlives its socket. When a connection goes away (the client left, the
network dropped it, the server closed it with a resumable code) its session stays resumable for
``resume_window`` seconds and keeps numbering and buffering the dispatches of its user, so a
RESUME on a new connection replays exactly what was missed. No I/O here: connections are
``GatewayLink``s that queue frames; time comes from the injected clock.

A dispatch costs the same whatever the number of sessions: sessions are indexed by user, and
only the detached ones are looked at for expiry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mjapi.clock import Clock
from mjapi.simulator.gateway_protocol import CLOSE_REASONS, CloseCode, Opcode, encode_json, frame
from mjapi.simulator.gateway_session import GatewayLink, GatewaySession, new_session_id
from mjapi.simulator.replay import ReplayBuffer
from mjapi.simulator.stats import GatewayStats
from mjapi.simulator.users import SimUser

#: RESUMED ``d``: Discord sends only a debugging trace, which clients ignore
_RESUMED = {"_trace": ['["mjapi-simulator",{"micros":0}]']}

#: called with (user id, event name, ``d``) after each dispatch (``GatewayHub.observe``)
DispatchObserver = Callable[[str, str, Any], None]


class GatewayHub:
    """Sends each event to every session of the user it concerns, connected or resumable."""

    def __init__(
        self, clock: Clock, stats: GatewayStats, *, resume_window: float, replay_limit: int
    ) -> None:
        self._clock = clock
        self._stats = stats
        self._resume_window = resume_window
        self._replay_limit = replay_limit
        self._links: list[GatewayLink] = []
        self._sessions: dict[str, GatewaySession] = {}
        #: user id -> that user's sessions (connected or resumable), in creation order
        self._by_user: dict[str, list[GatewaySession]] = {}
        #: the sessions without a connection: the only ones that can expire
        self._detached: set[GatewaySession] = set()
        self._observers: list[DispatchObserver] = []

    # -- connections -------------------------------------------------------------------------

    def connected(self, link: GatewayLink) -> None:
        self._links.append(link)
        self._stats.connections += 1

    def disconnected(self, link: GatewayLink) -> None:
        """The socket is gone: its session, if any, becomes resumable."""
        if link in self._links:
            self._links.remove(link)
        if link.session is not None:
            self._detach(link.session)

    def links(self, token: str | None = None) -> list[GatewayLink]:
        """Open connections: all of them, or those carrying a session of ``token``."""
        if token is None:
            return list(self._links)
        return [link for link in self._links if link.session and link.session.token == token]

    # -- sessions ----------------------------------------------------------------------------

    def identify(self, user: SimUser, token: str, link: GatewayLink) -> GatewaySession:
        """A new session on ``link`` (the caller dispatches READY to it)."""
        self._expire()
        session = GatewaySession(new_session_id(), user, token, ReplayBuffer(self._replay_limit))
        self._sessions[session.session_id] = session
        self._by_user.setdefault(user.id, []).append(session)
        self._attach(session, link)
        return session

    def resume(self, session_id: str, token: str, seq: int, link: GatewayLink) -> bool:
        """Move the session to ``link``, replay what it missed after ``seq``, then RESUMED.

        False when it cannot be resumed: unknown or expired, another account's (left alone),
        or ``seq`` not in its buffer (the session is then gone, as after Discord's op 9 false).
        """
        self._expire()
        session = self._sessions.get(session_id)
        if session is None or session.token != token:
            return False
        missed = session.buffer.after(seq)
        if missed is None:
            self._discard(session)
            return False
        if session.link is not None:
            # the client gave up on its old connection (a zombie, say): the session moves over
            old = session.link
            self._release(session)
            old.close(CloseCode.UNKNOWN_ERROR, CLOSE_REASONS[CloseCode.UNKNOWN_ERROR])
        self._attach(session, link)
        for text in missed:
            link.send(text)
        self.deliver(session, "RESUMED", dict(_RESUMED))
        self._stats.resumed += 1
        self._stats.replayed_events += len(missed)
        return True

    def invalidate(self, link: GatewayLink, resumable: bool) -> None:
        """Op 9 on ``link``; its session stays resumable only if ``resumable``."""
        link.send(encode_json(frame(Opcode.INVALID_SESSION, resumable)))
        self._stats.invalid_sessions += 1
        session = link.session
        if session is None:
            return
        if resumable:
            self._detach(session)
        else:
            self._discard(session)

    def discard(self, link: GatewayLink) -> None:
        """The session ``link`` carries can never be resumed (e.g. before a close with 4004)."""
        if link.session is not None:
            self._discard(link.session)

    def discard_token(self, token: str) -> None:
        """Every session of ``token``, connected or not, is gone (a revoked token)."""
        for session in [s for s in self._sessions.values() if s.token == token]:
            self._discard(session)

    def sessions(self, user_id: str) -> list[GatewaySession]:
        """The user's sessions that have a connection now."""
        return [s for s in self._by_user.get(user_id, ()) if s.link]

    def session(self, session_id: str) -> GatewaySession | None:
        """A session, connected or still resumable."""
        self._expire()
        return self._sessions.get(session_id)

    # -- dispatch ----------------------------------------------------------------------------

    def deliver(self, session: GatewaySession, event: str, data: Any) -> None:
        """Number and keep a dispatch of ``session``; send it if it has a connection."""
        self._deliver_json(session, event, encode_json(data))

    def _deliver_json(self, session: GatewaySession, event: str, d_json: str) -> None:
        text = session.record_json(event, d_json)
        if session.link is not None:
            session.link.send(text)

    def dispatch(self, user_id: str, event: str, data: Any, d_json: str | None = None) -> None:
        """``event`` to every session of the user, connected or resumable (none: it is lost);
        then to the observers. ``d_json``: ``data`` already encoded (``encode_json``), if the
        caller has it cheaper (``EditTemplate``); it must be exactly that text."""
        self._expire()
        sessions = self._by_user.get(user_id)
        if sessions:
            text = d_json if d_json is not None else encode_json(data)
            for session in tuple(sessions):  # a link's send must not disturb the iteration
                self._deliver_json(session, event, text)
        for observer in self._observers:
            observer(user_id, event, data)

    def observe(self, observer: DispatchObserver) -> None:
        """Call ``observer(user_id, event, data)`` after each dispatch, from now on.

        For instrumentation (the benchmarks time job messages with it); it must not change
        ``data``, which was sent already, nor raise.
        """
        self._observers.append(observer)

    # -- bookkeeping -------------------------------------------------------------------------

    def _attach(self, session: GatewaySession, link: GatewayLink) -> None:
        session.link, session.detached_at = link, None
        link.session = session
        self._detached.discard(session)

    def _release(self, session: GatewaySession) -> None:
        if session.link is not None:
            session.link.session = None
            session.link = None

    def _detach(self, session: GatewaySession) -> None:
        self._release(session)
        session.detached_at = self._clock.monotonic()
        self._detached.add(session)

    def _discard(self, session: GatewaySession) -> None:
        self._release(session)
        self._forget(session)

    def _forget(self, session: GatewaySession) -> None:
        if self._sessions.pop(session.session_id, None) is None:
            return
        self._detached.discard(session)
        siblings = self._by_user[session.user.id]
        siblings.remove(session)
        if not siblings:
            del self._by_user[session.user.id]

    def _expire(self) -> None:
        """Forget the sessions whose resume window is over (checked lazily: no timers)."""
        if not self._detached:
            return
        deadline = self._clock.monotonic() - self._resume_window
        for session in list(self._detached):
            if session.detached_at is not None and session.detached_at <= deadline:
                self._forget(session)
