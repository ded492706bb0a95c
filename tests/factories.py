"""Builders of domain objects for tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Delivery
from mjapi.domain.jobs import Job, JobStatus

T0 = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def make_job(**changes: Any) -> Job:
    base = Job(
        jobid="job:20250102030405678-user:1-channel:100",
        owner=1,
        verb="imagine",
        status=JobStatus.CREATED,
        created=T0,
        updated=T0,
        channel="100",
        discord="abc...secured...xyz",
        max_jobs=3,
        prompt="a cat",
    )
    return base.evolve(**changes)


def make_account(**changes: Any) -> Account:
    base = Account(
        channel="100",
        owner=1,
        discord_token="token-for-tests-0123456789",
        discord_user_id="555",
        max_jobs=3,
        created=T0,
        updated=T0,
    )
    return base.evolve(**changes)


def make_delivery(job: Job, event_id: str, **changes: Any) -> Delivery:
    """The callback reporting ``job``'s current status, due at once."""
    base = Delivery(
        event_id=event_id,
        jobid=job.jobid,
        owner=job.owner,
        url="https://example.test/hook",
        event=job.status.value,
        body=f'{{"jobid":"{job.jobid}","status":"{job.status.value}"}}',
        created=T0,
        next_attempt=T0,
        expires=T0 + timedelta(days=1),
    )
    return replace(base, **changes)
