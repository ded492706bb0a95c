"""Migrations and lifecycle, for every store: the schema is the one the code expects."""

from __future__ import annotations

import pytest

from mjapi.storage import codec
from mjapi.storage.base import Store
from mjapi.storage.postgres import store as postgres_store
from mjapi.storage.queries import Migration
from mjapi.storage.sqlite import store as sqlite_store
from tests.contract.conftest import Backend
from tests.contract.test_store_contract import full_job

MIGRATIONS = {"sqlite": sqlite_store.MIGRATIONS, "postgres": postgres_store.MIGRATIONS}

#: Indexes the queries rely on (primary keys aside), the same in both dialects.
EXPECTED_INDEXES = {
    "jobs_status_created",
    "jobs_owner_created",
    "jobs_channel_status",
    "jobs_updated",
    "jobs_nonce",
    "jobs_message_id",
    "jobs_job_hash",
    "accounts_owner",
    "api_tokens_user_id",
}


async def test_migrations_table_lists_every_migration_file(store: Store, backend: Backend) -> None:
    applied = await backend.applied_migrations()
    expected = [(m.version, m.name) for m in MIGRATIONS[backend.name]]
    assert [(version, name) for version, name, _ in applied] == expected


async def test_schema_matches_the_codec(store: Store, backend: Backend) -> None:
    assert await backend.columns("jobs") == list(codec.JOB_COLUMNS)
    assert await backend.columns("accounts") == list(codec.ACCOUNT_COLUMNS)
    assert await backend.columns("api_tokens") == ["token_hash", "user_id", "created", "label"]
    assert await backend.index_names() == EXPECTED_INDEXES


async def test_reopening_applies_no_migration_again(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    try:
        await first.insert_job(full_job())
    finally:
        await first.close()
    applied = await backend.applied_migrations()

    second = backend.new_store()  # a second process start on the same database
    await second.open()
    try:
        assert await second.get_job("job-full") == full_job()
    finally:
        await second.close()
    assert await backend.applied_migrations() == applied  # same rows, same applied times


async def test_a_store_must_be_opened_first(backend: Backend) -> None:
    store = backend.new_store()
    with pytest.raises(RuntimeError, match="open"):
        await store.get_job("x")
    await store.close()  # closing a store never opened is harmless


async def test_opening_twice_is_refused_and_close_is_idempotent(store: Store) -> None:
    with pytest.raises(RuntimeError, match="already open"):
        await store.open()
    await store.close()
    await store.close()


def _add_migration(monkeypatch: pytest.MonkeyPatch, backend: Backend, sql: str) -> None:
    """Ship one more migration, as a newer release of mjapi would."""
    module = sqlite_store if backend.name == "sqlite" else postgres_store
    added = Migration(len(module.MIGRATIONS) + 1, "later", sql)
    monkeypatch.setattr(module, "MIGRATIONS", [*module.MIGRATIONS, added])


async def test_a_new_migration_is_applied_on_the_next_start(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend.new_store()
    await first.open()
    await first.close()
    before = await backend.applied_migrations()

    _add_migration(monkeypatch, backend, "CREATE TABLE later_table (a INTEGER);")
    second = backend.new_store()
    await second.open()
    await second.close()
    after = await backend.applied_migrations()
    assert after[:-1] == before and after[-1][:2] == (len(before) + 1, "later")
    assert await backend.columns("later_table") == ["a"]


async def test_a_failing_migration_leaves_no_trace(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = "CREATE TABLE half_done (a INTEGER);\nSELECT * FROM no_such_table;"
    _add_migration(monkeypatch, backend, broken)
    store = backend.new_store()
    with pytest.raises(Exception, match="no_such_table"):
        await store.open()
    # the earlier migrations stand, the broken one was rolled back as a whole
    applied = await backend.applied_migrations()
    assert [version for version, _, _ in applied] == [m.version for m in MIGRATIONS[backend.name]]
    assert await backend.columns("half_done") == []
    with pytest.raises(RuntimeError, match="not open"):
        await store.get_job("x")
