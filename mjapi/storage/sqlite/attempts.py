"""Delivery attempts recorded together: a few statements for all the attempts of a batch.

Each callback sent is recorded (``Store.record_attempt``): its delivery's new status and the
attempt's row, and the deletion of the deliveries it superseded (never attempted, ``Outbox``).
Written one by one, that is two statements per callback in the database thread, and every sqlite3
step there gives the GIL up and must take it back from the busy event loop (``gc_tuning``'s
docstring): at thousands of callbacks per second those hand-offs were a large part of the time a
group-commit batch took. Here the attempts recorded while one write of them waits in the group-
commit queue join that write, which stores all of them with one multi-row UPDATE and one multi-row
INSERT (their rows passed as one JSON array each), plus one DELETE of every superseded delivery
when there are any -- one statement per batch, not per delivery: one statement per dropped callback
cost more than sending it had.

Each caller still gets its own outcome, as if its attempt had been recorded alone: when the two
statements did not change one row per attempt (an unknown delivery, an attempt number already
recorded, one delivery twice in the batch), they are undone and the attempts are recorded one
by one, each in its own savepoint, in the order they were recorded.

In a group-commit batch the attempts' write may run before or after job saves queued around it
(``worker.Keyed``, one key for all attempt writes): it changes only deliveries that existed when
their callbacks were sent, hence committed before, and a save only inserts new ones. That is
``record_attempt``'s precondition -- an attempt of a delivery whose ``save_job`` has returned --
and the outbox's order (it learns of a delivery from the save that stored it). An attempt of a
delivery still being saved may find no delivery (NotFound), as it might have before when it
joined an attempts write queued ahead of that save.

Thread safety: the loop thread adds attempts while the write waits in the queue; the database
thread closes the batch when the write runs. A lock makes "added" and "closed" exclusive, so an
attempt is either in the write that runs or starts a new one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from mjapi.errors import DuplicateKey, NotFound
from mjapi.storage.sqlite.worker import MAX_BATCH, GroupCommit, Keyed, run_in_savepoint


class AttemptRows(NamedTuple):
    """One attempt, as bound to the statements."""

    #: the delivery's new status as bound to set_delivery_status (event id, status, next attempt)
    status: Sequence[Any]
    #: the attempt's row as bound to insert_attempt (ATTEMPT_COLUMNS order)
    row: Sequence[Any]
    #: event ids of deliveries to delete if still pending and never attempted
    superseded: Sequence[str] = ()


#: What each attempt of a batch came to: None (recorded) or the error it met.
Outcomes = list[Exception | None]


@dataclass(frozen=True)
class AttemptStatements:
    """The SQL the batch runs: one attempt at a time, and all of them at once."""

    #: ?1 event id, ?2 status, ?3 next attempt
    set_status: str
    #: ?1..?6 in ATTEMPT_COLUMNS order
    insert_attempt: str
    #: ?1 a JSON array of [event id, status, next attempt]
    set_statuses: str
    #: ?1 a JSON array of attempt rows
    insert_attempts: str
    #: ?1 a JSON array of event ids; deletes those still pending and never attempted
    drop_superseded: str


#: The key of every attempts write (``worker.Keyed``): such writes keep their order.
_ATTEMPTS = "delivery attempts"


class _Batch:
    """Attempts waiting for one group-commit write, and their callers' futures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[AttemptRows] = []
        self.waiters: list[asyncio.Future[None]] = []
        self._closed = False

    def join(self, rows: AttemptRows, waiter: asyncio.Future[None]) -> bool:
        """Add an attempt (loop thread); False once the write has started or settled, or the
        batch is full (one write stays as short as group commit's own batches)."""
        with self._lock:
            if self._closed or len(self._rows) >= MAX_BATCH:
                return False
            self._rows.append(rows)
            self.waiters.append(waiter)
            return True

    def close(self) -> list[AttemptRows]:
        """The attempts to write; nothing joins any more.

        In the database thread when the write runs (twice when group commit runs its batch
        again), and in the loop thread when the write is settled: a write that failed before it
        ran (BEGIN timed out, the batch was cancelled) must not stay open for later attempts.
        """
        with self._lock:
            self._closed = True
            return self._rows


class AttemptRecorder:
    """``record`` queues an attempt into the open batch, or opens one (see the module)."""

    def __init__(self, writes: GroupCommit, statements: AttemptStatements) -> None:
        self._writes = writes
        self._statements = statements
        self._open: _Batch | None = None

    async def record(self, rows: AttemptRows) -> None:
        """Once the attempt is committed; its own error (NotFound, DuplicateKey) if it failed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch = self._open
        if batch is None or not batch.join(rows, waiter):
            batch = _Batch()
            batch.join(rows, waiter)
            write = Keyed(_ATTEMPTS, partial(_write, batch, self._statements))
            written = self._writes.submit(write)
            written.add_done_callback(partial(_settle, batch))
            self._open = batch  # only once queued: a store that is not open raised above
        await waiter


def _settle(batch: _Batch, written: asyncio.Future[Outcomes]) -> None:
    """Give each caller its attempt's outcome (loop thread, once the write is settled)."""
    batch.close()  # whatever became of the write, later attempts start a new one
    if written.cancelled():  # a batch stopped by a BaseException (GroupCommit): not written
        for waiter in batch.waiters:
            waiter.cancel()
        return
    error = written.exception()
    if error is not None:
        outcomes: Outcomes = [_as_exception(error)] * len(batch.waiters)
    else:
        outcomes = written.result()
    for waiter, outcome in zip(batch.waiters, outcomes, strict=True):
        if waiter.done():  # its caller gave up meanwhile; the attempt stands
            continue
        if outcome is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(outcome)


def _as_exception(error: BaseException) -> Exception:
    return error if isinstance(error, Exception) else RuntimeError(repr(error))


# -- in the database thread


def _write(batch: _Batch, sql: AttemptStatements, conn: sqlite3.Connection) -> Outcomes:
    """Every attempt of ``batch``: at once when they all fit, else one by one.

    A lone attempt runs as any other write: its error fails this write, which group commit
    undoes and gives to its one caller.
    """
    rows = batch.close()
    if len(rows) == 1:
        _one(rows[0], sql, conn)
        return [None]
    if _all_at_once(rows, sql, conn):
        return [None] * len(rows)
    return [run_in_savepoint(partial(_one, attempt, sql), conn)[1] for attempt in rows]


def _all_at_once(rows: list[AttemptRows], sql: AttemptStatements, conn: sqlite3.Connection) -> bool:
    """Both multi-row statements, kept only if each changed one row per attempt."""
    try:
        statuses = _json_rows([attempt.status for attempt in rows])
        attempts = _json_rows([attempt.row for attempt in rows])
    except (TypeError, ValueError):
        return False  # one by one: the attempt that cannot be bound gets its own error
    if statuses is None or attempts is None:
        return False  # a NUL in a text (_json_rows): such rows keep their texts bound
    count = len(rows)
    conn.execute("SAVEPOINT attempts")
    try:
        stored = (
            _changed(sql.set_statuses, statuses, conn) == count
            and _changed(sql.insert_attempts, attempts, conn) == count
        )
        superseded = [event_id for attempt in rows for event_id in attempt.superseded]
        if stored and superseded:
            _drop(superseded, sql, conn)
    except Exception:
        if not conn.in_transaction:
            raise  # SQLite ended the transaction: the whole group-commit batch fails
        stored = False  # one by one, each gets its own error
    if not stored:
        conn.execute("ROLLBACK TO attempts")
    conn.execute("RELEASE attempts")
    return stored


#: How JSON writes a NUL character (a literal backslash-u0000 in a text matches too: that row then
#: merely takes the slower path).
_NUL = "\\u0000"


def _json_rows(rows: Sequence[Sequence[Any]]) -> str | None:
    """``rows`` as one JSON array of arrays for json_each, or None when a text holds NUL.

    ``->>`` ends a text at NUL, so such rows keep their values bound as parameters. A value
    JSON cannot encode raises (TypeError, ValueError).
    """
    text = json.dumps(rows, ensure_ascii=False, allow_nan=False)
    return None if _NUL in text else text


def _changed(sql: str, array: str, conn: sqlite3.Connection) -> int:
    return conn.execute(sql, (array,)).rowcount


def _one(attempt: AttemptRows, sql: AttemptStatements, conn: sqlite3.Connection) -> None:
    """One attempt alone: its delivery's status, its row, the deliveries it superseded;
    raises what went wrong."""
    status, row, superseded = attempt
    if not conn.execute(sql.set_status, status).rowcount:
        raise NotFound(f"Unable to locate delivery {status[0]}")
    if not conn.execute(sql.insert_attempt, row).rowcount:
        raise DuplicateKey(f"attempt {row[1]} of delivery {row[0]} already exists")
    if superseded:
        _drop(superseded, sql, conn)


def _drop(superseded: Sequence[str], sql: AttemptStatements, conn: sqlite3.Connection) -> None:
    """Delete the superseded deliveries still pending and never attempted.

    Their ids are ours (``new_event_id``): no NUL to lose in JSON. What the statement does not
    delete stays pending and is sent, which is always correct, merely not shortened.
    """
    conn.execute(sql.drop_superseded, (json.dumps(list(superseded)),))
