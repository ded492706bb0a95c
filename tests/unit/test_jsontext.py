"""jsontext writes what json would for the values mjapi encodes, and reads what json reads."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mjapi import jsontext

# What job models, rows and Discord payloads hold: no floats (their text may differ, see below).
PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _json(value: Any, sort_keys: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)


@given(PLAIN, st.booleans())
def test_plain_values_encode_exactly_as_json_does(value: Any, sort_keys: bool) -> None:
    try:
        expected = _json(value, sort_keys)
        expected.encode()
    except UnicodeEncodeError:
        return  # lone surrogates: neither encoder produces UTF-8 for them
    assert jsontext.dumps(value, sort_keys=sort_keys) == expected
    assert jsontext.dumps_bytes(value) == _json(value).encode()


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip(value: float) -> None:
    assert json.loads(jsontext.dumps([value])) == [value]


def test_integers_beyond_64_bits_are_written_exactly() -> None:
    huge = {"n": -(2**70), 2: [2**64]}
    assert jsontext.dumps(huge) == _json(huge)
    assert jsontext.dumps_bytes(huge) == _json(huge).encode()


def test_integer_keys_become_strings_as_with_json() -> None:
    assert jsontext.dumps({1: "a"}) == '{"1":"a"}'


def test_non_json_text_is_a_value_error() -> None:
    for text in ("NaN", "{", "[1,]", ""):
        try:
            jsontext.loads(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was accepted")


@given(PLAIN)
def test_loads_reads_what_json_reads(value: Any) -> None:
    try:
        text = _json(value)
        text.encode()
    except UnicodeEncodeError:
        return
    assert jsontext.loads(text) == json.loads(text)
