"""One store suite, two databases: every test taking ``backend`` runs on SQLite and PostgreSQL.

A ``Backend`` builds stores on one throwaway database (a temp SQLite file, or a fresh PostgreSQL
schema selected through the DSN's search_path) and offers the raw look the contract needs
(bytes at rest, columns, applied migrations) without going through the store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
from cryptography.fernet import Fernet

from mjapi.storage.base import Store
from mjapi.storage.codec import times_as_text
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.postgres import PostgresStore
from mjapi.storage.sqlite import SqliteStore

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


class Backend(Protocol):
    """A throwaway database and the raw access the contract tests need."""

    name: str
    cipher: TokenCipher

    def new_store(self, cipher: TokenCipher | None = None) -> Store:
        """A store (not opened) on this database; a second one models a server restart."""
        ...

    async def raw_dump(self) -> bytes:
        """Everything the database holds at rest, as bytes, read around the store."""
        ...

    async def columns(self, table: str) -> list[str]: ...

    async def index_names(self) -> set[str]: ...

    async def row_count(self, table: str) -> int:
        """How many rows ``table`` holds, counted around the store."""
        ...

    async def applied_migrations(self) -> list[tuple[int, str, str]]:
        """(version, name, applied time as text) rows of ``schema_migrations``."""
        ...

    async def insert_row(self, table: str, row: dict[str, Any]) -> None:
        """INSERT ``row`` (column -> value, datetimes aware) around the store, as old code did."""
        ...


class SqliteBackend:
    """A SQLite file in the test's temporary folder."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cipher = TokenCipher(Fernet.generate_key())

    def new_store(self, cipher: TokenCipher | None = None) -> Store:
        return SqliteStore(self.path, cipher or self.cipher)

    async def raw_dump(self) -> bytes:
        # WAL mode: recent commits may live only in the -wal file, so read every file.
        files = sorted(self.path.parent.glob(self.path.name + "*"))
        return b"".join(file.read_bytes() for file in files)

    async def columns(self, table: str) -> list[str]:
        rows = await self._fetch(f"PRAGMA table_info({table})")
        return [str(row[1]) for row in rows]

    async def index_names(self) -> set[str]:
        rows = await self._fetch("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {str(row[0]) for row in rows if not str(row[0]).startswith("sqlite_autoindex")}

    async def row_count(self, table: str) -> int:
        rows = await self._fetch(f"SELECT count(*) FROM {table}")
        return int(rows[0][0])

    async def applied_migrations(self) -> list[tuple[int, str, str]]:
        rows = await self._fetch("SELECT version, name, applied FROM schema_migrations")
        return sorted((int(row[0]), str(row[1]), str(row[2])) for row in rows)

    async def insert_row(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        params = ", ".join(f":{name}" for name in row)
        # A second, plain connection: the raw look must not go through the store under test.
        with contextlib.closing(sqlite3.connect(self.path)) as db, db:
            db.execute(f"INSERT INTO {table} ({names}) VALUES ({params})", times_as_text(row))

    async def _fetch(self, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.path)) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]


class PostgresBackend:
    """A fresh schema in the test PostgreSQL database, dropped after the test."""

    name = "postgres"

    def __init__(self, admin_dsn: str, schema: str) -> None:
        self.admin_dsn = admin_dsn
        self.schema = schema
        self.dsn = with_search_path(admin_dsn, schema)
        self.cipher = TokenCipher(Fernet.generate_key())

    def new_store(self, cipher: TokenCipher | None = None) -> Store:
        return PostgresStore(self.dsn, cipher or self.cipher, max_pool_size=5)

    async def raw_dump(self) -> bytes:
        rows = []
        tables = ["jobs", "accounts", "api_tokens", "profiles"]
        tables += ["deliveries", "delivery_attempts", "webhook_secrets"]
        for table in tables:
            rows += await self._fetch(f"SELECT t::text FROM {table} t")
        return "\n".join(str(row[0]) for row in rows).encode()

    async def columns(self, table: str) -> list[str]:
        rows = await self._fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            table,
        )
        return [str(row[0]) for row in rows]

    async def index_names(self) -> set[str]:
        rows = await self._fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
        return {str(row[0]) for row in rows if not str(row[0]).endswith("_pkey")}

    async def row_count(self, table: str) -> int:
        rows = await self._fetch(f"SELECT count(*) FROM {table}")
        return int(rows[0][0])

    async def applied_migrations(self) -> list[tuple[int, str, str]]:
        rows = await self._fetch("SELECT version, name, applied::text FROM schema_migrations")
        return sorted((int(row[0]), str(row[1]), str(row[2])) for row in rows)

    async def insert_row(self, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(row)
        params = ", ".join(f"${index}" for index in range(1, len(row) + 1))
        await self._fetch(f"INSERT INTO {table} ({names}) VALUES ({params})", *row.values())

    async def _fetch(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()


def with_search_path(dsn: str, schema: str) -> str:
    """``dsn`` with ``search_path=schema``; asyncpg sends unknown DSN parameters as settings."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "search_path"]
    query.append(("search_path", schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def postgres_dsn() -> str:
    return os.environ.get("MJAPI_TEST_POSTGRES_DSN", DEFAULT_POSTGRES_DSN)


_unreachable: list[str] = []  # the reason, once a connection attempt failed in this session


async def admin_connection() -> Any:
    """A connection to the test server, or skip (fail under CI=true) when it is unreachable."""
    if not _unreachable:
        try:
            return await asyncpg.connect(postgres_dsn(), timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            _unreachable.append(f"{type(error).__name__}: {error}")
    reason = f"PostgreSQL unreachable at MJAPI_TEST_POSTGRES_DSN ({_unreachable[0]})"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI=true requires it")
    pytest.skip(reason)


@pytest.fixture
async def postgres_backend() -> AsyncIterator[PostgresBackend]:
    admin = await admin_connection()
    schema = f"mjapi_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        yield PostgresBackend(postgres_dsn(), schema)
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> SqliteBackend:
    return SqliteBackend(tmp_path / "data" / "mjapi.sqlite3")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each contract test runs once per database."""
    chosen: Backend = request.getfixturevalue(f"{request.param}_backend")
    return chosen


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    """An opened store on a fresh database, closed after the test."""
    opened = backend.new_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
