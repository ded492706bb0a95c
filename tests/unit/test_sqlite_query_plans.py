"""Every query on jobs finds its rows through an index: the ones migration 0004 keeps suffice.

Migration 0004 drops the job indexes no query reads (each cost work on every job change). This
is the other half of that claim: SQLite's own query plans for the store's statements on the
jobs table, the templates filled as the store fills them, never scan the table.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from mjapi.storage.codec import SAVED_FIELDS
from mjapi.storage.sqlite.store import MIGRATIONS, QUERIES, split_statements
from mjapi.storage.sqlite.store import _save_job_sql as save_job_sql
from mjapi.storage.sqlite.store import _saves_together as saves_together
from mjapi.storage.sqlite.together import _with_rows as with_rows


@pytest.fixture
def conn() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    for migration in MIGRATIONS:
        for statement in split_statements(migration.sql):
            connection.execute(statement)
    return connection


def job_statements() -> dict[str, str]:
    """The store's statements that read or change jobs, as it runs them."""
    named = {
        name: sql
        for name, sql in QUERIES.items()
        if re.search(r"\b(FROM|UPDATE) jobs\b", sql) and "{" not in sql
    }
    together = saves_together(("updated", "progress", "content"))
    return {
        **named,
        "save_job": save_job_sql(SAVED_FIELDS),
        "save_jobs": with_rows(together.update, together.width, 4),
    }


def plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    names = re.findall(r":(\w+)", sql)
    params: dict[str, None] | list[None] = dict.fromkeys(names)
    if not names:
        params = [None] * len(re.findall(r"\?", sql))
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def test_the_job_statements_are_the_ones_expected() -> None:
    assert set(job_statements()) == {
        "get_job",
        "add_child",
        "unfinished_jobs",
        "unfinished_jobs_of_owner",
        "save_job",
        "save_jobs",
    }


@pytest.mark.parametrize("name", sorted(job_statements()))
def test_no_job_statement_scans_the_jobs_table(conn: sqlite3.Connection, name: str) -> None:
    steps = plan(conn, job_statements()[name])
    assert any(step.startswith("SEARCH jobs USING") for step in steps), steps
    assert not any(step.startswith("SCAN jobs") for step in steps), steps
