"""Delivery and Attempt <-> database row, shared by the SQLite and PostgreSQL stores.

A delivery is one ``deliveries`` row plus its ``delivery_attempts`` rows, read with one query
for the deliveries and one for the attempts of all of them (never one query per delivery).
Times follow ``codec``: ``timestamptz`` in PostgreSQL, fixed-width ISO text in SQLite. The
stores bind rows as positional tuples (``delivery_values``, ``attempt_values``): a delivery is
written with most job changes and an attempt with every callback sent, and a dict per row for
named parameters was wasted work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Job
from mjapi.storage.codec import Row, TimeEncoder, time_from_db, utc

#: Columns a new delivery is inserted with (``seq`` is the database's); PostgreSQL's positional
#: parameters $1..$N follow this order.
DELIVERY_COLUMNS: tuple[str, ...] = (
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
)

#: Column order of ``delivery_attempts``; PostgreSQL's positional parameters follow it.
ATTEMPT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "number",
    "at",
    "duration_ms",
    "status_code",
    "error",
)


def check_reports(job: Job, delivery: Delivery) -> None:
    """Refuse a delivery stored with a job it does not report: it would reach the wrong user."""
    if (delivery.jobid, delivery.owner) != (job.jobid, job.owner):
        raise ValueError(
            f"delivery {delivery.event_id} reports job {delivery.jobid} of user {delivery.owner},"
            f" not job {job.jobid} of user {job.owner}"
        )


def check_limit(limit: int) -> None:
    """Refuse a negative limit, which SQLite reads as "no limit" and PostgreSQL as an error."""
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")


def delivery_to_row(delivery: Delivery) -> dict[str, Any]:
    """Column name -> value (DELIVERY_COLUMNS); datetimes stay datetimes."""
    return dict(zip(DELIVERY_COLUMNS, delivery_values(delivery, utc), strict=True))


def delivery_values(delivery: Delivery, time: TimeEncoder) -> tuple[Any, ...]:
    """The new delivery's row in DELIVERY_COLUMNS order, its times made by ``time``."""
    return (
        delivery.event_id,
        delivery.jobid,
        delivery.owner,
        delivery.url,
        delivery.event,
        delivery.body,
        time(delivery.created),
        time(delivery.next_attempt),
        time(delivery.expires),
        delivery.status.value,
    )


def attempt_to_row(event_id: str, attempt: Attempt) -> dict[str, Any]:
    """Column name -> value (ATTEMPT_COLUMNS); datetimes stay datetimes."""
    return dict(zip(ATTEMPT_COLUMNS, attempt_values(event_id, attempt, utc), strict=True))


def attempt_values(event_id: str, attempt: Attempt, time: TimeEncoder) -> tuple[Any, ...]:
    """The attempt's row in ATTEMPT_COLUMNS order, its time made by ``time``."""
    return (
        event_id,
        attempt.number,
        time(attempt.at),
        attempt.duration_ms,
        attempt.status_code,
        attempt.error,
    )


def deliveries_from_rows(rows: Iterable[Row], attempt_rows: Iterable[Row]) -> list[Delivery]:
    """Deliveries in the order of ``rows``, each with its attempts in ``number`` order.

    ``attempt_rows`` are the ``delivery_attempts`` rows of those deliveries, in any order.
    """
    attempts: dict[str, list[Attempt]] = {}
    for row in attempt_rows:
        attempts.setdefault(row["event_id"], []).append(_attempt_from_row(row))
    return [
        _delivery_from_row(row, sorted(attempts.get(row["event_id"], []), key=_number))
        for row in rows
    ]


def _delivery_from_row(row: Row, attempts: list[Attempt]) -> Delivery:
    return Delivery(
        event_id=row["event_id"],
        jobid=row["jobid"],
        owner=row["owner"],
        url=row["url"],
        event=row["event"],
        body=row["body"],
        created=time_from_db(row["created"]),
        next_attempt=time_from_db(row["next_attempt"]),
        expires=time_from_db(row["expires"]),
        status=DeliveryStatus(row["status"]),
        attempts=tuple(attempts),
        seq=row["seq"],
    )


def _attempt_from_row(row: Row) -> Attempt:
    return Attempt(
        number=row["number"],
        at=time_from_db(row["at"]),
        duration_ms=row["duration_ms"],
        status_code=row["status_code"],
        error=row["error"],
    )


def _number(attempt: Attempt) -> int:
    return attempt.number
