"""SQLite group commit: concurrent writes share transactions, each keeping its own outcome.

What only SQLite promises beyond the store contract (tests/contract): batching itself (seen in
``SqliteStore.batch_stats``), call order inside a batch, and what a failed batch means. Failures
are provoked with triggers created on the file around the store, so the SQL errors are real.
How a batch runs (optimistically, savepoints only when a write failed) is seen on a
``GroupCommit`` of its own, through the statements its connection traces.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.fernet import Fernet

from mjapi.domain.jobs import Child, Job, JobStatus
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.storage.sqlite.worker import MAX_BATCH
from tests.factories import make_delivery, make_job
from tests.sqlite_traced import Traced, traced_commit

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


def refuse_updates_of(store: SqliteStore, jobid: str) -> None:
    """Updates of ``jobid`` fail (RAISE(ABORT)): that statement is undone, not the transaction."""
    _trigger(store, "refuse", jobid, "ABORT, 'refused by a trigger'")


def doom_updates_of(store: SqliteStore, jobid: str) -> None:
    """Updates of ``jobid`` end the whole transaction (RAISE(ROLLBACK))."""
    _trigger(store, "doom", jobid, "ROLLBACK, 'the whole transaction goes'")


def _trigger(store: SqliteStore, name: str, jobid: str, raised: str) -> None:
    run_sql(
        store,
        f"CREATE TRIGGER {name} BEFORE UPDATE ON jobs WHEN NEW.jobid = '{jobid}' "
        f"BEGIN SELECT RAISE({raised}); END",
    )


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
    refuse_updates_of(store, doomed.jobid)
    saves = (
        store.save_job(job, make_delivery(job, f"evt-{i}"))
        for i, job in enumerate([first, doomed, last])
    )

    results, transactions = await transactions_for(
        store, asyncio.gather(*saves, return_exceptions=True)
    )
    assert transactions == 1
    assert store.batch_stats.retried == 1  # rolled back, then run write by write
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert "refused by a trigger" in str(results[1])
    assert await store.get_job(doomed.jobid) == make_job(jobid=doomed.jobid)
    assert {d.event_id for d in await store.pending_deliveries()} == {"evt-0", "evt-2"}


async def test_a_failed_transaction_fails_every_write_of_its_batch(store: SqliteStore) -> None:
    """RAISE(ROLLBACK) ends the whole transaction: every caller gets the error, nothing stays."""
    jobs = await started_jobs(store, 4)
    doom_updates_of(store, jobs[2].jobid)
    saves = (store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(jobs))

    results, transactions = await transactions_for(
        store, asyncio.gather(*saves, return_exceptions=True)
    )
    assert transactions == 1
    assert store.batch_stats.retried == 0  # nothing to run again: the transaction is gone
    assert all(isinstance(result, sqlite3.IntegrityError) for result in results)
    assert len({id(result) for result in results}) == 1  # the one error, shared
    assert [await store.get_job(job.jobid) for job in jobs] == [
        make_job(jobid=job.jobid) for job in jobs
    ]
    assert await store.pending_deliveries() == []
    # the store goes on: the next batch is a fresh transaction
    assert await store.save_job(jobs[0])


async def test_a_transaction_ended_in_the_second_run_fails_every_write(
    store: SqliteStore,
) -> None:
    """One write's error sends the batch to savepoints, where a later one ends it all."""
    jobs = await started_jobs(store, 4)
    refuse_updates_of(store, jobs[1].jobid)
    doom_updates_of(store, jobs[3].jobid)
    saves = (store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(jobs))

    results, transactions = await transactions_for(
        store, asyncio.gather(*saves, return_exceptions=True)
    )
    assert (transactions, store.batch_stats.retried) == (1, 1)
    assert len({id(result) for result in results}) == 1  # the one error, shared
    assert isinstance(results[0], sqlite3.IntegrityError)
    assert "the whole transaction goes" in str(results[0])
    assert [await store.get_job(job.jobid) for job in jobs] == [
        make_job(jobid=job.jobid) for job in jobs
    ]
    assert await store.pending_deliveries() == []


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


# -- how a batch runs, seen in the statements of a GroupCommit's own connection


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[Traced]:
    async with traced_commit(tmp_path / "traced.sqlite3", "taken") as commit:
        yield commit


def insert(key: str, conn: sqlite3.Connection) -> str:
    """Insert ``key`` into ``t``; an IntegrityError when it is there already."""
    return str(conn.execute("INSERT INTO t VALUES (?) RETURNING k", (key,)).fetchone()[0])


def inserted(key: str) -> str:
    """The statement ``insert(key)`` traces."""
    return f"INSERT INTO t VALUES ('{key}') RETURNING k"


async def test_a_batch_that_succeeds_runs_without_savepoints(traced: Traced) -> None:
    keys = [f"key-{i}" for i in range(5)]
    results = await asyncio.gather(*(traced.commit.write(partial(insert, k)) for k in keys))

    assert results == keys
    assert traced.statements == ["BEGIN IMMEDIATE", *map(inserted, keys), "COMMIT"]
    assert (traced.commit.stats.transactions, traced.commit.stats.retried) == (1, 0)
    assert await traced.keys() == [*keys, "taken"]


async def test_a_failed_write_sends_its_batch_to_savepoints(traced: Traced) -> None:
    """The first run stops at the failure and is rolled back; the second is write by write."""
    keys = ["a", "taken", "c"]
    results = await asyncio.gather(
        *(traced.commit.write(partial(insert, k)) for k in keys), return_exceptions=True
    )

    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert traced.statements == [
        "BEGIN IMMEDIATE",
        inserted("a"),
        inserted("taken"),
        "ROLLBACK",
        "BEGIN IMMEDIATE",
        *("SAVEPOINT batch_write", inserted("a"), "RELEASE batch_write"),
        "SAVEPOINT batch_write",
        inserted("taken"),
        *("ROLLBACK TO batch_write", "RELEASE batch_write"),
        *("SAVEPOINT batch_write", inserted("c"), "RELEASE batch_write"),
        "COMMIT",
    ]
    assert (traced.commit.stats.transactions, traced.commit.stats.retried) == (1, 1)
    assert await traced.keys() == ["a", "c", "taken"]


class Halt(BaseException):
    """Not an ``Exception``: like KeyboardInterrupt, it must not be caught as a failed write."""


def halt(conn: sqlite3.Connection) -> None:
    raise Halt


async def test_a_base_exception_is_not_retried_but_propagates(traced: Traced) -> None:
    writes = [
        asyncio.ensure_future(traced.commit.write(call)) for call in (partial(insert, "a"), halt)
    ]
    await asyncio.sleep(0)  # one loop turn: both writes queue and the flusher starts

    with pytest.raises(Halt):
        await traced.commit.drain()
    await asyncio.gather(*writes, return_exceptions=True)
    assert all(write.cancelled() for write in writes)
    assert traced.statements == ["BEGIN IMMEDIATE", inserted("a"), "ROLLBACK"]
    assert traced.commit.stats.retried == 0
    assert await traced.keys() == ["taken"]


async def test_a_writer_resumes_two_loop_turns_after_its_batch_left_the_thread(
    traced: Traced,
) -> None:
    """The loop callback that hears of the batch settles its writes at once: the writer runs in
    the next turn. (Awaiting the executor's future, the writers woke a turn later: the future
    was first copied to an asyncio future, which then woke the task that settled the writes.)
    """
    release = threading.Event()

    def held_insert(conn: sqlite3.Connection) -> str:
        release.wait(timeout=10)
        return insert("held", conn)

    turns = 0
    resumed_at: list[int] = []

    async def writer() -> None:
        await traced.commit.write(held_insert)
        resumed_at.append(turns)

    def tick() -> None:
        nonlocal turns
        turns += 1
        loop.call_soon(tick)

    loop = asyncio.get_running_loop()
    writing = asyncio.create_task(writer())
    await asyncio.sleep(0)  # the write queues
    await asyncio.sleep(0)  # its batch goes to the thread, where it waits for ``release``
    release.set()
    # Block the loop until the thread is through with the batch and has said so (the executor
    # runs one call at a time: a call queued after the batch runs once the batch has reported).
    assert traced.worker._executor is not None
    traced.worker._executor.submit(lambda: None).result(timeout=10)
    loop.call_soon(tick)  # after what the thread posted: turn 1 runs that, then counts 1
    await writing
    assert resumed_at == [1]


async def test_drain_waits_for_a_write_queued_as_the_store_went_idle(traced: Traced) -> None:
    later: list[asyncio.Future[str]] = []
    first = traced.commit.submit(partial(insert, "a"))
    # Runs after the batch went idle, before the draining task wakes up.
    first.add_done_callback(lambda _: later.append(traced.commit.submit(partial(insert, "b"))))

    await traced.commit.drain()
    assert [future.result() for future in later] == ["b"]


def stop_iteration(conn: sqlite3.Connection) -> None:
    raise StopIteration


async def test_a_write_raising_stop_iteration_fails_alone_and_later_writes_go_on(
    traced: Traced,
) -> None:
    """A future refuses StopIteration: settling it once stopped every later write."""
    writes = [traced.commit.write(stop_iteration), traced.commit.write(partial(insert, "a"))]
    results = await asyncio.wait_for(asyncio.gather(*writes, return_exceptions=True), 10)

    assert isinstance(results[0], RuntimeError) and results[1] == "a"
    assert await asyncio.wait_for(traced.commit.write(partial(insert, "b")), 10) == "b"
