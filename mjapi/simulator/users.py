"""Simulated Discord users: any well-formed token is an account, derived from the token's hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from mjapi.simulator.snowflake import snowflake_from_bits

#: the Midjourney Bot's user id, application id and webhook id (reference §1.3)
MJ_BOT_ID = "936929561302675456"

_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_\-.]{20,}$")
#: derived ids land between 2017 and 2023, like real accounts and DM channels
_ID_TIME_BASE_MS = 2 * 365 * 24 * 3600 * 1000
_ID_TIME_SPAN_MS = 6 * 365 * 24 * 3600 * 1000


@dataclass(frozen=True)
class SimUser:
    """The Discord account behind one token, with its channels where the bot answers."""

    id: str
    username: str
    plan: str
    #: DM channel between the user and the Midjourney Bot
    dm_channel_id: str
    #: a private server of the user with one text channel where the bot is present
    guild_id: str
    guild_channel_id: str

    @property
    def global_name(self) -> str:
        return self.username.capitalize()


def is_well_formed(token: str) -> bool:
    """Does ``token`` look like a Discord token (to the simulator)?"""
    return bool(_TOKEN_SHAPE.match(token))


def derive_user(token: str, plan: str) -> SimUser:
    """The same token always gives the same user, channels and ids."""
    digest = _digest(token)
    return SimUser(
        id=_derived_id(digest, 0),
        username=f"user{int.from_bytes(digest[28:32]) % 10**8:08d}",
        plan=plan,
        dm_channel_id=_derived_id(digest, 7),
        guild_id=_derived_id(digest, 14),
        guild_channel_id=_derived_id(digest, 21),
    )


def user_id_of(token: str) -> str:
    """The id of the user behind ``token`` (as ``derive_user`` gives it), without the rest."""
    return _derived_id(_digest(token), 0)


def _digest(token: str) -> bytes:
    return hashlib.sha256(b"mjapi-simulator:" + token.encode()).digest()


def _derived_id(digest: bytes, offset: int) -> str:
    ms = _ID_TIME_BASE_MS + int.from_bytes(digest[offset : offset + 5]) % _ID_TIME_SPAN_MS
    return snowflake_from_bits(ms, int.from_bytes(digest[offset + 5 : offset + 7]))
