"""Named queries and migrations read from the package's .sql files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from mjapi.storage.queries import load_migrations, load_queries, parse_queries
from mjapi.storage.sqlite.store import split_statements

DIALECTS = ["mjapi.storage.sqlite", "mjapi.storage.postgres"]

TEXT = """\
-- A file comment, ignored.

-- name: get_job
-- Fetch one job.
SELECT *
FROM jobs WHERE jobid = :jobid

-- name: count_jobs
SELECT count(*) FROM jobs;
"""


def test_blocks_are_split_by_name_with_their_comments_dropped() -> None:
    queries = parse_queries(TEXT)
    assert queries == {
        "get_job": "SELECT *\nFROM jobs WHERE jobid = :jobid",
        "count_jobs": "SELECT count(*) FROM jobs;",
    }


def test_an_unknown_name_is_a_clear_key_error() -> None:
    queries = parse_queries(TEXT, "pkg/queries.sql")
    with pytest.raises(KeyError, match=r"no query named 'get_jbo' in pkg/queries.sql") as raised:
        queries["get_jbo"]
    assert "count_jobs, get_job" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("SELECT 1\n-- name: a\nSELECT 2", "before the first"),
        ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2", "defined twice"),
        ("-- name: a\n-- only a comment\n", "no SQL"),
        ("-- name: Bad-Name\nSELECT 1", "invalid query name"),
    ],
)
def test_malformed_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_queries(text)


@pytest.mark.parametrize("package", DIALECTS)
def test_shipped_query_files_load(package: str) -> None:
    queries = load_queries(package)
    assert {"insert_job", "save_job", "get_job", "next_user_id"} <= set(queries)
    assert {"add_child", "get_profile", "upsert_profile"} <= set(queries)


def test_both_dialects_have_the_same_migrations() -> None:
    sqlite, postgres = (load_migrations(package) for package in DIALECTS)
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in postgres]
    assert [(m.version, m.name) for m in sqlite] == [
        (1, "init"),
        (2, "job_results_and_profiles"),
        (3, "webhook_outbox"),
        (4, "drop_unused_job_indexes"),
    ]


def _fake_package(root: Path, files: dict[str, str]) -> str:
    # A fresh name each time: an imported package stays cached in sys.modules.
    package = root / f"fake_sql_{uuid.uuid4().hex}"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, text in files.items():
        (package / "migrations" / name).write_text(text)
    return package.name


def test_migrations_are_sorted_by_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = _fake_package(tmp_path, {"0002_b.sql": "B", "0001_a.sql": "A", "README": "x"})
    assert [(m.version, m.name, m.sql) for m in load_migrations(name)] == [
        (1, "a", "A"),
        (2, "b", "B"),
    ]


@pytest.mark.parametrize(
    "files", [{"0001_a.sql": "", "0003_c.sql": ""}, {"0001_a.sql": "", "1_b.sql": ""}]
)
def test_gaps_and_misnamed_migrations_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="migration"):
        load_migrations(_fake_package(tmp_path, files))


def test_sqlite_scripts_split_where_sqlite_says_a_statement_ends() -> None:
    script = """-- header
CREATE TABLE t (a TEXT DEFAULT 'x;y');
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
    UPDATE t SET a = 'z';
END;
-- trailing comment
"""
    statements = list(split_statements(script))
    assert len(statements) == 2
    assert statements[0].endswith("DEFAULT 'x;y');")
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


def test_an_unfinished_sqlite_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        list(split_statements("CREATE TABLE t (a TEXT);\nSELECT 1"))
