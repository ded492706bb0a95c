"""The simulator's frame JSON: orjson's text, the standard library's for what orjson refuses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from mjapi.simulator.gateway_protocol import encode_json

#: what Discord frames hold: strings (snowflakes included), ints, bools, nulls, lists, objects
FRAME_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(FRAME_VALUES)
@example({"content": "**a fox** - <@1> (42%) \u2028\x00\x7f é 😀", "id": "1575312428797919232"})
@example({"huge": 2**70, "negative": -(2**64)})  # beyond 64 bits: the standard library's way
def test_frames_are_written_as_the_standard_library_writes_them(value: Any) -> None:
    assert encode_json(value) == standard(value)
