"""The DeliveryStore contract, for every store: the webhook outbox and the signing secrets.

A callback is stored in the transaction of the job change it reports, or not at all; it comes
back byte for byte with every attempt made, in creation order while pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Job, JobStatus
from mjapi.errors import DuplicateKey, NotFound
from mjapi.storage.base import Store
from mjapi.storage.crypto import SecretKeyError, TokenCipher
from tests.contract.conftest import Backend
from tests.factories import make_job

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
#: Not what json.dumps would write (spaces, key order, escapes, a newline): jsonb or any
#: re-encoding would change it, and the signature covers these exact bytes.
BODY = '{"status": "started",  "jobid":"j", "prompt":"ünï \\u00e9 🐈",\n"n":1.0}'
SECRET = "whsec_0123456789abcdefTHEPLAINSECRET"


def delivery(job: Job, event_id: str, **changes: Any) -> Delivery:
    """The callback reporting ``job``, every field distinct from the others."""
    base = Delivery(
        event_id=event_id,
        jobid=job.jobid,
        owner=job.owner,
        url="https://example.test/hook?user=1&x=ü",
        event=job.status.value,
        body=BODY,
        created=T0,
        next_attempt=T0 + timedelta(seconds=1, microseconds=7),
        expires=T0 + timedelta(days=1),
    )
    return replace(base, **changes)


def attempt(number: int, status_code: int | None = 503, error: str | None = "busy") -> Attempt:
    return Attempt(number, T0 + timedelta(seconds=number), 100 + number, status_code, error)


async def new_job(store: Store, jobid: str, owner: int = 1) -> Job:
    """A stored job, returned already moved to ``started`` (not yet saved)."""
    job = make_job(jobid=jobid, owner=owner)
    await store.insert_job(job)
    return job.evolve(status=JobStatus.STARTED)


async def outbox(store: Store, job: Job, event_id: str, **changes: Any) -> Delivery:
    """Save ``job`` with its callback; the callback as stored (seq included)."""
    assert await store.save_job(job, delivery(job, event_id, **changes))
    stored = await store.get_delivery(event_id)
    assert stored is not None
    return stored


async def ids(found: Awaitable[list[Delivery]]) -> list[str]:
    """The event ids of the deliveries ``found`` lists, in its order."""
    return [d.event_id for d in await found]


# -- save_job and the outbox


async def test_save_job_with_a_delivery_stores_both(store: Store) -> None:
    job = await new_job(store, "job-a")
    assert await store.save_job(job, delivery(job, "evt-1")) is True
    assert await store.get_job("job-a") == job
    stored = await store.get_delivery("evt-1")
    assert stored is not None and stored.seq > 0
    assert stored == replace(delivery(job, "evt-1"), seq=stored.seq)
    assert stored.body.encode() == BODY.encode()


async def test_a_change_the_state_machine_refuses_stores_no_delivery(store: Store) -> None:
    job = make_job(jobid="job-a", status=JobStatus.COMPLETED)
    await store.insert_job(job)
    late = job.evolve(status=JobStatus.PROGRESS, progress=50)
    assert await store.save_job(late, delivery(late, "evt-late")) is False
    ghost = make_job(jobid="ghost", status=JobStatus.STARTED)
    assert await store.save_job(ghost, delivery(ghost, "evt-ghost")) is False
    assert await store.get_delivery("evt-late") is None
    assert await store.get_delivery("evt-ghost") is None
    assert await store.pending_deliveries() == []
    assert await store.get_job("job-a") == job


async def test_a_delivery_that_cannot_be_stored_leaves_the_job_unchanged(store: Store) -> None:
    """The other half of the outbox: no callback, no change (a reused event id rolls back)."""
    job = await new_job(store, "job-a")
    first = await outbox(store, job, "evt-1")
    progress = job.evolve(status=JobStatus.PROGRESS, progress=40)
    with pytest.raises(DuplicateKey):
        await store.save_job(progress, delivery(progress, "evt-1", event="progress"))
    assert await store.get_job("job-a") == job
    assert await store.get_delivery("evt-1") == first


async def test_a_delivery_must_report_the_job_saved_with_it(store: Store) -> None:
    job = await new_job(store, "job-a")
    other = make_job(jobid="job-b", status=JobStatus.STARTED)
    with pytest.raises(ValueError, match="job-b"):
        await store.save_job(job, delivery(other, "evt-1"))
    with pytest.raises(ValueError, match="user 9"):
        await store.save_job(job, delivery(job, "evt-1", owner=9))
    assert await store.get_job("job-a") == make_job(jobid="job-a")
    assert await store.get_delivery("evt-1") is None


async def test_a_new_delivery_keeps_the_attempts_it_carries(store: Store) -> None:
    job = await new_job(store, "job-a")
    carried = (attempt(1), attempt(2, None, "refused"))
    stored = await outbox(store, job, "evt-1", attempts=carried)
    assert stored.attempts == carried


# -- pending deliveries and attempts


async def test_pending_deliveries_come_in_creation_order_across_jobs(store: Store) -> None:
    """seq, not ``created`` (given out of order here) nor the event id, decides the order."""
    a, b = await new_job(store, "job-a"), await new_job(store, "job-b")
    await outbox(store, a, "evt-3", created=T0 + timedelta(hours=2))
    await outbox(store, b, "evt-1", created=T0 + timedelta(hours=1))
    a_progress = a.evolve(status=JobStatus.PROGRESS, progress=10)
    await outbox(store, a_progress, "evt-2", created=T0, event="progress")
    pending = await store.pending_deliveries()
    assert [d.event_id for d in pending] == ["evt-3", "evt-1", "evt-2"]
    assert pending[0].seq < pending[1].seq < pending[2].seq


async def test_a_successful_attempt_delivers(store: Store) -> None:
    job = await new_job(store, "job-a")
    stored = await outbox(store, job, "evt-1")
    success = attempt(1, 204, None)
    later = T0 + timedelta(hours=1)
    await store.record_attempt("evt-1", success, DeliveryStatus.DELIVERED, later)
    expected = stored.with_attempt(success, DeliveryStatus.DELIVERED, later)
    assert await store.get_delivery("evt-1") == expected
    assert await store.pending_deliveries() == []


async def test_failed_attempts_accumulate_in_order_and_keep_it_pending(store: Store) -> None:
    """Eleven attempts: numbers order as numbers (2 before 10), not as text."""
    job = await new_job(store, "job-a")
    expected = await outbox(store, job, "evt-1")
    for number in range(1, 12):
        failure = attempt(number, None if number % 2 else 500 + number, f"failure {number}")
        due = T0 + timedelta(minutes=number)
        await store.record_attempt("evt-1", failure, DeliveryStatus.PENDING, due)
        expected = expected.with_attempt(failure, DeliveryStatus.PENDING, due)
    assert await store.get_delivery("evt-1") == expected
    assert await store.pending_deliveries() == [expected]
    assert [a.number for a in expected.attempts] == list(range(1, 12))


async def test_an_attempt_is_recorded_once_and_only_for_a_known_delivery(store: Store) -> None:
    job = await new_job(store, "job-a")
    await outbox(store, job, "evt-1")
    await store.record_attempt("evt-1", attempt(1), DeliveryStatus.PENDING, T0)
    before = await store.get_delivery("evt-1")
    with pytest.raises(DuplicateKey):
        await store.record_attempt("evt-1", attempt(1, 200), DeliveryStatus.DELIVERED, T0)
    assert await store.get_delivery("evt-1") == before  # the status did not move either
    with pytest.raises(NotFound):
        await store.record_attempt("evt-ghost", attempt(1), DeliveryStatus.PENDING, T0)
    assert await store.get_delivery("evt-ghost") is None


# -- get and list


async def fill_two_owners(store: Store) -> None:
    """Owner 1: job-a (evt-a1, evt-a2), job-b (evt-b1, delivered); owner 2: job-c (evt-c1)."""
    a, b = await new_job(store, "job-a"), await new_job(store, "job-b")
    c = await new_job(store, "job-c", owner=2)
    await outbox(store, a, "evt-a1")
    await outbox(store, c, "evt-c1")
    await outbox(store, b, "evt-b1")
    await outbox(store, a.evolve(status=JobStatus.PROGRESS, progress=5), "evt-a2")
    await store.record_attempt("evt-b1", attempt(1, 200), DeliveryStatus.DELIVERED, T0)


async def test_an_unknown_delivery_is_none(store: Store) -> None:
    assert await store.get_delivery("evt-ghost") is None


async def test_list_is_the_owners_own_newest_first(store: Store) -> None:
    await fill_two_owners(store)
    assert await ids(store.list_deliveries(1)) == ["evt-a2", "evt-b1", "evt-a1"]
    assert await ids(store.list_deliveries(2)) == ["evt-c1"]
    assert await store.list_deliveries(3) == []


async def test_list_by_job_never_crosses_owners(store: Store) -> None:
    await fill_two_owners(store)
    assert await ids(store.list_deliveries(1, jobid="job-a")) == ["evt-a2", "evt-a1"]
    assert await store.list_deliveries(1, jobid="job-c") == []
    assert await ids(store.list_deliveries(2, jobid="job-c")) == ["evt-c1"]


async def test_list_by_status_and_limit(store: Store) -> None:
    await fill_two_owners(store)
    pending, delivered = DeliveryStatus.PENDING, DeliveryStatus.DELIVERED
    assert await ids(store.list_deliveries(1, status=pending)) == ["evt-a2", "evt-a1"]
    assert await ids(store.list_deliveries(1, status=delivered)) == ["evt-b1"]
    assert await ids(store.list_deliveries(1, jobid="job-b", status=pending)) == []
    assert await ids(store.list_deliveries(1, limit=2)) == ["evt-a2", "evt-b1"]
    assert await store.list_deliveries(1, limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        await store.list_deliveries(1, limit=-1)


async def test_listed_deliveries_carry_their_own_attempts(store: Store) -> None:
    await fill_two_owners(store)
    await store.record_attempt("evt-a1", attempt(1), DeliveryStatus.PENDING, T0)
    await store.record_attempt("evt-a1", attempt(2), DeliveryStatus.PENDING, T0)
    listed = await store.list_deliveries(1)
    assert [len(d.attempts) for d in listed] == [0, 1, 2]
    assert listed == [await store.get_delivery(d.event_id) for d in listed]


# -- replay and prune


async def test_replay_makes_a_delivery_pending_again_under_the_same_id(store: Store) -> None:
    job = await new_job(store, "job-a")
    stored = await outbox(store, job, "evt-1")
    await store.record_attempt("evt-1", attempt(1), DeliveryStatus.FAILED, T0)
    due, expires = T0 + timedelta(days=3), T0 + timedelta(days=4)
    replayed = await store.replay_delivery("evt-1", due, expires)
    expected = replace(stored, attempts=(attempt(1),), next_attempt=due, expires=expires)
    assert replayed == expected
    assert await store.get_delivery("evt-1") == expected
    assert await store.pending_deliveries() == [expected]


async def test_replaying_an_unknown_delivery_is_none(store: Store) -> None:
    assert await store.replay_delivery("evt-ghost", T0, T0) is None
    assert await store.get_delivery("evt-ghost") is None


async def prune_fixture(store: Store) -> None:
    """Each job's callback: old delivered, old failed, old pending, at the cut, and new."""
    created = {"old-d": T0, "old-f": T0, "old-p": T0, "cut": T0 + timedelta(days=1)}
    created["new"] = T0 + timedelta(days=2)
    outcome = {"old-d": DeliveryStatus.DELIVERED, "old-f": DeliveryStatus.FAILED}
    outcome |= {"cut": DeliveryStatus.DELIVERED, "new": DeliveryStatus.DELIVERED}
    for name, moment in created.items():
        await outbox(store, await new_job(store, f"job-{name}"), name, created=moment)
        await store.record_attempt(name, attempt(1), outcome.get(name, DeliveryStatus.PENDING), T0)


async def test_prune_removes_only_old_finished_deliveries(store: Store, backend: Backend) -> None:
    await prune_fixture(store)
    assert await backend.row_count("delivery_attempts") == 5
    assert await store.prune_deliveries(T0 + timedelta(days=1)) == 2
    assert await ids(store.list_deliveries(1)) == ["new", "cut", "old-p"]
    assert await store.get_delivery("old-d") is None
    assert await backend.row_count("delivery_attempts") == 3  # theirs went with them
    assert await store.prune_deliveries(T0 + timedelta(days=1)) == 0


async def test_a_delivery_attempted_after_the_cut_is_kept(store: Store) -> None:
    # Made long ago, replayed (attempted) recently: it stays listed for the retention.
    await outbox(store, await new_job(store, "job-r"), "replayed", created=T0)
    late = Attempt(1, T0 + timedelta(days=3), 5, 200)
    await store.record_attempt("replayed", late, DeliveryStatus.DELIVERED, T0)
    assert await store.prune_deliveries(T0 + timedelta(days=2)) == 0
    assert await store.prune_deliveries(T0 + timedelta(days=4)) == 1


async def test_seq_never_goes_back_after_pruning_the_newest(store: Store) -> None:
    first = await outbox(store, await new_job(store, "job-a"), "evt-1")
    await store.record_attempt("evt-1", attempt(1, 200), DeliveryStatus.DELIVERED, T0)
    assert await store.prune_deliveries(T0 + timedelta(days=1)) == 1
    second = await outbox(store, await new_job(store, "job-b"), "evt-2")
    assert second.seq > first.seq


# -- signing secrets


async def test_webhook_secrets_round_trip_and_replace(store: Store) -> None:
    assert await store.webhook_secret(7) is None
    await store.put_webhook_secret(7, SECRET)
    await store.put_webhook_secret(8, "other")
    assert await store.webhook_secret(7) == SECRET
    await store.put_webhook_secret(7, "rotated")
    assert await store.webhook_secret(7) == "rotated"
    assert await store.webhook_secret(8) == "other"


async def test_a_webhook_secret_is_encrypted_at_rest(backend: Backend) -> None:
    store = backend.new_store()
    await store.open()
    try:
        await store.put_webhook_secret(7, SECRET)
        at_rest = await backend.raw_dump()
    finally:
        await store.close()
    assert b"gAAAAA" in at_rest  # the dump holds the row: a Fernet token
    assert SECRET.encode() not in at_rest
    assert b"THEPLAINSECRET" not in at_rest
    other = backend.new_store(TokenCipher(Fernet.generate_key()))
    await other.open()
    try:
        with pytest.raises(SecretKeyError):
            await other.webhook_secret(7)  # only the store's key reads it
    finally:
        await other.close()


# -- restarts and replicas


async def test_the_outbox_survives_a_restart(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    try:
        stored = await outbox(first, await new_job(first, "job-a"), "evt-1")
        await first.record_attempt("evt-1", attempt(1), DeliveryStatus.PENDING, T0)
        await first.put_webhook_secret(1, SECRET)
    finally:
        await first.close()
    second = backend.new_store()
    await second.open()
    try:
        expected = replace(stored, attempts=(attempt(1),), next_attempt=T0)
        assert await second.pending_deliveries() == [expected]
        assert await second.webhook_secret(1) == SECRET
        later = await outbox(second, await new_job(second, "job-b"), "evt-2")
        assert later.seq > stored.seq
    finally:
        await second.close()


async def test_concurrent_saves_through_two_stores_each_get_their_delivery(
    backend: Backend,
) -> None:
    stores = [backend.new_store(), backend.new_store()]
    for store in stores:
        await store.open()
    try:
        jobs = [await new_job(stores[0], f"job-{n}") for n in range(20)]
        saves = [
            stores[n % 2].save_job(job, delivery(job, f"evt-{n}")) for n, job in enumerate(jobs)
        ]
        assert all(await asyncio.gather(*saves))
        pending = await stores[1].pending_deliveries()
        assert sorted(d.event_id for d in pending) == sorted(f"evt-{n}" for n in range(20))
        assert len({d.seq for d in pending}) == 20
        assert [d.seq for d in pending] == sorted(d.seq for d in pending)
    finally:
        for store in stores:
            await store.close()


# -- superseded deliveries, deleted with the attempt that superseded them


async def progress_reports(store: Store, jobid: str, count: int) -> list[str]:
    """``count`` progress callbacks of one job, oldest first; their event ids."""
    job = await new_job(store, jobid)
    event_ids = [f"{jobid}-p{n}" for n in range(count)]
    for n, event_id in enumerate(event_ids):
        job = job.evolve(status=JobStatus.PROGRESS, progress=10 * (n + 1))
        await outbox(store, job, event_id)
    return event_ids


async def test_an_attempt_deletes_the_deliveries_it_superseded(store: Store) -> None:
    *older, newest = await progress_reports(store, "job-s", 3)

    await store.record_attempt(newest, attempt(1, 200), DeliveryStatus.DELIVERED, T0, older)

    assert [await store.get_delivery(event_id) for event_id in older] == [None, None]
    stored = await store.get_delivery(newest)
    assert stored is not None and stored.status is DeliveryStatus.DELIVERED
    assert await store.pending_deliveries() == []


async def test_a_delivery_attempted_or_settled_is_never_deleted_as_superseded(
    store: Store,
) -> None:
    outcomes = {
        "tried": DeliveryStatus.PENDING,
        "done": DeliveryStatus.DELIVERED,
        "dead": DeliveryStatus.FAILED,
    }
    for event_id, status in outcomes.items():
        await outbox(store, await new_job(store, f"job-{event_id}"), event_id)
        await store.record_attempt(event_id, attempt(1), status, T0)
    [newest] = await progress_reports(store, "job-n", 1)

    superseded = [*outcomes, "evt-unknown"]
    await store.record_attempt(newest, attempt(1, 200), DeliveryStatus.DELIVERED, T0, superseded)

    for event_id, status in outcomes.items():
        stored = await store.get_delivery(event_id)
        assert stored is not None and stored.status is status and len(stored.attempts) == 1
    assert await ids(store.pending_deliveries()) == ["tried"]


async def test_a_failed_record_deletes_nothing(store: Store) -> None:
    older, newest = await progress_reports(store, "job-f", 2)
    await store.record_attempt(newest, attempt(1), DeliveryStatus.PENDING, T0)

    with pytest.raises(DuplicateKey):
        await store.record_attempt(newest, attempt(1), DeliveryStatus.PENDING, T0, [older])

    assert await ids(store.pending_deliveries()) == [older, newest]


async def test_attempts_recorded_at_once_each_delete_what_they_superseded(store: Store) -> None:
    lanes = [await progress_reports(store, f"job-{n}", 3) for n in range(6)]
    kept = await progress_reports(store, "job-kept", 2)

    await asyncio.gather(
        *(
            store.record_attempt(newest, attempt(1, 200), DeliveryStatus.DELIVERED, T0, older)
            for *older, newest in lanes
        )
    )

    assert await ids(store.pending_deliveries()) == kept
    for *older, newest in lanes:
        assert [await store.get_delivery(event_id) for event_id in older] == [None, None]
        stored = await store.get_delivery(newest)
        assert stored is not None and stored.attempts == (attempt(1, 200),)
