"""A ``GroupCommit`` of its own on a table ``t`` of unique keys, and every statement it ran.

How a batch runs (its statements, in order) is seen through the connection's trace callback;
the tests of group commit (tests/unit/test_sqlite_batches.py) and of writes run together
(tests/unit/test_sqlite_together.py) share it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mjapi.storage.sqlite.worker import GroupCommit, SqliteWorker


@dataclass
class Traced:
    """A GroupCommit on a table ``t`` of unique keys, and every statement its connection ran."""

    worker: SqliteWorker
    commit: GroupCommit
    statements: list[str] = field(default_factory=list)

    async def keys(self) -> list[str]:
        rows = await self.worker.run(
            lambda conn: conn.execute("SELECT k FROM t ORDER BY k").fetchall()
        )
        return [row["k"] for row in rows]


@asynccontextmanager
async def traced_commit(path: Path, *present: str) -> AsyncIterator[Traced]:
    """A fresh database at ``path`` whose ``t`` holds ``present`` (inserted before tracing)."""
    statements: list[str] = []

    def setup(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO t VALUES (?)", [(key,) for key in present])
        conn.set_trace_callback(statements.append)

    worker = SqliteWorker(path)
    await worker.open(setup)
    try:
        yield Traced(worker, GroupCommit(worker), statements)
    finally:
        await worker.close()
