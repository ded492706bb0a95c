"""Discord protocol constants a user-account Midjourney client needs, as data.

Sources: reference ``discord-midjourney.md`` §1.2 (headers), §1.3 (ids), §2.1-2.3 (gateway).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

#: The Midjourney Bot: its application id is also its user id (author of every MJ message).
MIDJOURNEY_APPLICATION_ID: Final = "936929561302675456"

#: Every known client talks REST v9 (reference §1.1) and the gateway with the same version.
API_PATH: Final = "/api/v9"
#: The browser client's query (§2.1): zlib-stream cuts a user session's traffic (READY lists
#: every guild and DM) several times over; runner.py inflates it.
GATEWAY_QUERY: Final = {"encoding": "json", "v": "9", "compress": "zlib-stream"}

#: Discord snowflakes count milliseconds from 2015-01-01T00:00:00Z.
DISCORD_EPOCH_MS: Final = 1_420_070_400_000

#: A desktop Chrome; NZK/TAI use this shape and Discord accepts it for user tokens (§1.2).
USER_AGENT: Final = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/112.0.0.0 Safari/537.36"
)

#: The identify "capabilities" bit set sent by NZK, TAI and PXZ (§2.2).
CAPABILITIES: Final = 16381

#: Browser-like client properties for IDENTIFY (§2.2): a user session has no intents or shard.
CLIENT_PROPERTIES: Final[dict[str, Any]] = {
    "os": "Mac OS X",
    "browser": "Chrome",
    "device": "",
    "system_locale": "en-US",
    "browser_user_agent": USER_AGENT,
    "browser_version": "112.0.0.0",
    "os_version": "10.15.7",
    "referrer": "https://www.midjourney.com",
    "referring_domain": "www.midjourney.com",
    "referrer_current": "",
    "referring_domain_current": "",
    "release_channel": "stable",
    "client_build_number": 222963,
    "client_event_source": None,
}

#: Discord JSON error code for a request body it refuses ("Invalid Form Body").
INVALID_FORM_BODY: Final = 50035
#: The nested error code of a 400 caused by a stale slash-command version (capture 33).
STALE_COMMAND_VERSION: Final = "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION"


class Opcode(IntEnum):
    """Gateway opcodes a user session sends or receives."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    RECONNECT = 7
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class CloseCode(IntEnum):
    """Websocket close codes with a meaning for the gateway."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006
    #: what we send when we drop a connection we intend to resume: Discord invalidates the
    #: session on 1000/1001 only, so any other code keeps it resumable (hikari uses 3000 too)
    RECONNECTING = 3000
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


#: 4xxx close codes after which reconnecting makes sense; every other 4xxx is fatal.
RECONNECTABLE_CLOSE_CODES: Final = frozenset(
    {
        CloseCode.UNKNOWN_ERROR,
        CloseCode.UNKNOWN_OPCODE,
        CloseCode.DECODE_ERROR,
        CloseCode.NOT_AUTHENTICATED,
        CloseCode.ALREADY_AUTHENTICATED,
        CloseCode.INVALID_SEQ,
        CloseCode.RATE_LIMITED,
        CloseCode.SESSION_TIMED_OUT,
    }
)

#: Reconnectable codes whose session cannot be resumed: a fresh IDENTIFY is needed.
SESSION_ENDING_CLOSE_CODES: Final = frozenset({CloseCode.INVALID_SEQ, CloseCode.SESSION_TIMED_OUT})
