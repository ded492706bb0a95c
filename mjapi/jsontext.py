"""Compact JSON text on the hot paths, through orjson.

Every gateway frame is parsed, and every job change is encoded three times (the stored row, the
callback body, the API body); at thousands of changes per second the standard library's
encoder and decoder were a tenth of the server's CPU. orjson writes what
``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` writes for the values mjapi
encodes (str, int, bool, None, lists, dicts with str keys), with two differences that cannot
arise from parsed JSON: NaN and infinities become ``null`` (json would write or refuse a
non-JSON literal). What orjson refuses (integers beyond 64 bits) goes through json instead.
Parsing accepts exactly JSON (json's ``NaN``/``Infinity`` extensions are refused) but reads
integers beyond 64 bits as floats: it is for Discord's gateway frames (whose big numbers,
snowflakes, are strings), not for stored values that must come back exactly.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Integer dict keys become strings, as json does.
_PLAIN = orjson.OPT_NON_STR_KEYS
_SORTED = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS

#: Raised by ``loads`` on text that is not JSON (a ValueError, like json's).
JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """``value`` as compact JSON text (keys sorted if asked)."""
    try:
        return orjson.dumps(value, option=_SORTED if sort_keys else _PLAIN).decode()
    except orjson.JSONEncodeError:
        return _slow_dumps(value, sort_keys)


def dumps_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, for bodies that go out as bytes."""
    try:
        return orjson.dumps(value, option=_PLAIN)
    except orjson.JSONEncodeError:
        return _slow_dumps(value, False).encode()


def _slow_dumps(value: Any, sort_keys: bool) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)


def loads(text: str | bytes) -> Any:
    """The value the JSON ``text`` holds; ``JSONDecodeError`` (a ValueError) if it is not JSON."""
    return orjson.loads(text)
