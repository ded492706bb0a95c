"""One ``sqlite3`` connection owned by one thread, and group commit of writes on it.

Why not aiosqlite: it runs each *statement* in its thread, one event-loop round trip apiece, and
offers no public way to run a function of ours there. A transaction of four statements then
costs four hops, each waiting for a busy loop. ``SqliteWorker`` instead takes a plain function
of the connection (a query, a whole transaction, a batch of writes), runs it in the thread in
one hop, and hands its result (or exception) back to the loop.

The connection is created in the worker thread, so sqlite3's same-thread check holds without
``check_same_thread=False``. The executor has one thread: functions run one at a time, in the
order they were submitted, so one never sees another's half-done transaction and no lock is
needed on the asyncio side.

``GroupCommit`` turns many concurrent small writes into few transactions: writes that arrive
while a batch is being written wait and go together into the next one. A batch runs
optimistically, with no statement of its own between its writes: a savepoint per write would
cost two more ``execute`` calls each (two GIL hand-offs that delay the event loop), paid on
every write to serve the rare one that fails. When one does fail, the batch is rolled back and
run again in the same hop, each write in its own savepoint (see ``GroupCommit``'s docstring).

Even one ``execute`` per write is too many under load: every sqlite3 step gives the GIL up and
must take it back from the busy event loop, which can take a whole switch interval each time.
A write may therefore say which row it changes (``Keyed``) and how it runs together with others
of its kind (``Together``): the batch then runs such writes as one multi-row statement, a few
hand-offs for hundreds of writes (``plan_batch`` says which, ``GroupCommit`` what that keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: A function run in the worker thread: everything it does to the database goes through its
#: one argument, the connection.
DbCall = Callable[[sqlite3.Connection], T]

#: Prepared statements sqlite3 keeps per connection (its default is 128): the store's named
#: queries, plus one partial ``save_job`` UPDATE per set of columns written, must all fit, or
#: the hot ones would be parsed again and again.
STATEMENT_CACHE = 512

#: Writes per group-commit transaction at most, so that one transaction (which holds the
#: thread, hence every read queued behind it) stays a few milliseconds long.
MAX_BATCH = 500


class SqliteWorker:
    """A SQLite connection living in its own thread (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def open(self, setup: DbCall[None]) -> None:
        """Connect in the worker thread, then run ``setup`` (pragmas) there.

        The connection is in autocommit mode (``isolation_level=None``): callers issue BEGIN
        themselves. Rows are ``sqlite3.Row``. If ``setup`` fails, nothing stays open.
        """
        if self._executor is not None:
            raise RuntimeError(f"{self.path} is already open")
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mjapi-sqlite")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, _connect, self.path, setup)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        self._executor, self._conn = executor, conn

    async def run(self, call: DbCall[T]) -> T:
        """``call(connection)`` run in the worker thread, after every call submitted before it.

        A caller cancelled meanwhile stops waiting, but a call already submitted still runs to
        its end (a thread cannot be interrupted): give it whole transactions, never half ones.
        """
        executor, conn = self._executor, self._conn
        if executor is None or conn is None:
            raise RuntimeError(f"{self.path} is not open: call open() first")
        return await asyncio.get_running_loop().run_in_executor(executor, call, conn)

    def start(
        self, call: DbCall[T], done: Callable[[T | None, BaseException | None], None]
    ) -> None:
        """Queue ``call`` like ``run``; the loop then calls ``done(result, None)`` or
        ``done(None, error)`` as soon as the thread is through with it.

        One loop turn from the thread's end to ``done``, where ``run``'s awaiting caller resumes
        two turns later (the executor's future is copied to an asyncio future, whose callbacks
        are scheduled in turn): ``GroupCommit`` uses it so that the next batch can start, and the
        writers wake up, sooner.
        """
        executor, conn = self._executor, self._conn
        if executor is None or conn is None:
            raise RuntimeError(f"{self.path} is not open: call open() first")
        loop = asyncio.get_running_loop()
        executor.submit(_run_and_report, call, conn, loop, done)

    async def close(self) -> None:
        """Close the connection after the calls already submitted, then stop the thread."""
        executor, conn = self._executor, self._conn
        if executor is None or conn is None:
            return
        self._executor = self._conn = None  # later run() calls fail at once
        try:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        finally:
            # Its queue is empty by now: joining the idle thread takes no time.
            executor.shutdown(wait=True)


def _run_and_report(
    call: DbCall[T],
    conn: sqlite3.Connection,
    loop: asyncio.AbstractEventLoop,
    done: Callable[[T | None, BaseException | None], None],
) -> None:
    """In the thread: ``call``, then its outcome to ``done`` in the loop (``start``)."""
    try:
        result, error = call(conn), None
    except BaseException as exc:  # handed to the loop, whatever it is
        result, error = None, exc
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
        loop.call_soon_threadsafe(done, result, error)


def _connect(path: Path, setup: DbCall[None]) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=STATEMENT_CACHE)
    try:
        conn.row_factory = sqlite3.Row
        setup(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def transaction(body: DbCall[T], begin: str = "BEGIN IMMEDIATE") -> DbCall[T]:
    """``body`` wrapped in ``begin`` ... COMMIT (ROLLBACK if it raises), to run in the thread.

    BEGIN IMMEDIATE (the default) takes SQLite's write lock at once, so a transaction that
    reads then writes never fails half-way on a busy file; a plain BEGIN is a read snapshot.
    """
    return partial(_in_transaction, body, begin)


def _in_transaction(body: DbCall[T], begin: str, conn: sqlite3.Connection) -> T:
    conn.execute(begin)
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (RAISE(ROLLBACK), I/O)
            conn.execute("ROLLBACK")
        raise
    return result


@dataclass
class BatchStats:
    """Group-commit counters since the store was created: a gauge for benchmarks.

    ``writes / transactions`` is the mean batch size; 1.0 means no batching happened.
    """

    #: batch transactions run (committed or failed; a batch run twice counts once)
    transactions: int = 0
    #: batches of them run a second time, write by write, because a write failed (counted in
    #: the database thread, this field's only writer, as the second run starts)
    retried: int = 0
    #: writes they carried
    writes: int = 0
    #: the most writes one transaction carried
    largest: int = 0
    #: writes that ran together with others in one multi-row statement (``Together``)
    merged: int = 0


class Together(Protocol[T_co]):
    """How writes of one kind run as one statement: equal objects mean "of one kind".

    ``run`` gets the ``Keyed.row`` of each write, in call order, never two of one key, and
    returns each write's value in that order -- or None when it cannot run them together (a
    row the statement refused, a value it cannot carry). The batch then undoes whatever ``run``
    did and runs each write alone, so ``run`` only needs to be right when it answers.
    """

    def run(self, rows: list[Any], conn: sqlite3.Connection) -> Sequence[T_co] | None: ...


@dataclass(frozen=True, eq=False)
class Keyed(Generic[T]):
    """A write naming what it changes, so that a batch may run it out of call order.

    Writes of different keys must commute (the store's keys are job ids); a batch keeps the
    call order of writes of one key. Calling it runs it alone. With ``together`` set, the batch
    may run it with other writes of the same ``together`` as one statement, given ``row``.

    The key is the writer's promise: a write whose outcome could depend on a write of another
    key queued in the same batch must not be ``Keyed`` that way (an unkeyed call keeps its
    place exactly).
    """

    key: Hashable
    alone: DbCall[T]
    together: Together[T] | None = None
    row: Any = None

    def __call__(self, conn: sqlite3.Connection) -> T:
        return self.alone(conn)


def plan_batch(calls: list[DbCall[Any]]) -> list[list[int]]:
    """The order a batch runs ``calls`` in: steps of indices into ``calls``.

    A step of several indices is a group of writes to run together (one ``Together``); a step
    of one index runs that call alone. A call that is no ``Keyed`` is a barrier: everything
    before it runs before it, everything after it, after. Between barriers, writes go in
    rounds: a write's round is one more than that of the last earlier write of its key, so a
    round holds at most one write per key, the rounds run in order, and within a round the
    writes of one ``Together`` form one group placed where its first write was.
    """
    steps: list[list[int]] = []
    rounds: list[dict[object, list[int]]] = []
    last_round: dict[Hashable, int] = {}
    for index, call in enumerate(calls):
        if not isinstance(call, Keyed):
            steps += _steps_of(rounds)
            rounds, last_round = [], {}
            steps.append([index])
            continue
        round_number = last_round.get(call.key, -1) + 1
        last_round[call.key] = round_number
        if round_number == len(rounds):
            rounds.append({})
        group: object = ("alone", index) if call.together is None else call.together
        rounds[round_number].setdefault(group, []).append(index)
    return steps + _steps_of(rounds)


def _steps_of(rounds: list[dict[object, list[int]]]) -> list[list[int]]:
    return [indices for groups in rounds for indices in groups.values()]


@dataclass
class _Write(Generic[T]):
    """One queued write and the future its caller awaits."""

    call: DbCall[T]
    future: asyncio.Future[T]


#: What one write of a batch came to, in the thread: (its value, None) or (None, its error).
Outcome = tuple[Any, Exception | None]


class GroupCommit:
    """Writes queued by concurrent callers, committed in batches: one transaction, one hop.

    ``write(call)`` queues ``call``; up to ``max_batch`` queued writes at a time (in call
    order) run in the worker thread as one transaction. While a batch is being written, new
    writes queue for the next one, so the busier the store, the bigger the batches; an idle
    store writes a lone call at once (one loop turn later, with the writes of that turn).

    It belongs to the event loop it is used on: a batch still in the thread when that loop
    closes is never settled (nobody is left to await it).

    No task drives the batches: the loop callback that settles one batch's writes also starts
    the next (``SqliteWorker.start``). With a task awaiting each batch, the thread stayed idle
    for two turns of the busy loop between batches (the executor's future copied to an asyncio
    future, then the task's step) and the writers woke a turn later still; at 3,000 jobs a
    turn took ~12 ms, and those turns were a third of a save's time (bench/README.md).

    A batch runs optimistically: BEGIN IMMEDIATE, every call, COMMIT -- two statements per
    batch. Should a call raise (an ``Exception``, with the transaction still open), the run
    stops there, the whole transaction is rolled back and the batch runs again from the same
    state, in the same hop (no second trip through the event loop), the careful way:
    BEGIN IMMEDIATE, each call inside its own SAVEPOINT, COMMIT. That costs two statements per
    write, and a failed batch runs twice, but failures are rare (a constraint violation, a
    refused duplicate): the common batch pays nothing for them. ``stats.retried`` counts them.

    In the optimistic run, ``Keyed`` writes may leave call order (``plan_batch``): writes of
    different keys commute, and a group of writes of one ``Together`` runs as one statement in
    its own savepoint. When the group's ``run`` cannot answer for every write, the savepoint is
    undone and its writes run alone, right there. The careful run keeps call order and runs
    every write alone. ``stats.merged`` counts the writes that ran together.

    Calls must therefore be safe to run twice: pure functions of the connection and their
    parameters, with no effect outside the database. The first run is rolled back entirely,
    so its database effects vanish, and only the second run's results reach the callers. The
    store's writes (``_inserted``, ``_save_job``, ``_fetch``, ``attempts._write``) qualify:
    they run SQL and raise (``attempts._write`` closes its batch and gets the same attempts
    again), and what they do in the event loop (encoding parameters, remembering written jobs)
    happens once, before the call is queued or after it settles.

    Each caller gets its own call's result or exception, as if it had run alone:

    - a call that raises is rolled back to its savepoint in the second run (nothing of it
      stays) and the others of the batch, before and after it, still commit;
    - unless SQLite ended the whole transaction, in either run (``RAISE(ROLLBACK)``, an I/O
      error, a full disk), or BEGIN, COMMIT or ROLLBACK fails (busy timeout, I/O): then every
      caller of the batch gets that exception and nothing of the batch is stored;
    - a ``BaseException`` that is no ``Exception`` (``KeyboardInterrupt``) raised by a call is
      not retried: the batch is rolled back, its callers are cancelled, and it propagates;
    - calls run in the order ``write`` was called, or in an order that comes to the same
      (``Keyed``), so two writes of one row behave as if sequential; a caller cancelled
      before its batch started is left out of it.
    """

    def __init__(self, worker: SqliteWorker, max_batch: int = MAX_BATCH) -> None:
        self._worker = worker
        self._max_batch = max_batch
        self._queue: deque[_Write[Any]] = deque()
        #: the batch in the thread (or about to be taken), None while nothing is queued
        self._running: list[_Write[Any]] | None = None
        #: set while no batch runs and nothing is queued (what ``drain`` waits for)
        self._idle = asyncio.Event()
        self._idle.set()
        #: a ``BaseException`` a batch raised, for ``drain`` to raise once
        self._failure: BaseException | None = None
        self.stats = BatchStats()

    async def write(self, call: DbCall[T]) -> T:
        """``call``'s result once the transaction carrying it committed (see the class)."""
        return await self.submit(call)

    def submit(self, call: DbCall[T]) -> asyncio.Future[T]:
        """Queue ``call`` now; the future of its result (what ``write`` awaits).

        For a write shared by several callers: cancelling the returned future takes the call
        out of its batch if the batch has not started, so give each caller a future of its own.
        """
        if not self._worker.is_open:
            raise RuntimeError(f"{self._worker.path} is not open: call open() first")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append(_Write(call, future))
        if self._running is None:
            # The batch is taken one loop turn later, so that the writes of this turn join it.
            self._running = []
            self._idle.clear()
            loop.call_soon(self._next_batch)
        return future

    async def drain(self) -> None:
        """Return once every write queued so far (and any queued meanwhile) is settled.

        Raises the ``BaseException`` a batch raised, once (``GroupCommit``'s docstring).
        """
        while not self._idle.is_set():  # a write queued before this task woke: wait for it too
            await self._idle.wait()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _next_batch(self) -> None:
        """Start the next batch in the thread, or become idle when nothing is queued.

        Runs in the loop: one turn after the first write of an idle store was queued, else
        right when the previous batch is settled (no turn of the loop in between).
        """
        batch = self._take()
        if not batch:
            self._running = None
            self._idle.set()
            return
        self._running = batch
        self.stats.transactions += 1
        self.stats.writes += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        calls = [queued.call for queued in batch]
        try:
            self._worker.start(partial(_write_batch, calls, self.stats), self._batch_done)
        except RuntimeError as error:  # the worker was closed meanwhile
            self._batch_done(None, error)

    def _take(self) -> list[_Write[Any]]:
        """The next batch, oldest first; writes whose caller gave up are dropped."""
        batch: list[_Write[Any]] = []
        while self._queue and len(batch) < self._max_batch:
            queued = self._queue.popleft()
            if not queued.future.done():
                batch.append(queued)
        return batch

    def _batch_done(self, outcomes: list[Outcome] | None, error: BaseException | None) -> None:
        """Settle the batch's writes (loop thread), then start the next one -- whatever happens
        while settling: a batch left running would hold every later write."""
        batch, self._running = self._running or [], []
        try:
            if error is not None and not isinstance(error, Exception):
                self._fail_all(batch, error)
            elif error is not None:
                for queued in batch:
                    _settle(queued.future, (None, error))
            else:
                assert outcomes is not None
                for queued, outcome in zip(batch, outcomes, strict=True):
                    _settle(queued.future, outcome)
        finally:
            self._next_batch()

    def _fail_all(self, batch: list[_Write[Any]], error: BaseException) -> None:
        """A batch raised a ``BaseException`` (like KeyboardInterrupt): nothing queued is
        written; ``drain`` raises it (the first one, if several came before a drain)."""
        for queued in [*batch, *self._queue]:
            queued.future.cancel()
        self._queue.clear()
        log.error("a write batch stopped: %r; its writes and the queued ones are cancelled", error)
        if self._failure is None:
            self._failure = error


class _WriteFailed(Exception):
    """A call of an optimistic batch raised: roll the batch back and run it write by write."""


def _write_batch(
    calls: list[DbCall[Any]], stats: BatchStats, conn: sqlite3.Connection
) -> list[Outcome]:
    """The batch's outcomes, in the thread: optimistically, else write by write (GroupCommit).

    Any other exception (SQLite ended the transaction, BEGIN, COMMIT or ROLLBACK failed, a
    ``BaseException``) leaves the batch rolled back and is the whole batch's.
    """
    try:
        outcomes, merged = transaction(partial(_run_optimistically, calls))(conn)
    except _WriteFailed:
        stats.retried += 1
        return transaction(partial(_run_in_savepoints, calls))(conn)
    stats.merged += merged  # only once committed: a batch run again merges nothing
    return outcomes


def _run_optimistically(
    calls: list[DbCall[Any]], conn: sqlite3.Connection
) -> tuple[list[Outcome], int]:
    """Every call in ``plan_batch``'s order, nothing between them; one that raises stops it.

    Also how many of them ran together.
    """
    outcomes: list[Outcome] = [(None, None)] * len(calls)
    merged = 0
    for step in plan_batch(calls):
        values = _run_together([calls[index] for index in step], conn)
        if values is None:
            values = [_run_alone(calls[index], conn) for index in step]
        else:
            merged += len(step)
        for index, value in zip(step, values, strict=True):
            outcomes[index] = (value, None)
    return outcomes, merged


def _run_together(writes: list[DbCall[Any]], conn: sqlite3.Connection) -> Sequence[Any] | None:
    """A group's values from its one ``Together`` run, or None (nothing of it left done).

    Its own savepoint: the group's statement may have changed rows before it found that it
    cannot answer for every write.
    """
    keyed = [write for write in writes if isinstance(write, Keyed)]
    together = keyed[0].together if len(keyed) == len(writes) > 1 else None
    if together is None:
        return None  # a step of one write: it runs alone
    conn.execute("SAVEPOINT together")
    try:
        values = together.run([write.row for write in keyed], conn)
    except Exception:
        if not conn.in_transaction:
            raise  # SQLite rolled the whole transaction back: the batch fails as one
        values = None
    if values is None:
        conn.execute("ROLLBACK TO together")
    conn.execute("RELEASE together")
    return values


def _run_alone(call: DbCall[Any], conn: sqlite3.Connection) -> Any:
    try:
        return call(conn)
    except Exception as error:
        if not conn.in_transaction:
            raise  # SQLite rolled the whole transaction back: the batch fails as one
        raise _WriteFailed from error  # the batch is rolled back, to run in savepoints


def _run_in_savepoints(calls: list[DbCall[Any]], conn: sqlite3.Connection) -> list[Outcome]:
    """Every call in its own savepoint, so that one failing leaves the others' effects."""
    return [run_in_savepoint(call, conn) for call in calls]


def run_in_savepoint(call: DbCall[Any], conn: sqlite3.Connection) -> Outcome:
    """``call``'s (value, None), or (None, its error) with everything it did undone.

    Inside a transaction. An error after which SQLite has ended the transaction itself is
    raised instead: nothing of the transaction is left to keep.
    """
    conn.execute("SAVEPOINT batch_write")
    try:
        value = call(conn)
    except Exception as error:
        if not conn.in_transaction:
            raise  # SQLite rolled the whole transaction back: the batch fails as one
        conn.execute("ROLLBACK TO batch_write")
        conn.execute("RELEASE batch_write")
        return None, error
    conn.execute("RELEASE batch_write")
    return value, None


def _settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # its caller was cancelled while the batch ran: the write stands
        return
    value, error = outcome
    if error is None:
        future.set_result(value)
    elif isinstance(error, StopIteration):  # a future refuses it (it would end a coroutine)
        future.set_exception(RuntimeError(f"the write raised {error!r}"))
    else:
        future.set_exception(error)
