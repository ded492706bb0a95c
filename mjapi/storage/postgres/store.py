"""The Store on PostgreSQL through an asyncpg pool (for several mjapi replicas).

``save_job`` writes only the columns that changed since this store last wrote the job
(``codec.WrittenJobs``). Pooled connections may run two writes of one job in either order, and
a partial write overtaken by another would leave the overtaker's values in the columns it does
not write: so a save or insert of a job first waits for this store's write of that job in
flight, if any (the engine already saves a job one change at a time, so it seldom waits). The
UPDATE for each set of columns is built once from the ``save_job`` template and kept; asyncpg
keeps each prepared per connection.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Child, Job
from mjapi.errors import DuplicateKey, NotFound
from mjapi.storage.base import ApiToken, UserProfile
from mjapi.storage.codec import (
    ACCOUNT_COLUMNS,
    JOB_FIELDS,
    PROFILE_COLUMNS,
    SAVED_FIELDS,
    UNFINISHED_STATUSES,
    WrittenJobs,
    account_from_row,
    account_to_row,
    allowed_sources,
    changed_fields,
    child_to_json,
    job_columns,
    job_from_row,
    job_values,
    profile_from_row,
    profile_to_row,
    utc,
)
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.delivery_codec import (
    attempt_values,
    check_limit,
    check_reports,
    deliveries_from_rows,
    delivery_values,
)
from mjapi.storage.queries import Migration, load_migrations, load_queries

log = logging.getLogger(__name__)

QUERIES = load_queries("mjapi.storage.postgres")
MIGRATIONS = load_migrations("mjapi.storage.postgres")

#: A connection taken from the pool (what transactions run on).
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"  # subscriptable for mypy only

#: What a save writes when nothing changed: one column, to its own value (an UPDATE needs one),
#: so that the status guard still answers.
_NOTHING_CHANGED = ("status",)


class PostgresStore:
    """The Store on a PostgreSQL database (schema chosen by the DSN's search_path)."""

    def __init__(
        self, dsn: str, cipher: TokenCipher, *, min_pool_size: int = 1, max_pool_size: int = 10
    ) -> None:
        self._dsn = dsn  # may hold a password: never logged, never put in an error
        self._cipher = cipher
        self._pool_sizes = (min_pool_size, max_pool_size)
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._written = WrittenJobs()

    async def open(self) -> None:
        """Create the connection pool and apply pending migrations."""
        if self._pool is not None:
            raise RuntimeError("the PostgreSQL store is already open")
        low, high = self._pool_sizes
        pool = await asyncpg.create_pool(self._dsn, min_size=low, max_size=high)
        try:
            await _migrate(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # -- jobs

    async def insert_job(self, job: Job) -> None:
        args = job_values(job, JOB_FIELDS, utc)
        await self._written.wait_idle(job.jobid)
        if not await self._written.remember_if_written(job, self._inserted(args)):
            raise DuplicateKey(f"job {job.jobid} already exists")

    async def get_job(self, jobid: str) -> Job | None:
        row = await self._fetchrow("get_job", jobid)
        return None if row is None else job_from_row(row)

    async def save_job(self, job: Job, delivery: Delivery | None = None) -> bool:
        await self._written.wait_idle(job.jobid)  # see the module docstring
        base = self._written.base(job.jobid)
        fields = SAVED_FIELDS if base is None else changed_fields(base, job) or _NOTHING_CHANGED
        args = [job.jobid, allowed_sources(job.status), *job_values(job, fields, utc)]
        if delivery is not None:
            check_reports(job, delivery)
        save = self._saved(_save_job_sql(fields), args, delivery)
        return await self._written.remember_if_written(job, save)

    async def unfinished_jobs(self, owner: int | None = None) -> list[Job]:
        if owner is None:
            rows = await self._fetch("unfinished_jobs", UNFINISHED_STATUSES)
        else:
            rows = await self._fetch("unfinished_jobs_of_owner", UNFINISHED_STATUSES, owner)
        return [job_from_row(row) for row in rows]

    async def add_child(self, parent_jobid: str, child: Child) -> bool:
        add = self._fetchval("add_child", parent_jobid, child_to_json(child))
        return await self._written.forget_after(parent_jobid, add) is not None

    async def _inserted(self, args: list[Any]) -> bool:
        return await self._fetchval("insert_job", *args) is not None

    async def _saved(self, sql: str, args: list[Any], delivery: Delivery | None) -> bool:
        """Run a save_job UPDATE, with ``delivery`` in the same transaction when there is one."""
        if delivery is None:
            return await self._open_pool().fetchval(sql, *args) is not None
        async with self._transaction() as connection:  # the outbox: both rows, or neither
            if await connection.fetchval(sql, *args) is None:
                return False
            await _insert_delivery(connection, delivery)
        return True

    # -- accounts

    async def put_account(self, account: Account) -> bool:
        row = account_to_row(account, self._cipher)
        args = [row[column] for column in ACCOUNT_COLUMNS]
        return bool(await self._fetchval("upsert_account", *args))

    async def get_account(self, channel: str) -> Account | None:
        row = await self._fetchrow("get_account", channel)
        return None if row is None else account_from_row(row, self._cipher)

    async def list_accounts(self, owner: int | None = None) -> list[Account]:
        if owner is None:
            rows = await self._fetch("list_accounts")
        else:
            rows = await self._fetch("list_accounts_of_owner", owner)
        return [account_from_row(row, self._cipher) for row in rows]

    async def delete_account(self, channel: str) -> bool:
        return await self._fetchval("delete_account", channel) is not None

    # -- API tokens and users

    async def add_token(self, token: ApiToken) -> None:
        args = (token.token_hash, token.user_id, utc(token.created), token.label)
        if await self._fetchval("insert_token", *args) is None:
            raise DuplicateKey("an API token with this hash already exists")

    async def token_owner(self, token_hash: str) -> int | None:
        user_id = await self._fetchval("token_owner", token_hash)
        return None if user_id is None else int(user_id)

    async def next_user_id(self) -> int:
        return int(await self._fetchval("next_user_id"))

    async def get_profile(self, user_id: int) -> UserProfile | None:
        row = await self._fetchrow("get_profile", user_id)
        return None if row is None else profile_from_row(row)

    async def put_profile(self, profile: UserProfile) -> None:
        row = profile_to_row(profile)
        await self._execute("upsert_profile", *(row[column] for column in PROFILE_COLUMNS))

    # -- webhook outbox

    async def pending_deliveries(self) -> list[Delivery]:
        return await self._deliveries("pending_deliveries")

    async def record_attempt(
        self,
        event_id: str,
        attempt: Attempt,
        status: DeliveryStatus,
        next_attempt: datetime,
        superseded: Sequence[str] = (),
    ) -> None:
        args = (event_id, status.value, utc(next_attempt))
        async with self._transaction() as connection:
            # The delivery's row first: its lock orders this attempt after a concurrent replay.
            if await connection.fetchval(QUERIES["set_delivery_status"], *args) is None:
                raise NotFound(f"Unable to locate delivery {event_id}")
            await _insert_attempt(connection, event_id, attempt)
            if superseded:
                await connection.execute(QUERIES["drop_superseded"], list(superseded))

    async def get_delivery(self, event_id: str) -> Delivery | None:
        found = await self._deliveries("get_delivery", event_id)
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
        args = (owner, None if status is None else status.value, limit)
        if jobid is None:
            return await self._deliveries("list_deliveries", *args)
        return await self._deliveries("list_job_deliveries", *args, jobid)

    async def replay_delivery(
        self, event_id: str, next_attempt: datetime, expires: datetime
    ) -> Delivery | None:
        args = (event_id, utc(next_attempt), utc(expires))
        async with self._transaction() as connection:
            rows = await connection.fetch(QUERIES["replay_delivery"], *args)
            found = await _with_attempts(connection, rows)
        return found[0] if found else None

    async def prune_deliveries(self, before: datetime) -> int:
        return int(await self._fetchval("prune_deliveries", utc(before)))

    async def webhook_secret(self, user_id: int) -> str | None:
        encrypted = await self._fetchval("get_webhook_secret", user_id)
        return None if encrypted is None else self._cipher.decrypt(encrypted)

    async def put_webhook_secret(self, user_id: int, secret: str) -> None:
        await self._execute("upsert_webhook_secret", user_id, self._cipher.encrypt(secret))

    async def _deliveries(self, name: str, *args: Any) -> list[Delivery]:
        """The deliveries query ``name`` selects, with their attempts.

        Both queries read one snapshot: an attempt committed in between cannot show up next to
        the status it replaced.
        """
        async with self._transaction(snapshot=True) as connection:
            return await _with_attempts(connection, await connection.fetch(QUERIES[name], *args))

    # -- plumbing

    @asynccontextmanager
    async def _transaction(self, *, snapshot: bool = False) -> AsyncIterator[Connection]:
        """A pooled connection inside a transaction (READ COMMITTED, or a read-only snapshot)."""
        isolation: Literal["repeatable_read"] | None = "repeatable_read" if snapshot else None
        async with (
            self._open_pool().acquire() as connection,
            connection.transaction(isolation=isolation, readonly=snapshot),
        ):
            yield connection

    async def _execute(self, name: str, *args: Any) -> None:
        await self._open_pool().execute(QUERIES[name], *args)

    async def _fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        return await self._open_pool().fetch(QUERIES[name], *args)

    async def _fetchrow(self, name: str, *args: Any) -> asyncpg.Record | None:
        return await self._open_pool().fetchrow(QUERIES[name], *args)

    async def _fetchval(self, name: str, *args: Any) -> Any:
        return await self._open_pool().fetchval(QUERIES[name], *args)

    def _open_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise RuntimeError("the PostgreSQL store is not open: call open() first")
        return self._pool


async def _insert_delivery(connection: Connection, delivery: Delivery) -> None:
    """Insert a new delivery and its attempts, if any, inside the caller's transaction."""
    args = delivery_values(delivery, utc)
    if await connection.fetchval(QUERIES["insert_delivery"], *args) is None:
        raise DuplicateKey(f"delivery {delivery.event_id} already exists")
    for attempt in delivery.attempts:
        await _insert_attempt(connection, delivery.event_id, attempt)


async def _insert_attempt(connection: Connection, event_id: str, attempt: Attempt) -> None:
    args = attempt_values(event_id, attempt, utc)
    if await connection.fetchval(QUERIES["insert_attempt"], *args) is None:
        raise DuplicateKey(f"attempt {attempt.number} of delivery {event_id} already exists")


async def _with_attempts(connection: Connection, rows: list[asyncpg.Record]) -> list[Delivery]:
    """Deliveries of ``rows``, their attempts read in one query on ``connection``."""
    if not rows:
        return []
    event_ids = [row["event_id"] for row in rows]
    attempts = await connection.fetch(QUERIES["attempts_of_deliveries"], event_ids)
    return deliveries_from_rows(rows, attempts)


@lru_cache(maxsize=256)
def _save_job_sql(fields: tuple[str, ...]) -> str:
    """The ``save_job`` UPDATE writing ``fields`` (parameters: jobid, allowed, their values).

    Kept per set of fields: a few sets recur (progress, completion, failure ...), so the text
    is built once each, and asyncpg prepares each once per connection.
    """
    columns = job_columns(fields)
    assignments = ", ".join(f"{column} = ${n}" for n, column in enumerate(columns, start=3))
    return QUERIES["save_job"].format(assignments=assignments)


async def _migrate(pool: asyncpg.Pool[asyncpg.Record]) -> None:
    """Apply every pending migration, one transaction each, holding the migrations lock."""
    async with pool.acquire() as connection:
        await connection.execute(QUERIES["lock_migrations"])
        try:
            await connection.execute(QUERIES["create_migrations_table"])
            rows = await connection.fetch(QUERIES["applied_migrations"])
            applied = {row["version"] for row in rows}
            for migration in MIGRATIONS:
                if migration.version not in applied:
                    await _apply(connection, migration)
        finally:
            await connection.execute(QUERIES["unlock_migrations"])


async def _apply(connection: Connection, migration: Migration) -> None:
    async with connection.transaction():
        # No arguments: asyncpg sends the script with the simple protocol, several statements ok.
        await connection.execute(migration.sql)
        await connection.execute(QUERIES["record_migration"], migration.version, migration.name)
    log.info(
        "applied migration %04d_%s",
        migration.version,
        migration.name,
        extra={"action": "migration_applied", "version": migration.version},
    )
