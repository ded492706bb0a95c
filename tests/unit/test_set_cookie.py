"""``parse_set_cookie``: the part of RFC 6265 H1Client.direct keeps cookies by."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mjapi.net.h1_client import parse_set_cookie

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a=1", ("a", "1", True)),
        (" __cfruid = x.y-z ; Path=/; Secure; HttpOnly", ("__cfruid", "x.y-z", True)),
        ("a=b=c; Path=/", ("a", "b=c", True)),
        ("a=; Max-Age=0", ("a", "", False)),
        ("a=1; max-age=-5", ("a", "1", False)),
        ("a=1; Max-Age=60", ("a", "1", True)),
        ("a=1; Max-Age=soon", ("a", "1", True)),
        ("a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT", ("a", "1", False)),
        ("a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT", ("a", "1", True)),
        ("a=1; Expires=whenever", ("a", "1", True)),
        # Max-Age wins over Expires, whichever comes first (RFC 6265 §5.3 step 3).
        ("a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60", ("a", "1", True)),
        ("a=1; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT", ("a", "1", False)),
    ],
)
def test_a_set_cookie_line_gives_name_value_and_whether_it_lives(
    line: str, expected: tuple[str, str, bool]
) -> None:
    assert parse_set_cookie(line, NOW) == expected


@pytest.mark.parametrize(
    "line",
    ["", "novalue", "=1", " ; Path=/", "a=caf\u00e9", "n\u00e4me=1", "a=x\x01y", "a=two words"],
)
def test_a_line_naming_no_cookie_is_ignored(line: str) -> None:
    assert parse_set_cookie(line, NOW) is None
