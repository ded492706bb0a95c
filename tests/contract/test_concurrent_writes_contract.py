"""Concurrent writes, for every store: each call keeps its own outcome, whatever runs beside it.

SQLite commits concurrent writes together (group commit: one transaction, a savepoint per
call); PostgreSQL runs them on several pooled connections. Either way each caller gets the
result or error it would have got alone, and a failing call leaves its neighbours alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

from mjapi.domain.deliveries import Attempt, DeliveryStatus
from mjapi.domain.jobs import Child, Job, JobStatus
from mjapi.errors import DuplicateKey, NotFound
from mjapi.storage.base import Store
from tests.factories import make_delivery, make_job

T0 = datetime(2025, 6, 7, 8, 9, 10, 111000, tzinfo=UTC)


async def started_jobs(store: Store, count: int, prefix: str = "job") -> list[Job]:
    """``count`` stored jobs (inserted concurrently), returned moved to ``started``."""
    jobs = [make_job(jobid=f"{prefix}-{i:03d}") for i in range(count)]
    await asyncio.gather(*(store.insert_job(job) for job in jobs))
    return [job.evolve(status=JobStatus.STARTED, content=f"started {job.jobid}") for job in jobs]


# -- save_job


async def test_many_concurrent_saves_all_land_with_their_callbacks(store: Store) -> None:
    jobs = await started_jobs(store, 60)
    # every other save carries a callback
    deliveries = [
        make_delivery(job, f"evt-{i:03d}") if i % 2 else None for i, job in enumerate(jobs)
    ]
    saves = (store.save_job(job, d) for job, d in zip(jobs, deliveries, strict=True))
    assert await asyncio.gather(*saves) == [True] * 60

    assert [await store.get_job(job.jobid) for job in jobs] == jobs
    for expected in deliveries:
        if expected is not None:
            found = await store.get_delivery(expected.event_id)
            assert found is not None and found.event_id == expected.event_id
            assert (found.jobid, found.body) == (expected.jobid, expected.body)
    pending = await store.pending_deliveries()
    assert sorted(d.event_id for d in pending) == [f"evt-{i:03d}" for i in range(1, 60, 2)]


async def test_a_refused_change_among_concurrent_saves_stores_nothing(store: Store) -> None:
    """The middle job is terminal: its late change and callback are dropped, not its neighbours'."""
    first, middle, last = await started_jobs(store, 3)
    done = middle.evolve(status=JobStatus.COMPLETED, content="done")
    assert await store.save_job(done)
    late = middle.evolve(status=JobStatus.PROGRESS, progress=50)
    changes = [first.evolve(status=JobStatus.PROGRESS, progress=10), late]
    changes.append(last.evolve(status=JobStatus.PROGRESS, progress=30))
    saves = (store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(changes))

    assert await asyncio.gather(*saves) == [True, False, True]
    assert await store.get_job(middle.jobid) == done
    assert await store.get_delivery("evt-1") is None
    assert [await store.get_job(job.jobid) for job in (first, last)] == [changes[0], changes[2]]
    assert {d.event_id for d in await store.pending_deliveries()} == {"evt-0", "evt-2"}


async def test_a_callback_that_cannot_be_stored_undoes_only_its_own_change(store: Store) -> None:
    """The middle save reuses an event id: DuplicateKey for it alone, its job stays as it was."""
    first, middle, last = await started_jobs(store, 3)
    assert await store.save_job(first, make_delivery(first, "evt-taken"))
    changes = [job.evolve(status=JobStatus.PROGRESS, progress=20) for job in (first, middle, last)]
    event_ids = ["evt-a", "evt-taken", "evt-c"]
    saves = (
        store.save_job(j, make_delivery(j, e)) for j, e in zip(changes, event_ids, strict=True)
    )

    results = await asyncio.gather(*saves, return_exceptions=True)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], DuplicateKey)
    assert await store.get_job(middle.jobid) == make_job(jobid=middle.jobid)
    assert [await store.get_job(job.jobid) for job in (first, last)] == [changes[0], changes[2]]
    taken = await store.get_delivery("evt-taken")
    assert taken is not None and taken.jobid == first.jobid


async def test_conflicting_concurrent_saves_of_one_job_apply_one_after_the_other(
    store: Store,
) -> None:
    """A progress and a completion issued together: the outcome of some serial order.

    Called in this order, both apply. PostgreSQL's pooled connections may run them the other
    way round, and then the progress is refused (a completed job never moves back) with its
    callback; SQLite keeps call order (tests/unit/test_sqlite_batches.py). Never a mix.
    """
    (job,) = await started_jobs(store, 1)
    progress = job.evolve(status=JobStatus.PROGRESS, progress=40)
    completed = job.evolve(status=JobStatus.COMPLETED, content="done")
    results = await asyncio.gather(
        store.save_job(progress, make_delivery(progress, "evt-progress")),
        store.save_job(completed, make_delivery(completed, "evt-completed")),
    )

    assert list(results) in ([True, True], [False, True])
    assert await store.get_job(job.jobid) == completed
    assert (await store.get_delivery("evt-progress") is not None) is results[0]
    assert await store.get_delivery("evt-completed") is not None


# -- insert_job


async def test_a_duplicate_among_concurrent_inserts_fails_alone(store: Store) -> None:
    await store.insert_job(make_job(jobid="job-005", prompt="the original"))
    jobs = [make_job(jobid=f"job-{i:03d}", prompt=f"prompt {i}") for i in range(10)]

    results = await asyncio.gather(*(store.insert_job(job) for job in jobs), return_exceptions=True)
    failed = [i for i, result in enumerate(results) if result is not None]
    assert failed == [5] and isinstance(results[5], DuplicateKey)
    stored = [await store.get_job(job.jobid) for job in jobs]
    assert stored[:5] + stored[6:] == jobs[:5] + jobs[6:]
    assert stored[5] == make_job(jobid="job-005", prompt="the original")


async def test_two_concurrent_inserts_of_one_new_id_store_exactly_one(store: Store) -> None:
    twins = [make_job(jobid="job-twin", prompt=f"twin {i}") for i in range(2)]
    results = await asyncio.gather(
        *(store.insert_job(job) for job in twins), return_exceptions=True
    )

    assert sorted(type(result).__name__ for result in results) == ["DuplicateKey", "NoneType"]
    winner = twins[results.index(None)]
    assert await store.get_job("job-twin") == winner


# -- record_attempt


async def test_concurrent_attempts_are_all_recorded(store: Store) -> None:
    """Nine first attempts land; a repeated attempt number and an unknown delivery fail alone."""
    jobs = await started_jobs(store, 10)
    await asyncio.gather(
        *(store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(jobs))
    )
    first = Attempt(1, T0, 120, 503, "busy")
    await store.record_attempt("evt-9", first, DeliveryStatus.PENDING, T0 + timedelta(minutes=1))
    before = await store.get_delivery("evt-9")
    success = Attempt(1, T0 + timedelta(seconds=1), 80, 200)
    later = T0 + timedelta(hours=1)

    records = [
        store.record_attempt(f"evt-{i}", success, DeliveryStatus.DELIVERED, later)
        for i in range(10)
    ]
    records.append(store.record_attempt("evt-ghost", success, DeliveryStatus.DELIVERED, later))
    results = await asyncio.gather(*records, return_exceptions=True)

    assert results[:9] == [None] * 9
    assert isinstance(results[9], DuplicateKey) and isinstance(results[10], NotFound)
    for i in range(9):
        found = await store.get_delivery(f"evt-{i}")
        assert found is not None
        assert (found.status, found.attempts, found.next_attempt) == (
            DeliveryStatus.DELIVERED,
            (success,),
            later,
        )
    assert await store.get_delivery("evt-9") == before  # its status did not move either
    assert await store.pending_deliveries() == [before]


async def test_concurrent_writes_of_every_kind_land_together(store: Store) -> None:
    """insert_job, save_job, add_child and record_attempt issued at once."""
    count = 3
    parent, *others = await started_jobs(store, 1 + count, prefix="parent")
    assert await store.save_job(parent, make_delivery(parent, "evt-parent"))
    attempt = Attempt(1, T0, 50, 200)
    new_jobs = [make_job(jobid=f"new-{i}") for i in range(count)]
    children = [Child(f"U{i}", f"new-{i}") for i in range(count)]
    writes: list[Awaitable[bool | None]] = [store.insert_job(job) for job in new_jobs]
    writes += [store.save_job(job) for job in others]
    writes += [store.add_child(parent.jobid, child) for child in children]
    writes.append(store.record_attempt("evt-parent", attempt, DeliveryStatus.DELIVERED, T0))

    results = await asyncio.gather(*writes)
    assert results == [None] * count + [True] * count + [True] * count + [None]
    assert [await store.get_job(job.jobid) for job in new_jobs + others] == new_jobs + others
    stored_parent = await store.get_job(parent.jobid)
    assert stored_parent is not None
    assert sorted(stored_parent.children, key=lambda c: c.jobid) == children
    delivered = await store.get_delivery("evt-parent")
    assert delivered is not None and delivered.attempts == (attempt,)
