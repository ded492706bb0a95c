"""SQLite: delivery attempts recorded together, each caller keeping its own outcome.

The store contract (tests/contract) holds the outcomes; here is how the SQLite store gets them,
seen through the statements a connection of our own traces: attempts recorded while their write
waits share it, two multi-row statements store them all, and only when those do not fit each
attempt is recorded alone in its savepoint.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mjapi.errors import DuplicateKey, NotFound
from mjapi.storage.sqlite.attempts import AttemptRecorder, AttemptRows, AttemptStatements
from mjapi.storage.sqlite.store import QUERIES
from mjapi.storage.sqlite.worker import MAX_BATCH, GroupCommit, SqliteWorker

STATEMENTS = AttemptStatements(
    set_status=QUERIES["set_delivery_status"],
    insert_attempt=QUERIES["insert_attempt"],
    set_statuses=QUERIES["set_delivery_statuses"],
    insert_attempts=QUERIES["insert_attempts"],
    drop_superseded=QUERIES["drop_superseded"],
)
AT = "2026-11-25T08:00:00.000000+00:00"
LATER = "2026-11-25T09:00:00.000000+00:00"


@dataclass
class Rig:
    worker: SqliteWorker
    recorder: AttemptRecorder
    commit: GroupCommit
    statements: list[str] = field(default_factory=list)

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        found = await self.worker.run(lambda conn: conn.execute(sql).fetchall())
        return [tuple(row) for row in found]

    def kinds(self) -> list[str]:
        """The traced statements (traced with their values bound), the store's by query name."""
        return [_kind(statement) for statement in self.statements]


def _kind(statement: str) -> str:
    multi_row = "json_each" in statement
    if statement.startswith("UPDATE deliveries"):
        return "set_delivery_statuses" if multi_row else "set_delivery_status"
    if statement.startswith("INSERT INTO delivery_attempts"):
        return "insert_attempts" if multi_row else "insert_attempt"
    if statement.startswith("DELETE FROM deliveries"):
        return "drop_superseded"
    return statement


@pytest.fixture
async def rig(tmp_path: Any) -> AsyncIterator[Rig]:
    statements: list[str] = []

    def setup(conn: sqlite3.Connection) -> None:
        # The two tables as the migration makes them, minus what these tests do not touch.
        conn.execute(
            "CREATE TABLE deliveries (event_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
            " next_attempt TEXT NOT NULL) STRICT"
        )
        conn.execute(
            "CREATE TABLE delivery_attempts (event_id TEXT NOT NULL, number INTEGER NOT NULL,"
            " at TEXT NOT NULL, duration_ms INTEGER NOT NULL, status_code INTEGER, error TEXT,"
            " PRIMARY KEY (event_id, number)) STRICT"
        )
        for n in range(20):
            conn.execute("INSERT INTO deliveries VALUES (?, 'pending', ?)", (f"evt-{n}", AT))
        conn.execute("INSERT INTO delivery_attempts VALUES ('evt-0', 1, ?, 5, 500, 'x')", (AT,))
        conn.set_trace_callback(statements.append)

    worker = SqliteWorker(tmp_path / "attempts.sqlite3")
    await worker.open(setup)
    commit = GroupCommit(worker)
    try:
        yield Rig(worker, AttemptRecorder(commit, STATEMENTS), commit, statements)
    finally:
        await worker.close()


def delivered(event_id: str, number: int = 1, superseded: tuple[str, ...] = ()) -> AttemptRows:
    status = (event_id, "delivered", LATER)
    return AttemptRows(status, (event_id, number, AT, 12, 200, None), superseded)


def failed(event_id: str, error: str | None = "busy") -> AttemptRows:
    return AttemptRows((event_id, "pending", LATER), (event_id, 1, AT, 30, 503, error))


async def record_all(rig: Rig, *attempts: AttemptRows) -> list[BaseException | None]:
    return await asyncio.gather(
        *(rig.recorder.record(attempt) for attempt in attempts), return_exceptions=True
    )


async def test_attempts_recorded_together_take_one_write_and_two_statements(rig: Rig) -> None:
    outcomes = await record_all(rig, *(delivered(f"evt-{n}") for n in range(1, 11)))

    assert outcomes == [None] * 10
    assert rig.kinds() == [
        "BEGIN IMMEDIATE",
        "SAVEPOINT attempts",
        "set_delivery_statuses",
        "insert_attempts",
        "RELEASE attempts",
        "COMMIT",
    ]
    assert (rig.commit.stats.transactions, rig.commit.stats.writes) == (1, 1)
    statuses = {
        row[0]: row[1:]
        for row in await rig.rows("SELECT event_id, status, next_attempt FROM deliveries")
    }
    assert [statuses[f"evt-{n}"] for n in range(20)] == [
        ("pending", AT),
        *[("delivered", LATER)] * 10,
        *[("pending", AT)] * 9,
    ]
    attempts = await rig.rows(
        "SELECT event_id, number, at, duration_ms, status_code, error FROM delivery_attempts"
        " WHERE event_id != 'evt-0' ORDER BY event_id"
    )
    assert sorted(attempts) == sorted(tuple(delivered(f"evt-{n}")[1]) for n in range(1, 11))


async def test_a_lone_attempt_is_written_as_before(rig: Rig) -> None:
    await rig.recorder.record(delivered("evt-3"))

    assert rig.kinds() == ["BEGIN IMMEDIATE", "set_delivery_status", "insert_attempt", "COMMIT"]
    assert await rig.rows("SELECT status FROM deliveries WHERE event_id = 'evt-3'") == [
        ("delivered",)
    ]


async def test_a_lone_attempt_of_an_unknown_delivery_fails_alone(rig: Rig) -> None:
    with pytest.raises(NotFound):
        await rig.recorder.record(delivered("evt-ghost"))
    assert await rig.rows("SELECT count(*) FROM delivery_attempts") == [(1,)]


async def test_attempts_that_do_not_fit_together_get_their_own_outcomes(rig: Rig) -> None:
    outcomes = await record_all(
        rig,
        delivered("evt-1"),
        delivered("evt-ghost"),  # unknown delivery
        delivered("evt-0"),  # attempt 1 of evt-0 is recorded already
        delivered("evt-2"),
    )

    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], NotFound) and isinstance(outcomes[2], DuplicateKey)
    kinds = rig.kinds()
    assert kinds[:5] == [
        "BEGIN IMMEDIATE",
        "SAVEPOINT attempts",
        "set_delivery_statuses",
        "ROLLBACK TO attempts",  # 3 of 4 deliveries changed: undone, then one by one
        "RELEASE attempts",
    ]
    assert kinds.count("insert_attempt") == 2 + 1  # evt-1, evt-0 (refused), evt-2
    statuses = dict(await rig.rows("SELECT event_id, status FROM deliveries"))
    assert (statuses["evt-0"], statuses["evt-1"], statuses["evt-2"]) == (
        "pending",  # its refused attempt moved nothing
        "delivered",
        "delivered",
    )


async def test_two_attempts_of_one_delivery_in_a_batch_apply_in_order(rig: Rig) -> None:
    outcomes = await record_all(rig, failed("evt-5"), delivered("evt-5", number=2))

    assert outcomes == [None, None]
    assert await rig.rows("SELECT status FROM deliveries WHERE event_id = 'evt-5'") == [
        ("delivered",)
    ]
    numbers = await rig.rows(
        "SELECT number FROM delivery_attempts WHERE event_id = 'evt-5' ORDER BY number"
    )
    assert numbers == [(1,), (2,)]


async def test_a_caller_that_gives_up_leaves_the_others_and_its_attempt_stands(rig: Rig) -> None:
    first = asyncio.ensure_future(rig.recorder.record(delivered("evt-1")))
    second = asyncio.ensure_future(rig.recorder.record(delivered("evt-2")))
    await asyncio.sleep(0)  # both joined the batch
    first.cancel()

    await second
    assert first.cancelled()
    assert await rig.rows("SELECT count(*) FROM delivery_attempts") == [(3,)]


async def test_an_attempt_made_while_the_write_runs_goes_into_the_next(rig: Rig) -> None:
    # The database thread is held inside the first write, after it took its attempts.
    entered, release = threading.Event(), threading.Event()

    def hold_in_the_write(statement: str) -> None:
        rig.statements.append(statement)
        if _kind(statement) == "set_delivery_status" and not release.is_set():
            entered.set()
            release.wait(5)

    await rig.worker.run(lambda conn: conn.set_trace_callback(hold_in_the_write))
    first = asyncio.ensure_future(rig.recorder.record(delivered("evt-1")))
    assert await asyncio.to_thread(entered.wait, 5)
    second = asyncio.ensure_future(rig.recorder.record(delivered("evt-2")))
    await asyncio.sleep(0)  # it has joined, or opened a write of its own
    release.set()

    await asyncio.gather(first, second)
    assert rig.commit.stats.writes == 2
    assert rig.kinds().count("insert_attempt") == 2
    assert await rig.rows("SELECT count(*) FROM delivery_attempts") == [(3,)]


async def test_a_write_that_failed_before_it_ran_takes_no_later_attempts(rig: Rig) -> None:
    # Another process holds the write lock: BEGIN IMMEDIATE gives up, the write never ran.
    await rig.worker.run(lambda conn: conn.execute("PRAGMA busy_timeout = 50"))
    holder = sqlite3.connect(rig.worker.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await rig.recorder.record(delivered("evt-1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    await asyncio.wait_for(rig.recorder.record(delivered("evt-2")), 5)
    assert await rig.rows("SELECT event_id FROM delivery_attempts ORDER BY event_id") == [
        ("evt-0",),
        ("evt-2",),
    ]


async def test_a_write_carries_at_most_a_batch_of_attempts(rig: Rig) -> None:
    attempts = [delivered(f"evt-{n % 19 + 1}", number=n // 19 + 1) for n in range(MAX_BATCH + 1)]

    outcomes = await record_all(rig, *attempts)

    assert outcomes == [None] * (MAX_BATCH + 1)
    assert rig.commit.stats.writes == 2  # MAX_BATCH attempts, then the one left over
    assert await rig.rows("SELECT count(*) FROM delivery_attempts") == [(MAX_BATCH + 2,)]


@pytest.mark.parametrize("error", ["nul\x00inside", "back\\u0000slash"])
async def test_texts_json_would_change_are_stored_as_given(rig: Rig, error: str) -> None:
    assert await record_all(rig, failed("evt-1", error), delivered("evt-2")) == [None, None]
    assert "insert_attempts" not in rig.kinds()  # one by one: bound as parameters
    stored = await rig.rows("SELECT error FROM delivery_attempts WHERE event_id = 'evt-1'")
    assert stored == [(error,)]


async def test_a_text_that_cannot_be_stored_fails_its_own_attempt_only(rig: Rig) -> None:
    outcomes = await record_all(rig, failed("evt-1", "lone \ud800"), delivered("evt-2"))

    assert isinstance(outcomes[0], UnicodeEncodeError) and outcomes[1] is None
    assert await rig.rows("SELECT event_id FROM delivery_attempts ORDER BY event_id") == [
        ("evt-0",),
        ("evt-2",),
    ]


# -- superseded deliveries


async def pending_ids(rig: Rig) -> list[str]:
    found = await rig.rows("SELECT event_id FROM deliveries WHERE status = 'pending'")
    return sorted(event_id for (event_id,) in found)


async def test_superseded_deliveries_of_a_batch_go_in_one_statement(rig: Rig) -> None:
    attempts = [delivered(f"evt-{n}", superseded=(f"evt-{n + 5}",)) for n in range(1, 5)]

    assert await record_all(rig, *attempts) == [None] * 4

    assert rig.kinds() == [
        "BEGIN IMMEDIATE",
        "SAVEPOINT attempts",
        "set_delivery_statuses",
        "insert_attempts",
        "drop_superseded",
        "RELEASE attempts",
        "COMMIT",
    ]
    gone = {f"evt-{n}" for n in range(1, 10) if n != 5}  # delivered, or superseded
    assert await pending_ids(rig) == sorted({f"evt-{n}" for n in range(20)} - gone)


async def test_a_lone_attempt_deletes_what_it_superseded(rig: Rig) -> None:
    # evt-0 was attempted: a receiver may have seen it, it stays.
    await rig.recorder.record(delivered("evt-3", superseded=("evt-1", "evt-2", "evt-0")))

    assert rig.kinds() == [
        "BEGIN IMMEDIATE",
        "set_delivery_status",
        "insert_attempt",
        "drop_superseded",
        "COMMIT",
    ]
    asked = "('evt-0', 'evt-1', 'evt-2')"
    remaining = await rig.rows(f"SELECT event_id FROM deliveries WHERE event_id IN {asked}")
    assert remaining == [("evt-0",)]


async def test_an_attempt_that_fails_deletes_nothing_the_others_delete_theirs(rig: Rig) -> None:
    outcomes = await record_all(
        rig,
        delivered("evt-1", superseded=("evt-11",)),
        delivered("evt-0", superseded=("evt-12",)),  # attempt 1 of evt-0 is recorded already
        delivered("evt-2", superseded=("evt-13",)),
    )

    assert outcomes[0] is None and isinstance(outcomes[1], DuplicateKey) and outcomes[2] is None
    assert rig.kinds().count("drop_superseded") == 2  # evt-0's attempt failed before its own
    gone = {"evt-1", "evt-2", "evt-11", "evt-13"}
    assert await pending_ids(rig) == sorted({f"evt-{n}" for n in range(20)} - gone)
