"""The Store on PostgreSQL through an asyncpg pool (for several mjapi replicas)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from mjapi.domain.accounts import Account
from mjapi.domain.jobs import Child, Job
from mjapi.errors import DuplicateKey
from mjapi.storage.base import ApiToken, UserProfile
from mjapi.storage.codec import (
    ACCOUNT_COLUMNS,
    JOB_COLUMNS,
    PROFILE_COLUMNS,
    UNFINISHED_STATUSES,
    account_from_row,
    account_to_row,
    allowed_sources,
    child_to_json,
    job_from_row,
    job_to_row,
    profile_from_row,
    profile_to_row,
    utc,
)
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.queries import Migration, load_migrations, load_queries

log = logging.getLogger(__name__)

QUERIES = load_queries("mjapi.storage.postgres")
MIGRATIONS = load_migrations("mjapi.storage.postgres")


class PostgresStore:
    """The Store on a PostgreSQL database (schema chosen by the DSN's search_path)."""

    def __init__(
        self, dsn: str, cipher: TokenCipher, *, min_pool_size: int = 1, max_pool_size: int = 10
    ) -> None:
        self._dsn = dsn  # may hold a password: never logged, never put in an error
        self._cipher = cipher
        self._pool_sizes = (min_pool_size, max_pool_size)
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None

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
        if await self._fetchval("insert_job", *_job_args(job)) is None:
            raise DuplicateKey(f"job {job.jobid} already exists")

    async def get_job(self, jobid: str) -> Job | None:
        row = await self._fetchrow("get_job", jobid)
        return None if row is None else job_from_row(row)

    async def save_job(self, job: Job) -> bool:
        allowed = allowed_sources(job.status)
        return await self._fetchval("save_job", *_job_args(job), allowed) is not None

    async def unfinished_jobs(self, owner: int | None = None) -> list[Job]:
        if owner is None:
            rows = await self._fetch("unfinished_jobs", UNFINISHED_STATUSES)
        else:
            rows = await self._fetch("unfinished_jobs_of_owner", UNFINISHED_STATUSES, owner)
        return [job_from_row(row) for row in rows]

    async def add_child(self, parent_jobid: str, child: Child) -> bool:
        return await self._fetchval("add_child", parent_jobid, child_to_json(child)) is not None

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

    # -- plumbing

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


def _job_args(job: Job) -> list[Any]:
    """The job as positional parameters $1..$35, in JOB_COLUMNS order."""
    row = job_to_row(job)
    return [row[column] for column in JOB_COLUMNS]


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


async def _apply(connection: PoolConnectionProxy[asyncpg.Record], migration: Migration) -> None:
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
