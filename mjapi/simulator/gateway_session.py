"""A gateway session: identity, sequence numbers and the dispatches a RESUME can replay.

No I/O here: the hub (``gateway_hub.py``) decides which connection, if any, carries a session;
a session without one keeps numbering and buffering its dispatches until it is resumed or
expires (reference §2.3).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from mjapi.simulator.gateway_protocol import dispatch_text, encode_json
from mjapi.simulator.objects import JsonObject, bot_user, current_user, dm_channel, guild
from mjapi.simulator.replay import ReplayBuffer
from mjapi.simulator.state import SimulatorState
from mjapi.simulator.users import SimUser


def new_session_id() -> str:
    """32 hex characters, like Discord's (reference §1.7)."""
    return secrets.token_hex(16)


class GatewayLink(Protocol):
    """One open gateway websocket, as the hub and the control actions drive it."""

    #: the session this connection carries (None before IDENTIFY/RESUME or once it lost it)
    session: GatewaySession | None
    #: heartbeats are no longer acknowledged (``/_sim/gateway/zombie``)
    zombie: bool

    def send(self, text: str) -> None:
        """Queue a frame (its JSON text) after those already queued."""

    def close(self, code: int, reason: str) -> None:
        """Close with a close frame once the frames queued before were sent."""

    def abort(self) -> bool:
        """Cut the TCP connection without a close frame; False if it can only close (1011)."""


@dataclass(eq=False)
class GatewaySession:
    """One READY session of a user, on a connection or waiting to be resumed."""

    session_id: str
    user: SimUser
    #: the token it identified with: a RESUME must present the same
    token: str
    buffer: ReplayBuffer
    link: GatewayLink | None = None
    #: monotonic time the session lost its connection (None while it has one)
    detached_at: float | None = field(default=None)

    @property
    def seq(self) -> int:
        """``s`` of the last dispatch; the first dispatch (READY) gets 1."""
        return self.buffer.last_seq

    def record(self, event: str, data: Any) -> str:
        """The next op 0 frame of this session as JSON text, numbered and kept for a replay."""
        return self.record_json(event, encode_json(data))

    def record_json(self, event: str, d_json: str) -> str:
        """``record`` of a ``d`` already encoded as JSON text."""
        seq = self.buffer.last_seq + 1
        text = dispatch_text(event, seq, d_json)
        self.buffer.append(seq, text)
        return text


def ready_payload(
    session: GatewaySession, state: SimulatorState, gateway_url: str, version: int
) -> JsonObject:
    """READY ``d`` for a user session (the fields clients read, reference §2.3)."""
    user = session.user
    return {
        "v": version,
        "user": current_user(user),
        "session_id": session.session_id,
        "session_type": "normal",
        "resume_gateway_url": gateway_url,
        "private_channels": [dm_channel(user, state.last_message_id(user.dm_channel_id))],
        "guilds": [guild(user, state.last_message_id(user.guild_channel_id))],
        "users": [bot_user()],
        "relationships": [],
        "user_settings": {},
        "country_code": "US",
    }
