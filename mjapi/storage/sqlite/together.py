"""Job saves run together: a few multi-row statements for a whole group of saves.

Under load nearly every write of a group-commit batch is a ``save_job`` (a progress update and
the callback it sends), and run one by one they cost two statements each in the database
thread, every sqlite3 step of which gives the GIL up and must take it back from the busy event
loop (``gc_tuning``'s docstring). ``SavesTogether`` is the ``worker.Together`` for saves that
write the same set of columns: their parameters go, bound as they would be alone, into
``save_jobs`` (UPDATE ... FROM a VALUES list) and their callbacks into ``insert_deliveries``
(one INSERT with a VALUES list): one statement each for a whole group, its VALUES list padded
to one of a few fixed sizes (``ROW_COUNTS``) so that a handful of prepared statements serves
any group. Each statement is a few GIL hand-offs, whatever its number of rows.

Bound values, not a JSON array for json_each: nothing is encoded twice (a callback's body is a
long JSON text already), and every value reaches its column exactly as it would alone -- texts
holding NUL, integers SQLite cannot hold (OverflowError), whatever a column refuses.

It answers only when every statement changed one row per save (``worker.Together``): a refused
change (the status guard), an event id that exists or a value that fails sends the group back
to one-by-one saves, which give each caller its own answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: A save's parameters as bound to ``save_job`` (jobid, allowed statuses, values ...) and its
#: new delivery's row (DELIVERY_COLUMNS order), or None without a callback.
SaveRow = tuple[Sequence[Any], Sequence[Any] | None]

#: Rows per statement: a group of n saves fills the smallest size >= n, the rest of its rows
#: NULL (they match no job and insert nothing), so that every group takes one statement per
#: table and each (columns, size) is prepared once. Larger groups (group commit's batches stop
#: at 500 writes) take several statements of the largest size.
ROW_COUNTS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class SavesTogether:
    """Saves writing one set of columns, run as a few statements (see the module)."""

    #: ``save_jobs`` with this set's assignments; {rows} still to fill
    update: str
    #: the number of parameters of one save (jobid, allowed statuses, the columns' values)
    width: int
    #: ``insert_deliveries``; {rows} still to fill
    insert: str
    #: the number of columns of one delivery
    delivery_width: int

    def run(self, rows: list[SaveRow], conn: sqlite3.Connection) -> list[bool] | None:
        """True for each save (all stored), or None: not all could be stored this way."""
        if not _all_changed(conn, self.update, self.width, [params for params, _ in rows]):
            return None
        deliveries = [delivery for _, delivery in rows if delivery is not None]
        if not _all_changed(conn, self.insert, self.delivery_width, deliveries):
            return None
        return [True] * len(rows)


def saves_together(
    template: str, columns: tuple[str, ...], insert: str, delivery_width: int
) -> SavesTogether:
    """The ``SavesTogether`` for saves writing ``columns`` (``template`` is ``save_jobs``).

    Equal objects are what puts saves into one group (``worker.plan_batch``).
    """
    assignments = ", ".join(
        f"{column} = item.column{n}" for n, column in enumerate(columns, start=3)
    )
    update = template.replace("{assignments}", assignments)
    return SavesTogether(update, len(columns) + 2, insert, delivery_width)


def chunks(count: int) -> Iterator[tuple[int, int, int]]:
    """(start, rows, size): ``count`` rows as statements of ROW_COUNTS sizes, each holding
    ``rows`` real rows from ``start`` and ``size - rows`` rows of NULLs."""
    largest = ROW_COUNTS[-1]
    for start in range(0, count, largest):
        rows = min(largest, count - start)
        yield start, rows, next(size for size in ROW_COUNTS if size >= rows)


def _all_changed(
    conn: sqlite3.Connection, template: str, width: int, rows: Sequence[Sequence[Any]]
) -> bool:
    """Whether ``template`` run over ``rows`` changed one row per row."""
    for start, count, size in chunks(len(rows)):
        params = [value for row in rows[start : start + count] for value in row]
        params += [None] * (width * (size - count))
        if conn.execute(_with_rows(template, width, size), params).rowcount != count:
            return False
    return True


@lru_cache(maxsize=512)
def _with_rows(template: str, width: int, size: int) -> str:
    """``template`` with ``size`` rows of ``width`` placeholders in place of {rows}."""
    row = "(" + ", ".join("?" * width) + ")"
    return template.replace("{rows}", ", ".join([row] * size))
