"""Delivery.with_attempt builds the next delivery by hand: it must copy every other field."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _sentinel_delivery() -> Delivery:
    """A delivery whose every field differs from its default (so a dropped copy shows)."""
    first = Attempt(1, T0, 12, 500, "HTTP 500")
    return Delivery(
        event_id="evt_1",
        jobid="job-1",
        owner=7,
        url="https://example.test/hook",
        event="progress",
        body='{"status":"progress"}',
        created=T0,
        next_attempt=T0 + timedelta(seconds=1),
        expires=T0 + timedelta(days=1),
        status=DeliveryStatus.FAILED,
        attempts=(first,),
        seq=42,
    )


def test_with_attempt_equals_replace_with_the_attempt_appended() -> None:
    delivery = _sentinel_delivery()
    second = Attempt(2, T0 + timedelta(seconds=2), 3, 200)
    later = T0 + timedelta(seconds=9)
    got = delivery.with_attempt(second, DeliveryStatus.DELIVERED, later)
    expected = dataclasses.replace(
        delivery,
        attempts=(*delivery.attempts, second),
        status=DeliveryStatus.DELIVERED,
        next_attempt=later,
    )
    assert got == expected


def test_every_field_of_delivery_is_known_to_with_attempt() -> None:
    # A new field must be copied by with_attempt too: this list is the reminder.
    assert [f.name for f in dataclasses.fields(Delivery)] == [
        "event_id",
        "jobid",
        "owner",
        "url",
        "event",
        "body",
        "created",
        "next_attempt",
        "expires",
        "status",
        "attempts",
        "seq",
    ]
    for field in dataclasses.fields(Delivery):
        assert field.default is dataclasses.MISSING or getattr(
            _sentinel_delivery(), field.name
        ) != (field.default), field.name
