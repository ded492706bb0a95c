"""SQLite writes run together: job saves of one batch as one multi-row UPDATE and INSERT.

``plan_batch`` (which writes may leave call order and merge) is a pure function, tested first.
Then a ``GroupCommit`` of its own with a ``Together`` on a table ``t``, seen through the
statements its connection traces; then the store, where saves run together must leave exactly
what the same saves leave run one at a time, and each caller must still get its own answer.
(A callback whose event id exists, in a group, is the contract suite's
``test_a_callback_that_cannot_be_stored_undoes_only_its_own_change``: on SQLite its saves run
together.)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from mjapi.domain.jobs import Attachment, Job, JobStatus, Seed
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore
from mjapi.storage.sqlite.together import ROW_COUNTS, chunks
from mjapi.storage.sqlite.worker import DbCall, Keyed, plan_batch
from tests.factories import make_delivery, make_job
from tests.sqlite_traced import Traced, traced_commit

# -- plan_batch


@dataclass(frozen=True)
class Kind:
    """A stand-in ``Together`` (plan_batch only compares them)."""

    name: str

    def run(self, rows: list[Any], conn: sqlite3.Connection) -> list[Any] | None:
        raise AssertionError("plan_batch never runs a group")


def nothing(conn: sqlite3.Connection) -> None:
    return None


def keyed(key: str, kind: str | None = None) -> Keyed[None]:
    return Keyed(key, nothing, None if kind is None else Kind(kind))


def test_writes_of_one_kind_and_distinct_keys_form_one_group_where_the_first_was() -> None:
    calls: list[DbCall[Any]] = [
        keyed("a", "save"),
        keyed("b"),
        keyed("c", "save"),
        keyed("d", "other"),
        keyed("e", "save"),
    ]
    assert plan_batch(calls) == [[0, 2, 4], [1], [3]]


def test_a_second_write_of_one_key_goes_to_the_next_round() -> None:
    calls: list[DbCall[Any]] = [
        keyed("a", "save"),
        keyed("a", "save"),
        keyed("b", "save"),
        keyed("a"),
        keyed("b", "save"),
    ]
    assert plan_batch(calls) == [[0, 2], [1, 4], [3]]


def test_a_write_without_a_key_is_a_barrier() -> None:
    calls: list[DbCall[Any]] = [
        keyed("a", "save"),
        nothing,
        keyed("b", "save"),
        keyed("c", "save"),
        keyed("a", "save"),
    ]
    assert plan_batch(calls) == [[0], [1], [2, 3, 4]]


def test_plain_calls_keep_their_order() -> None:
    calls: list[DbCall[Any]] = [nothing, nothing, nothing]
    assert plan_batch(calls) == [[0], [1], [2]]


def test_a_group_takes_one_statement_of_the_smallest_size_that_holds_it() -> None:
    assert list(chunks(0)) == []
    assert list(chunks(1)) == [(0, 1, 1)]
    assert list(chunks(3)) == [(0, 3, 4)]
    assert list(chunks(500)) == [(0, 500, 512)]
    assert list(chunks(1100)) == [(0, 512, 512), (512, 512, 512), (1024, 76, 128)]
    for count in range(1, 1200):
        pieces = list(chunks(count))
        assert [start for start, _, _ in pieces] == [0, *(s + n for s, n, _ in pieces[:-1])]
        assert sum(rows for _, rows, _ in pieces) == count
        assert all(size in ROW_COUNTS and rows <= size for _, rows, size in pieces)
        assert all(size < 2 * rows for _, rows, size in pieces)


# -- a GroupCommit with a Together, seen in the statements of its connection


@dataclass(frozen=True)
class InsertAll:
    """Inserts every key of its group with one statement; refuses groups holding ``refuse``."""

    refuse: str = ""

    def run(self, rows: list[Any], conn: sqlite3.Connection) -> list[str] | None:
        conn.execute("INSERT INTO t SELECT value FROM json_each(?)", (json.dumps(rows),))
        return None if self.refuse in rows else list(rows)


def insert(key: str, conn: sqlite3.Connection) -> str:
    conn.execute("INSERT INTO t VALUES (?)", (key,))
    return key


async def write_all(traced: Traced, keys: Sequence[str], kind: InsertAll) -> list[object]:
    """Each key written by ``insert`` as a Keyed write of ``kind``, concurrently: one batch."""
    writes = (traced.commit.write(Keyed(k, partial(insert, k), kind, k)) for k in keys)
    return await asyncio.gather(*writes, return_exceptions=True)


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[Traced]:
    async with traced_commit(tmp_path / "traced.sqlite3") as commit:
        yield commit


GROUP_INSERT = """INSERT INTO t SELECT value FROM json_each('["a", "b", "c"]')"""


async def test_a_group_runs_as_one_statement_in_a_savepoint(traced: Traced) -> None:
    assert await write_all(traced, "abc", InsertAll()) == ["a", "b", "c"]
    assert traced.statements == [
        "BEGIN IMMEDIATE",
        *("SAVEPOINT together", GROUP_INSERT, "RELEASE together"),
        "COMMIT",
    ]
    assert traced.commit.stats.merged == 3
    assert await traced.keys() == ["a", "b", "c"]


async def test_a_group_that_cannot_answer_is_undone_and_its_writes_run_alone(
    traced: Traced,
) -> None:
    assert await write_all(traced, "abc", InsertAll(refuse="b")) == ["a", "b", "c"]
    assert traced.statements == [
        "BEGIN IMMEDIATE",
        *("SAVEPOINT together", GROUP_INSERT, "ROLLBACK TO together", "RELEASE together"),
        *(f"INSERT INTO t VALUES ('{k}')" for k in "abc"),
        "COMMIT",
    ]
    assert (traced.commit.stats.merged, traced.commit.stats.retried) == (0, 0)
    assert await traced.keys() == ["a", "b", "c"]


async def test_a_group_whose_statement_fails_gives_each_write_its_own_outcome(
    traced: Traced,
) -> None:
    await traced.worker.run(lambda c: c.execute("INSERT INTO t VALUES ('b')"))
    results = await write_all(traced, "abc", InsertAll())

    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert traced.commit.stats.retried == 1  # alone, "b" failed: the batch ran in savepoints
    assert await traced.keys() == ["a", "b", "c"]


async def test_a_group_of_a_batch_run_again_does_not_count_as_run_together(
    traced: Traced,
) -> None:
    """A later write fails: the batch is rolled back and rerun write by write, group included."""
    group = (traced.commit.write(Keyed(k, partial(insert, k), InsertAll(), k)) for k in "ab")
    again = traced.commit.write(partial(insert, "a"))  # a barrier, after the group: it fails
    results = await asyncio.gather(*group, again, return_exceptions=True)

    assert results[:2] == ["a", "b"] and isinstance(results[2], sqlite3.IntegrityError)
    assert (traced.commit.stats.retried, traced.commit.stats.merged) == (1, 0)
    assert await traced.keys() == ["a", "b"]


# -- the store: saves run together


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "together.sqlite3", TokenCipher(Fernet.generate_key()))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def started(store: SqliteStore, count: int) -> list[Job]:
    jobs = [make_job(jobid=f"job-{i:03d}") for i in range(count)]
    await asyncio.gather(*(store.insert_job(job) for job in jobs))
    return [job.evolve(status=JobStatus.STARTED) for job in jobs]


def progressed(job: Job, n: int) -> Job:
    """A change writing many columns and kinds of value: texts, integers, None, JSON texts."""
    return job.evolve(
        status=JobStatus.PROGRESS,
        progress=n,
        content=f'**a cat** ({n}%) — 猫 🐈 "quoted" back\\slash\nnew line',
        attachments=(
            Attachment(
                id=str(n), url=f"https://cdn.test/{n}.webp", filename=f"{n}.webp", width=512
            ),
        ),
        seed=Seed(content=f"seed {n}", value=2**62 + n),
        message_flags=n,
        server=None,
    )


def rows_of(path: Path, table: str, order: str) -> list[list[tuple[type, object]]]:
    """Every row of ``table`` with each value's Python type (1 and 1.0 must differ)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
    conn.close()
    return [[(type(value), value) for value in row] for row in rows]


async def save_all(store: SqliteStore, jobs: list[Job]) -> list[object]:
    """Each save's result or error; saved concurrently, so in one batch (after a first one)."""
    return await asyncio.gather(*(store.save_job(job) for job in jobs), return_exceptions=True)


async def test_saves_run_together_store_what_saves_run_alone_store(
    store: SqliteStore, tmp_path: Path
) -> None:
    alone = SqliteStore(tmp_path / "alone.sqlite3", TokenCipher(Fernet.generate_key()))
    await alone.open()
    try:
        for target, concurrently in ((store, True), (alone, False)):
            jobs = [progressed(job, i) for i, job in enumerate(await started(target, 40))]
            saves = [target.save_job(job, make_delivery(job, f"evt-{job.jobid}")) for job in jobs]
            if concurrently:
                assert await asyncio.gather(*saves) == [True] * 40
            else:
                assert [await save for save in saves] == [True] * 40
        assert store.batch_stats.merged >= 39  # all but perhaps a first one written at once
        assert alone.batch_stats.merged == 0
    finally:
        await alone.close()
    for table, order in (("jobs", "jobid"), ("deliveries", "event_id")):
        assert rows_of(store.path, table, order) == rows_of(alone.path, table, order)


async def test_a_refused_save_in_a_group_is_refused_alone_and_keeps_no_callback(
    store: SqliteStore,
) -> None:
    jobs = await started(store, 5)
    with sqlite3.connect(store.path) as other:  # another process completes jobs[2]
        other.execute("UPDATE jobs SET status = 'completed' WHERE jobid = ?", (jobs[2].jobid,))
    other.close()
    late = [progressed(job, 50) for job in jobs]  # one set of columns: one group

    saves = (store.save_job(job, make_delivery(job, f"evt-{i}")) for i, job in enumerate(late))
    assert await asyncio.gather(*saves) == [True, True, False, True, True]
    assert store.batch_stats.retried == 0  # a refusal is an answer, not a failure
    assert {d.event_id for d in await store.pending_deliveries()} == {
        "evt-0",
        "evt-1",
        "evt-3",
        "evt-4",
    }
    stored = await store.get_job(jobs[2].jobid)
    assert stored == jobs[2].evolve(status=JobStatus.COMPLETED)


async def test_saves_of_one_job_among_others_apply_in_call_order(store: SqliteStore) -> None:
    jobs = await started(store, 3)
    steps = [progressed(job, n) for n in (10, 60) for job in jobs]
    steps.append(jobs[1].evolve(status=JobStatus.COMPLETED, content="done", progress=100))

    assert await asyncio.gather(*(store.save_job(step) for step in steps)) == [True] * 7
    assert [await store.get_job(job.jobid) for job in jobs] == [
        steps[3],
        steps[6],
        steps[5],
    ]
    assert store.batch_stats.merged >= 4


@pytest.mark.parametrize("content", ["nul \x00 inside", "escaped \\u0000 lookalike"])
async def test_texts_are_stored_exactly_as_bound_alone(store: SqliteStore, content: str) -> None:
    jobs = await started(store, 3)
    changed = [progressed(job, 1).evolve(content=f"{content} {i}") for i, job in enumerate(jobs)]

    assert await save_all(store, changed) == [True] * 3
    assert store.batch_stats.merged == 3
    assert [await store.get_job(job.jobid) for job in jobs] == changed


async def test_a_text_that_cannot_be_bound_fails_its_own_save_only(store: SqliteStore) -> None:
    jobs = await started(store, 3)
    changed = [progressed(job, 1) for job in jobs]
    changed[1] = changed[1].evolve(content="lone \udc80 surrogate")

    results = await save_all(store, changed)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], UnicodeEncodeError)
    assert await store.get_job(changed[2].jobid) == changed[2]


async def test_an_integer_beyond_sqlite_fails_its_own_save_only(store: SqliteStore) -> None:
    jobs = await started(store, 3)
    changed = [progressed(job, 1) for job in jobs]
    changed[1] = changed[1].evolve(seed=Seed(content="huge", value=2**64))

    results = await asyncio.gather(
        *(store.save_job(job) for job in changed), return_exceptions=True
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], OverflowError)
    assert await store.get_job(changed[0].jobid) == changed[0]
