"""Callback event ids: the documented shape, unique, and ordered by creation time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mjapi.webhooks.outbox import new_event_id

MOMENT = datetime(2026, 11, 25, 8, 30, 0, 123000, tzinfo=UTC)


def test_an_event_id_is_evt_and_32_hex_digits_starting_with_its_millisecond() -> None:
    event_id = new_event_id(MOMENT)
    assert re.fullmatch(r"evt_[0-9a-f]{32}", event_id)
    assert int(event_id[4:16], 16) == int(MOMENT.timestamp() * 1000)


def test_ids_of_one_millisecond_differ() -> None:
    assert len({new_event_id(MOMENT) for _ in range(1000)}) == 1000


def test_a_later_callback_sorts_after_an_earlier_one() -> None:
    # What keeps the store's unique indexes growing at their right edge.
    earlier = [new_event_id(MOMENT + timedelta(milliseconds=n)) for n in range(0, 500, 7)]
    assert earlier == sorted(earlier)
    assert new_event_id(MOMENT) < new_event_id(MOMENT + timedelta(milliseconds=1))
