"""The Store on one SQLite file: one aiosqlite connection, WAL journal, serialized access."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Child, Job
from mjapi.errors import DuplicateKey, NotFound
from mjapi.storage.base import ApiToken, UserProfile
from mjapi.storage.codec import (
    UNFINISHED_STATUSES,
    account_from_row,
    account_to_row,
    allowed_sources,
    child_to_json,
    job_from_row,
    job_to_row,
    profile_from_row,
    profile_to_row,
    time_to_text,
    times_as_text,
)
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.delivery_codec import (
    attempt_to_row,
    check_limit,
    check_reports,
    deliveries_from_rows,
    delivery_to_row,
)
from mjapi.storage.queries import Migration, load_migrations, load_queries

log = logging.getLogger(__name__)

QUERIES = load_queries("mjapi.storage.sqlite")
MIGRATIONS = load_migrations("mjapi.storage.sqlite")

#: RETURNING (3.35), STRICT tables (3.37) and json_each built in (3.38).
MIN_SQLITE_VERSION = (3, 38, 0)

_PRAGMAS = (
    # WAL: readers never block the writer (a CLI or inspector may read while the server runs).
    "PRAGMA journal_mode = WAL",
    # Another process holding the write lock makes us wait instead of failing at once.
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    # Safe with WAL: a power loss may lose the last commits, never corrupt the file.
    "PRAGMA synchronous = NORMAL",
)


class SqliteStore:
    """The Store on a SQLite file (the default, embedded database)."""

    def __init__(self, path: Path, cipher: TokenCipher) -> None:
        self.path = path
        self._cipher = cipher
        self._db: aiosqlite.Connection | None = None
        # One connection shared by every task: the lock keeps a multi-statement transaction
        # from interleaving with another task's statements on that connection.
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect (creating the file and its folder) and apply pending migrations."""
        if self._db is not None:
            raise RuntimeError(f"{self.path} is already open")
        _check_sqlite_version()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)  # we issue BEGIN ourselves
        try:
            db.row_factory = aiosqlite.Row
            for pragma in _PRAGMAS:
                await db.execute(pragma)
            self._db = db
            await self._migrate()
        except BaseException:
            self._db = None
            await db.close()
            raise

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            async with self._lock:
                await db.close()

    # -- jobs

    async def insert_job(self, job: Job) -> None:
        rows = await self._query("insert_job", times_as_text(job_to_row(job)))
        if not rows:
            raise DuplicateKey(f"job {job.jobid} already exists")

    async def get_job(self, jobid: str) -> Job | None:
        rows = await self._query("get_job", {"jobid": jobid})
        return job_from_row(rows[0]) if rows else None

    async def save_job(self, job: Job, delivery: Delivery | None = None) -> bool:
        params = times_as_text(job_to_row(job))
        params["allowed"] = json.dumps(allowed_sources(job.status))
        if delivery is None:
            return bool(await self._query("save_job", params))
        check_reports(job, delivery)
        async with self._transaction():  # the outbox: both rows, or neither
            if not await self._execute("save_job", params):
                return False
            await self._insert_delivery(delivery)
        return True

    async def unfinished_jobs(self, owner: int | None = None) -> list[Job]:
        params: dict[str, Any] = {"statuses": json.dumps(UNFINISHED_STATUSES)}
        if owner is None:
            rows = await self._query("unfinished_jobs", params)
        else:
            rows = await self._query("unfinished_jobs_of_owner", {**params, "owner": owner})
        return [job_from_row(row) for row in rows]

    async def add_child(self, parent_jobid: str, child: Child) -> bool:
        params = {"jobid": parent_jobid, "child": child_to_json(child)}
        return bool(await self._query("add_child", params))

    # -- accounts

    async def put_account(self, account: Account) -> bool:
        params = times_as_text(account_to_row(account, self._cipher))
        async with self._transaction():
            existed = await self._execute("account_exists", {"channel": account.channel})
            await self._execute("upsert_account", params)
        return not existed

    async def get_account(self, channel: str) -> Account | None:
        rows = await self._query("get_account", {"channel": channel})
        return account_from_row(rows[0], self._cipher) if rows else None

    async def list_accounts(self, owner: int | None = None) -> list[Account]:
        if owner is None:
            rows = await self._query("list_accounts", {})
        else:
            rows = await self._query("list_accounts_of_owner", {"owner": owner})
        return [account_from_row(row, self._cipher) for row in rows]

    async def delete_account(self, channel: str) -> bool:
        return bool(await self._query("delete_account", {"channel": channel}))

    # -- API tokens and users

    async def add_token(self, token: ApiToken) -> None:
        params = {
            "token_hash": token.token_hash,
            "user_id": token.user_id,
            "created": time_to_text(token.created),
            "label": token.label,
        }
        if not await self._query("insert_token", params):
            raise DuplicateKey("an API token with this hash already exists")

    async def token_owner(self, token_hash: str) -> int | None:
        rows = await self._query("token_owner", {"token_hash": token_hash})
        return int(rows[0]["user_id"]) if rows else None

    async def next_user_id(self) -> int:
        rows = await self._query("next_user_id", {})
        return int(rows[0]["last_id"])

    async def get_profile(self, user_id: int) -> UserProfile | None:
        rows = await self._query("get_profile", {"user_id": user_id})
        return profile_from_row(rows[0]) if rows else None

    async def put_profile(self, profile: UserProfile) -> None:
        await self._query("upsert_profile", times_as_text(profile_to_row(profile)))

    # -- webhook outbox

    async def pending_deliveries(self) -> list[Delivery]:
        return await self._deliveries("pending_deliveries", {})

    async def record_attempt(
        self, event_id: str, attempt: Attempt, status: DeliveryStatus, next_attempt: datetime
    ) -> None:
        params = {
            "event_id": event_id,
            "status": status.value,
            "next_attempt": time_to_text(next_attempt),
        }
        async with self._transaction():
            if not await self._execute("set_delivery_status", params):
                raise NotFound(f"Unable to locate delivery {event_id}")
            await self._insert_attempt(event_id, attempt)

    async def get_delivery(self, event_id: str) -> Delivery | None:
        found = await self._deliveries("get_delivery", {"event_id": event_id})
        return found[0] if found else None

    async def list_deliveries(
        self,
        owner: int,
        *,
        jobid: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        check_limit(limit)
        params: dict[str, Any] = {"owner": owner, "limit": limit}
        params["status"] = None if status is None else status.value
        if jobid is None:
            return await self._deliveries("list_deliveries", params)
        return await self._deliveries("list_job_deliveries", {**params, "jobid": jobid})

    async def replay_delivery(
        self, event_id: str, next_attempt: datetime, expires: datetime
    ) -> Delivery | None:
        params = {
            "event_id": event_id,
            "next_attempt": time_to_text(next_attempt),
            "expires": time_to_text(expires),
        }
        async with self._transaction():
            found = await self._with_attempts(await self._execute("replay_delivery", params))
        return found[0] if found else None

    async def prune_deliveries(self, before: datetime) -> int:
        return len(await self._query("prune_deliveries", {"before": time_to_text(before)}))

    async def webhook_secret(self, user_id: int) -> str | None:
        rows = await self._query("get_webhook_secret", {"user_id": user_id})
        return self._cipher.decrypt(rows[0]["secret_enc"]) if rows else None

    async def put_webhook_secret(self, user_id: int, secret: str) -> None:
        params = {"user_id": user_id, "secret_enc": self._cipher.encrypt(secret)}
        await self._query("upsert_webhook_secret", params)

    async def _insert_delivery(self, delivery: Delivery) -> None:
        """Insert a new delivery and its attempts, if any; the caller holds a transaction."""
        if not await self._execute("insert_delivery", times_as_text(delivery_to_row(delivery))):
            raise DuplicateKey(f"delivery {delivery.event_id} already exists")
        for attempt in delivery.attempts:
            await self._insert_attempt(delivery.event_id, attempt)

    async def _insert_attempt(self, event_id: str, attempt: Attempt) -> None:
        params = times_as_text(attempt_to_row(event_id, attempt))
        if not await self._execute("insert_attempt", params):
            raise DuplicateKey(f"attempt {attempt.number} of delivery {event_id} already exists")

    async def _deliveries(self, name: str, params: dict[str, Any]) -> list[Delivery]:
        """The deliveries query ``name`` selects, with their attempts.

        One read transaction around both queries: an attempt recorded meanwhile (by another
        process on the file) cannot show up next to the status it replaced.
        """
        async with self._transaction("BEGIN"):
            return await self._with_attempts(await self._execute(name, params))

    async def _with_attempts(self, rows: list[sqlite3.Row]) -> list[Delivery]:
        """Deliveries of ``rows``, their attempts read in one query; the caller holds the lock."""
        if not rows:
            return []
        event_ids = json.dumps([row["event_id"] for row in rows])
        attempts = await self._execute("attempts_of_deliveries", {"event_ids": event_ids})
        return deliveries_from_rows(rows, attempts)

    # -- plumbing

    async def _query(self, name: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        """Run one named query as its own (autocommit) transaction."""
        async with self._lock:
            return await self._execute(name, params)

    async def _execute(self, name: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        """Run one named query; the caller holds the lock."""
        return list(await self._connection().execute_fetchall(QUERIES[name], params))

    @asynccontextmanager
    async def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> AsyncIterator[None]:
        """Hold the lock and a transaction until commit or rollback.

        BEGIN IMMEDIATE (the default) takes SQLite's write lock at once, so a transaction that
        reads then writes never fails half-way on a busy file; a plain BEGIN is a read snapshot.
        """
        async with self._lock:
            db = self._connection()
            await db.execute(begin)
            try:
                yield
            except BaseException:
                await db.rollback()
                raise
            await db.commit()

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError(f"{self.path} is not open: call open() first")
        return self._db

    async def _migrate(self) -> None:
        async with self._lock:
            await self._execute("create_migrations_table", {})
        for migration in MIGRATIONS:
            await self._apply(migration)

    async def _apply(self, migration: Migration) -> None:
        """Apply one migration in its own transaction, unless it is already recorded."""
        async with self._transaction():
            # Read inside the write lock: another process may have applied it meanwhile.
            applied = await self._execute("applied_migrations", {})
            if any(row["version"] == migration.version for row in applied):
                return
            for statement in split_statements(migration.sql):
                await self._connection().execute(statement)
            params = {"version": migration.version, "name": migration.name}
            await self._execute("record_migration", params)
        log.info(
            "applied migration %04d_%s to %s",
            migration.version,
            migration.name,
            self.path,
            extra={"action": "migration_applied", "version": migration.version},
        )


def split_statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, split where SQLite itself says one is complete.

    Migrations run statement by statement inside our own transaction because
    ``executescript`` would COMMIT first and defeat the per-migration transaction.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    leftover = [line for line in pending.splitlines() if line.strip()]
    if any(not line.lstrip().startswith("--") for line in leftover):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()!r}")


def _check_sqlite_version() -> None:
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        wanted = ".".join(map(str, MIN_SQLITE_VERSION))
        raise RuntimeError(f"mjapi needs SQLite >= {wanted}, Python has {sqlite3.sqlite_version}")
