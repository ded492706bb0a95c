"""Migrations and lifecycle, for every store: the schema is the one the code expects."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import asyncpg
import pytest

from mjapi.domain.deliveries import Delivery
from mjapi.domain.jobs import Child, Job, JobStatus
from mjapi.storage import codec, delivery_codec
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
    "accounts_owner",
    "api_tokens_user_id",
    "deliveries_pending",
    "deliveries_owner_seq",
    "deliveries_jobid_seq",
    "deliveries_created",
}


#: What each driver raises for a violated CHECK constraint.
CONSTRAINT_ERRORS = (sqlite3.IntegrityError, asyncpg.CheckViolationError)

#: The migrations shipped, the same in both dialects.
EXPECTED_MIGRATIONS = [
    (1, "init"),
    (2, "job_results_and_profiles"),
    (3, "webhook_outbox"),
    (4, "drop_unused_job_indexes"),
]

#: The jobs columns of schema version 1: what a job row held before migration 0002.
V1_JOB_COLUMNS = codec.JOB_COLUMNS[: codec.JOB_COLUMNS.index("extra") + 1]


async def test_migrations_table_lists_every_migration_file(store: Store, backend: Backend) -> None:
    applied = await backend.applied_migrations()
    assert [(m.version, m.name) for m in MIGRATIONS[backend.name]] == EXPECTED_MIGRATIONS
    assert [(version, name) for version, name, _ in applied] == EXPECTED_MIGRATIONS


async def test_schema_matches_the_codec(store: Store, backend: Backend) -> None:
    assert await backend.columns("jobs") == list(codec.JOB_COLUMNS)
    assert await backend.columns("accounts") == list(codec.ACCOUNT_COLUMNS)
    assert await backend.columns("api_tokens") == ["token_hash", "user_id", "created", "label"]
    assert await backend.columns("profiles") == list(codec.PROFILE_COLUMNS)
    event_id, *rest = delivery_codec.DELIVERY_COLUMNS
    assert await backend.columns("deliveries") == [event_id, "seq", *rest]
    assert await backend.columns("delivery_attempts") == list(delivery_codec.ATTEMPT_COLUMNS)
    assert await backend.columns("webhook_secrets") == ["user_id", "secret_enc", "created"]
    assert await backend.index_names() == EXPECTED_INDEXES


async def test_rows_of_version_1_read_back_with_the_new_defaults(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database of the previous release: 0002 applies over its rows and they stay readable."""
    module = sqlite_store if backend.name == "sqlite" else postgres_store
    with monkeypatch.context() as previous_release:
        previous_release.setattr(module, "MIGRATIONS", module.MIGRATIONS[:1])
        old = backend.new_store()
        await old.open()
        await old.close()
    assert [version for version, _, _ in await backend.applied_migrations()] == [1]
    assert len(V1_JOB_COLUMNS) == 28 and await backend.columns("profiles") == []
    # the job as the version 1 store wrote it: only the columns it knew
    row = codec.job_to_row(full_job())
    await backend.insert_row("jobs", {column: row[column] for column in V1_JOB_COLUMNS})

    store = backend.new_store()  # the new release starts: 0002 is applied
    await store.open()
    try:
        assert await store.get_job("job-full") == full_job().evolve(
            embeds=(),
            seed=None,
            blend_urls=(),
            blend_dimensions=None,
            describe_url=None,
            message_flags=0,
        )
        # and the old row takes the new fields and children like any other
        assert await store.save_job(full_job().evolve(status=JobStatus.COMPLETED))
        assert await store.add_child("job-full", Child("U4", "job-child-4"))
        stored = await store.get_job("job-full")
        assert stored is not None and stored.seed == full_job().seed
        assert stored.children[-1] == Child("U4", "job-child-4")
    finally:
        await store.close()
    assert [version for version, _, _ in await backend.applied_migrations()] == [1, 2, 3, 4]


async def test_the_schema_refuses_half_a_seed(store: Store, backend: Backend) -> None:
    """The codec reads a seed from two columns: the schema keeps them both set or both NULL."""
    row = codec.job_to_row(full_job())
    for half in ("seed_content", "seed_value"):
        with pytest.raises(CONSTRAINT_ERRORS, match=r"(?i)check constraint"):
            await backend.insert_row("jobs", {**row, half: None})
    assert await store.get_job("job-full") is None


async def test_a_database_of_version_2_takes_the_outbox(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0003 applies over the jobs of the previous release, which then get callbacks."""
    module = sqlite_store if backend.name == "sqlite" else postgres_store
    with monkeypatch.context() as previous_release:
        previous_release.setattr(module, "MIGRATIONS", module.MIGRATIONS[:2])
        old = backend.new_store()
        await old.open()
        try:
            await old.insert_job(full_job())
        finally:
            await old.close()
    assert await backend.columns("deliveries") == []

    store = backend.new_store()
    await store.open()
    try:
        completed = full_job().evolve(status=JobStatus.COMPLETED)
        callback = _callback(completed)
        assert await store.save_job(completed, callback)
        assert await store.pending_deliveries() == [replace(callback, seq=1)]
    finally:
        await store.close()
    assert [version for version, _, _ in await backend.applied_migrations()] == [1, 2, 3, 4]


async def test_the_schema_refuses_an_unknown_delivery_status(
    store: Store, backend: Backend
) -> None:
    row = delivery_codec.delivery_to_row(_callback(full_job()))
    with pytest.raises(CONSTRAINT_ERRORS, match=r"(?i)check constraint"):
        await backend.insert_row("deliveries", {**row, "status": "lost"})
    assert await backend.row_count("deliveries") == 0


def _callback(job: Job) -> Delivery:
    moment = job.updated
    return Delivery(
        "evt-1",
        job.jobid,
        job.owner,
        "https://example.test/cb",
        job.status.value,
        '{"a": 1}',
        moment,
        moment,
        moment + timedelta(days=1),
    )


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
