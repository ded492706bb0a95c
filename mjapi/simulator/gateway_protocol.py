"""Discord Gateway protocol constants and frames (reference §2)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection
from enum import IntEnum
from typing import Any

import orjson

from mjapi.simulator.objects import JsonObject


class Opcode(IntEnum):
    """Gateway opcodes the simulator speaks."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class CloseCode(IntEnum):
    """Discord's gateway close codes (the ones the simulator sends)."""

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


CLOSE_REASONS: dict[int, str] = {
    CloseCode.UNKNOWN_ERROR: "Unknown error.",
    CloseCode.UNKNOWN_OPCODE: "Unknown opcode.",
    CloseCode.DECODE_ERROR: "Error while decoding payload.",
    CloseCode.NOT_AUTHENTICATED: "Not authenticated.",
    CloseCode.AUTHENTICATION_FAILED: "Authentication failed.",
    CloseCode.ALREADY_AUTHENTICATED: "Already authenticated.",
    CloseCode.INVALID_SEQ: "Invalid seq.",
    CloseCode.RATE_LIMITED: "Rate limited.",
    CloseCode.SESSION_TIMED_OUT: "Session timed out.",
    CloseCode.INVALID_SHARD: "Invalid shard.",
    CloseCode.SHARDING_REQUIRED: "Sharding required.",
    CloseCode.INVALID_API_VERSION: "Invalid API version.",
    CloseCode.INVALID_INTENTS: "Invalid intent(s).",
    CloseCode.DISALLOWED_INTENTS: "Disallowed intent(s).",
}

#: close codes after which Discord does not let the session be resumed (its docs: "start a new
#: session"); the others leave it resumable
DISCARDING_CLOSE_CODES = frozenset(
    {
        CloseCode.AUTHENTICATION_FAILED,
        CloseCode.INVALID_SEQ,
        CloseCode.SESSION_TIMED_OUT,
        CloseCode.INVALID_SHARD,
        CloseCode.SHARDING_REQUIRED,
        CloseCode.INVALID_API_VERSION,
        CloseCode.INVALID_INTENTS,
        CloseCode.DISALLOWED_INTENTS,
    }
)

SUPPORTED_VERSIONS = frozenset({"9", "10"})


def frame(op: Opcode, d: Any, s: int | None = None, t: str | None = None) -> JsonObject:
    """A server frame; every frame carries all four keys (capture 03, op 11 has nulls)."""
    return {"t": t, "s": s, "op": int(op), "d": d}


#: for what orjson refuses (integers beyond 64 bits): one encoder for every such frame
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_json(payload: Any) -> str:
    """A frame's (or any value's) JSON text, compact like Discord's.

    Through orjson: with the standard library's encoder, encoding was a sixth of the
    simulator's CPU at 3,000 running jobs (bench/README.md, twelfth pass), CPU the benchmarks'
    server shares its two cores with. orjson writes the same text as that encoder for every
    value the simulator sends, and equivalent JSON for the rest (``1e-7`` for ``1e-07``).
    """
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return _ENCODER.encode(payload)


def dispatch_text(event: str, seq: int, d_json: str) -> str:
    """An op 0 frame's JSON text around ``d`` already encoded: exactly
    ``encode_json(frame(Opcode.DISPATCH, d, seq, event))``."""
    return f'{{"t":{encode_json(event)},"s":{seq},"op":0,"d":{d_json}}}'


class EditTemplate:
    """The JSON of successive edits of one message that differ only in a few top-level fields.

    Made from one edit (``model``); ``encode(edit)`` is exactly ``encode_json(edit)`` for every
    edit with the model's keys in the model's order and, outside ``changing``, equal values: the
    unchanged fields (author, interaction, mentions...: most of the bytes) are encoded once.
    """

    def __init__(self, model: JsonObject, changing: Collection[str]) -> None:
        #: the changing keys in order; ``_pieces[i]`` is the fixed text before the i-th one
        self._keys: list[str] = []
        self._pieces: list[str] = []
        fixed: list[str] = []
        for position, (key, value) in enumerate(model.items()):
            fixed.append(("{" if position == 0 else ",") + encode_json(key) + ":")
            if key in changing:
                self._pieces.append("".join(fixed))
                self._keys.append(key)
                fixed = []
            else:
                fixed.append(encode_json(value))
        fixed.append("}" if model else "{}")
        self._tail = "".join(fixed)

    def encode(self, edit: JsonObject) -> str:
        """``encode_json(edit)``, re-encoding only the changing fields (see the class)."""
        parts = []
        for piece, key in zip(self._pieces, self._keys, strict=True):
            parts.append(piece)
            parts.append(encode_json(edit[key]))
        parts.append(self._tail)
        return "".join(parts)


def decode_client_frame(raw: str | bytes) -> JsonObject | None:
    """A client frame, or None when it is not a JSON object with an integer ``op``."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("op"), int):
        return None
    return payload


class FrameEncoder:
    """JSON text frames, or one zlib stream over binary frames with ``compress=zlib-stream``."""

    def __init__(self, zlib_stream: bool) -> None:
        # the fastest level: clients only inflate, and on loopback the ratio does not matter
        # (level 6, zlib's default, cost three times as much CPU per frame)
        self._compressor = zlib.compressobj(level=1) if zlib_stream else None

    def encode(self, text: str) -> str | bytes:
        """A frame's JSON text as this connection sends it."""
        if self._compressor is None:
            return text
        # Each message ends with a sync flush: the 00 00 FF FF suffix clients look for (§2.1).
        return self._compressor.compress(text.encode()) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
