"""A gateway session: identity, sequence numbers and the history of what it was sent.

Kept in one place, with no I/O, so that RESUME (replay the history after a client's ``seq``) can
be added without touching the socket code.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mjapi.simulator.gateway_protocol import Opcode, frame
from mjapi.simulator.objects import JsonObject, bot_user, current_user, dm_channel, guild
from mjapi.simulator.state import SimulatorState
from mjapi.simulator.users import SimUser

#: dispatches remembered per session (for a later RESUME replay)
HISTORY_LENGTH = 1000


def new_session_id() -> str:
    """32 hex characters, like Discord's (reference §1.7)."""
    return secrets.token_hex(16)


@dataclass
class GatewaySession:
    """One READY session of a user on one connection."""

    session_id: str
    user: SimUser
    #: ``s`` of the last dispatch sent; the first dispatch (READY) gets 1
    seq: int = 0
    history: deque[JsonObject] = field(default_factory=lambda: deque(maxlen=HISTORY_LENGTH))

    def dispatch_frame(self, event: str, data: Any) -> JsonObject:
        """The next op 0 frame of this session, numbered and remembered."""
        self.seq += 1
        dispatch = frame(Opcode.DISPATCH, data, self.seq, event)
        self.history.append(dispatch)
        return dispatch


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
