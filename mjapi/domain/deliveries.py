"""Webhook deliveries: one callback of one job, and every attempt made to deliver it.

A delivery is created in the same store transaction as the job change it reports (the outbox
pattern), so a callback can be late but never lost. Its ``event_id`` is the idempotency key a
receiver dedupes on: retries and replays of one delivery carry the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    #: waiting for its first or next attempt
    PENDING = "pending"
    #: a receiver answered 2xx
    DELIVERED = "delivered"
    #: every attempt failed until the retry period ran out
    FAILED = "failed"


@dataclass(frozen=True)
class Attempt:
    """One POST of a delivery to its URL."""

    number: int
    at: datetime
    #: milliseconds from sending to the answer (or the failure)
    duration_ms: int
    #: the receiver's HTTP status; None when no answer came (refused, timeout, connection)
    status_code: int | None = None
    #: why it failed, when it did
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Delivery:
    """One callback: the exact body to POST, where, and how it went so far."""

    event_id: str
    jobid: str
    owner: int
    url: str
    #: the job status this callback reports (``started``, ``progress``, ``completed`` ...)
    event: str
    #: the JSON text sent, byte for byte (the signature covers it)
    body: str
    created: datetime
    #: when the next attempt is due (pending deliveries)
    next_attempt: datetime
    #: after this moment no further attempt is made; the delivery becomes ``failed``
    expires: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: tuple[Attempt, ...] = ()
    #: store order of creation (assigned by the store; 0 before insertion)
    seq: int = 0

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)

    def with_attempt(
        self, attempt: Attempt, status: DeliveryStatus, next_attempt: datetime
    ) -> Delivery:
        # Spelled out rather than dataclasses.replace: this runs once per callback sent, and
        # replace() costs several times a plain construction.
        return Delivery(
            event_id=self.event_id,
            jobid=self.jobid,
            owner=self.owner,
            url=self.url,
            event=self.event,
            body=self.body,
            created=self.created,
            next_attempt=next_attempt,
            expires=self.expires,
            status=status,
            attempts=(*self.attempts, attempt),
            seq=self.seq,
        )
