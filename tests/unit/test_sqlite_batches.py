"""SQLite group commit: concurrent writes share transactions, each keeping its own outcome.

What only SQLite promises beyond the store contract (tests/contract): batching itself (seen in
``SqliteStore.batch_stats``), call order inside a batch, and what a failed batch means. Failures
are provoked with triggers created on the file around the store, so the SQL errors are real.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.fernet import Fernet

from mjapi.domain.jobs import Child, Job, JobStatus
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.storage.sqlite.worker import MAX_BATCH
from tests.factories import make_delivery, make_job

T = TypeVar("T")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "db.sqlite3", TokenCipher(Fernet.generate_key()))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def started_jobs(store: SqliteStore, count: int) -> list[Job]:
    jobs = [make_job(jobid=f"job-{i:03d}") for i in range(count)]
    for job in jobs:
        await store.insert_job(job)
    return [job.evolve(status=JobStatus.STARTED) for job in jobs]


def run_sql(store: SqliteStore, sql: str) -> None:
    """One statement on a connection of our own (as another process would)."""
    with sqlite3.connect(store.path) as conn:
        conn.execute(sql)
    conn.close()


async def transactions_for(store: SqliteStore, work: Awaitable[T]) -> tuple[T, int]:
    """``work``'s result and how many batch transactions it took."""
    before = store.batch_stats.transactions
    result = await work
    return result, store.batch_stats.transactions - before


async def test_concurrent_saves_share_a_few_transactions(store: SqliteStore) -> None:
    jobs = await started_jobs(store, 200)
    saves = (store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(jobs))

    results, transactions = await transactions_for(store, asyncio.gather(*saves))
    assert results == [True] * 200
    assert transactions <= 5  # one per call without group commit
    assert len(await store.pending_deliveries()) == 200


async def test_a_lone_write_is_one_transaction(store: SqliteStore) -> None:
    (job,) = await started_jobs(store, 1)
    assert await transactions_for(store, store.save_job(job)) == (True, 1)


async def test_a_batch_is_bounded(store: SqliteStore) -> None:
    await store.insert_job(make_job(jobid="parent"))
    children = [Child(f"U{i}", f"child-{i:04d}") for i in range(2 * MAX_BATCH + 1)]
    adds = (store.add_child("parent", child) for child in children)

    results, transactions = await transactions_for(store, asyncio.gather(*adds))
    assert all(results) and transactions >= 3
    assert store.batch_stats.largest == MAX_BATCH
    parent = await store.get_job("parent")
    assert parent is not None and parent.children == tuple(children)  # and in call order


async def test_saves_of_one_job_apply_in_call_order(store: SqliteStore) -> None:
    (job,) = await started_jobs(store, 1)
    steps = [job.evolve(status=JobStatus.PROGRESS, progress=p) for p in (10, 60, 30)]
    steps.append(job.evolve(status=JobStatus.COMPLETED, content="done"))
    steps.append(job.evolve(status=JobStatus.PROGRESS, progress=99))  # after the end: refused

    results, transactions = await transactions_for(
        store, asyncio.gather(*(store.save_job(step) for step in steps))
    )
    assert (results, transactions) == ([True, True, True, True, False], 1)
    assert await store.get_job(job.jobid) == steps[3]


async def test_an_sql_error_of_one_write_spares_the_rest_of_its_batch(
    store: SqliteStore,
) -> None:
    """The error aborts only that write's savepoint: its callback goes with it."""
    first, doomed, last = await started_jobs(store, 3)
    run_sql(
        store,
        f"CREATE TRIGGER refuse BEFORE UPDATE ON jobs WHEN NEW.jobid = '{doomed.jobid}' "
        "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END",
    )
    saves = (
        store.save_job(job, make_delivery(job, f"evt-{i}"))
        for i, job in enumerate([first, doomed, last])
    )

    results, transactions = await transactions_for(
        store, asyncio.gather(*saves, return_exceptions=True)
    )
    assert transactions == 1
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert "refused by a trigger" in str(results[1])
    assert await store.get_job(doomed.jobid) == make_job(jobid=doomed.jobid)
    assert {d.event_id for d in await store.pending_deliveries()} == {"evt-0", "evt-2"}


async def test_a_failed_transaction_fails_every_write_of_its_batch(store: SqliteStore) -> None:
    """RAISE(ROLLBACK) ends the whole transaction: every caller gets the error, nothing stays."""
    jobs = await started_jobs(store, 4)
    run_sql(
        store,
        f"CREATE TRIGGER doom BEFORE UPDATE ON jobs WHEN NEW.jobid = '{jobs[2].jobid}' "
        "BEGIN SELECT RAISE(ROLLBACK, 'the whole transaction goes'); END",
    )
    saves = (store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(jobs))

    results, transactions = await transactions_for(
        store, asyncio.gather(*saves, return_exceptions=True)
    )
    assert transactions == 1
    assert all(isinstance(result, sqlite3.IntegrityError) for result in results)
    assert len({id(result) for result in results}) == 1  # the one error, shared
    assert [await store.get_job(job.jobid) for job in jobs] == [
        make_job(jobid=job.jobid) for job in jobs
    ]
    assert await store.pending_deliveries() == []
    # the store goes on: the next batch is a fresh transaction
    assert await store.save_job(jobs[0])


async def test_a_caller_cancelled_before_its_batch_is_not_written(store: SqliteStore) -> None:
    kept, dropped = await started_jobs(store, 2)
    saving = asyncio.ensure_future(store.save_job(kept))
    cancelled = asyncio.ensure_future(store.save_job(dropped))
    await asyncio.sleep(0)  # one loop turn: both calls queue; their batch has not started
    cancelled.cancel()

    assert await saving is True
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert store.batch_stats.largest == 1
    assert await store.get_job(dropped.jobid) == make_job(jobid=dropped.jobid)


async def test_close_commits_the_writes_already_queued(tmp_path: Path) -> None:
    cipher = TokenCipher(Fernet.generate_key())
    store = SqliteStore(tmp_path / "db.sqlite3", cipher)
    await store.open()
    jobs = [make_job(jobid=f"job-{i}") for i in range(5)]
    inserts = [asyncio.ensure_future(store.insert_job(job)) for job in jobs]
    await asyncio.sleep(0)  # one loop turn: the inserts queue
    await store.close()

    assert await asyncio.gather(*inserts) == [None] * 5
    with pytest.raises(RuntimeError, match="not open"):
        await store.insert_job(make_job(jobid="late"))
    reopened = SqliteStore(tmp_path / "db.sqlite3", cipher)
    await reopened.open()
    try:
        assert [await reopened.get_job(job.jobid) for job in jobs] == jobs
    finally:
        await reopened.close()
