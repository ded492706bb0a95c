"""The Store on one SQLite file: one connection in its own thread, WAL journal, group commit.

Every method is one hop to the database thread (``worker.SqliteWorker``): a single query, or a
whole transaction as one function run there. The hot writes -- ``insert_job``, ``save_job``,
``add_child``, ``record_attempt`` -- go through ``worker.GroupCommit``: calls that arrive
while a transaction is being written are committed together in the next one, with per-call
results as if each had run alone (savepoints only when one of them fails). Reads run between
batches, never inside another caller's transaction. ``batch_stats`` counts the batches (for
benchmarks).

``save_job`` writes only the columns that changed since this store last wrote the job
(``codec.WrittenJobs`` remembers that version; group commit runs the writes of one job in call
order, which is what makes a full write enough while another write of the job is in flight).
Under load a batch runs the saves that write the same columns together, as one multi-row UPDATE
and one multi-row INSERT of their callbacks (``sqlite/together.py``): every write names its job
(``worker.Keyed``), so writes of different jobs may be reordered, never two of one job. The UPDATE
for each set of columns is built once from the ``save_job`` template and kept, and sqlite3
keeps each prepared. Parameters of the hot statements are positional tuples, encoded in the
event loop before the write is queued. The hot statements return no rows (``rowcount`` tells
whether they changed one): every sqlite3 step gives the GIL up and takes it back, and while the
event loop is busy each take waits (``gc_tuning``'s docstring).

aiosqlite is not used: it costs one event-loop round trip per statement and cannot run a
function of ours in its thread, which group commit needs (``worker``'s docstring has more).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Child, Job
from mjapi.errors import DuplicateKey
from mjapi.storage.base import ApiToken, UserProfile
from mjapi.storage.codec import (
    JOB_FIELDS,
    SAVED_FIELDS,
    UNFINISHED_STATUSES,
    WrittenJobs,
    account_from_row,
    account_to_row,
    allowed_sources_json,
    changed_fields,
    child_to_json,
    job_columns,
    job_from_row,
    job_values,
    profile_from_row,
    profile_to_row,
    time_to_text,
    times_as_text,
)
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.delivery_codec import (
    DELIVERY_COLUMNS,
    attempt_values,
    check_limit,
    check_reports,
    deliveries_from_rows,
    delivery_values,
)
from mjapi.storage.queries import Migration, load_migrations, load_queries
from mjapi.storage.sqlite.attempts import AttemptRecorder, AttemptRows, AttemptStatements
from mjapi.storage.sqlite.together import SavesTogether, saves_together
from mjapi.storage.sqlite.worker import (
    BatchStats,
    GroupCommit,
    Keyed,
    SqliteWorker,
    transaction,
)

log = logging.getLogger(__name__)

QUERIES = load_queries("mjapi.storage.sqlite")
MIGRATIONS = load_migrations("mjapi.storage.sqlite")

#: UPDATE ... FROM (3.33), RETURNING (3.35), STRICT tables (3.37), json_each built in and the
#: ->> operator (3.38).
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

Rows = list[sqlite3.Row]

#: Parameters of a named query: by name (``:name``) or by position (``?N``).
Params = dict[str, Any] | Sequence[Any]

#: A new delivery's row and its attempts' rows, as bound to insert_delivery / insert_attempt.
DeliveryRows = tuple[tuple[Any, ...], list[tuple[Any, ...]]]

#: What a save writes when nothing changed: one column, to its own value (an UPDATE needs one),
#: so that the status guard still answers.
_NOTHING_CHANGED = ("status",)


_ATTEMPT_STATEMENTS = AttemptStatements(
    set_status=QUERIES["set_delivery_status"],
    insert_attempt=QUERIES["insert_attempt"],
    set_statuses=QUERIES["set_delivery_statuses"],
    insert_attempts=QUERIES["insert_attempts"],
    drop_superseded=QUERIES["drop_superseded"],
)


class SqliteStore:
    """The Store on a SQLite file (the default, embedded database)."""

    def __init__(self, path: Path, cipher: TokenCipher) -> None:
        self.path = path
        self._cipher = cipher
        self._worker = SqliteWorker(path)
        self._writes = GroupCommit(self._worker)
        self._written = WrittenJobs()
        self._attempts = AttemptRecorder(self._writes, _ATTEMPT_STATEMENTS)

    @property
    def batch_stats(self) -> BatchStats:
        """Group-commit counters since this store was created (a gauge for benchmarks)."""
        return self._writes.stats

    async def open(self) -> None:
        """Connect (creating the file and its folder) and apply pending migrations."""
        if self._worker.is_open:
            raise RuntimeError(f"{self.path} is already open")
        _check_sqlite_version()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._worker.open(_apply_pragmas)
        try:
            await self._migrate()
        except BaseException:
            await self._worker.close()
            raise

    async def close(self) -> None:
        """Close once the writes already queued are committed."""
        try:
            await self._writes.drain()
        finally:
            await self._worker.close()  # the thread and connection go even if draining failed

    # -- jobs

    async def insert_job(self, job: Job) -> None:
        params = job_values(job, JOB_FIELDS, time_to_text)
        insert = self._writes.write(Keyed(job.jobid, partial(_inserted, params)))
        if not await self._written.remember_if_written(job, insert):
            raise DuplicateKey(f"job {job.jobid} already exists")

    async def get_job(self, jobid: str) -> Job | None:
        rows = await self._query("get_job", {"jobid": jobid})
        return job_from_row(rows[0]) if rows else None

    async def save_job(self, job: Job, delivery: Delivery | None = None) -> bool:
        base = self._written.base(job.jobid)
        fields = SAVED_FIELDS if base is None else changed_fields(base, job) or _NOTHING_CHANGED
        values = job_values(job, fields, time_to_text)
        params = [job.jobid, allowed_sources_json(job.status), *values]
        rows = None
        if delivery is not None:
            check_reports(job, delivery)
            rows = _delivery_rows(delivery)
        alone = partial(_save_job, _save_job_sql(fields), params, rows)
        if rows is None:
            write = Keyed(job.jobid, alone, _saves_together(fields), (params, None))
        elif not rows[1]:
            write = Keyed(job.jobid, alone, _saves_together(fields), (params, rows[0]))
        else:  # a new delivery with attempts already (imported): rare enough to go alone
            write = Keyed(job.jobid, alone)
        return await self._written.remember_if_written(job, self._writes.write(write))

    async def unfinished_jobs(self, owner: int | None = None) -> list[Job]:
        params: dict[str, Any] = {"statuses": json.dumps(UNFINISHED_STATUSES)}
        if owner is None:
            rows = await self._query("unfinished_jobs", params)
        else:
            rows = await self._query("unfinished_jobs_of_owner", {**params, "owner": owner})
        return [job_from_row(row) for row in rows]

    async def add_child(self, parent_jobid: str, child: Child) -> bool:
        params = {"jobid": parent_jobid, "child": child_to_json(child)}
        add = self._writes.write(Keyed(parent_jobid, partial(_fetch, "add_child", params)))
        return bool(await self._written.forget_after(parent_jobid, add))

    # -- accounts

    async def put_account(self, account: Account) -> bool:
        params = times_as_text(account_to_row(account, self._cipher))
        return await self._worker.run(transaction(partial(_put_account, params)))

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
        self,
        event_id: str,
        attempt: Attempt,
        status: DeliveryStatus,
        next_attempt: datetime,
        superseded: Sequence[str] = (),
    ) -> None:
        """Recorded together with the attempts recorded meanwhile (``sqlite/attempts.py``).

        For a delivery already stored: its ``save_job`` has returned (a batch may run the
        attempts before saves queued around them).

        A caller cancelled after calling does not take its attempt back: the attempt happened,
        and it is written with the others.
        """
        new_status = (event_id, status.value, time_to_text(next_attempt))
        row = attempt_values(event_id, attempt, time_to_text)
        await self._attempts.record(AttemptRows(new_status, row, superseded))

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
        replay = partial(_deliveries_of, "replay_delivery", params)
        found = await self._worker.run(transaction(replay))
        return found[0] if found else None

    async def prune_deliveries(self, before: datetime) -> int:
        return len(await self._query("prune_deliveries", {"before": time_to_text(before)}))

    async def webhook_secret(self, user_id: int) -> str | None:
        rows = await self._query("get_webhook_secret", {"user_id": user_id})
        return self._cipher.decrypt(rows[0]["secret_enc"]) if rows else None

    async def put_webhook_secret(self, user_id: int, secret: str) -> None:
        params = {"user_id": user_id, "secret_enc": self._cipher.encrypt(secret)}
        await self._query("upsert_webhook_secret", params)

    async def _deliveries(self, name: str, params: dict[str, Any]) -> list[Delivery]:
        """The deliveries query ``name`` selects, with their attempts.

        One read transaction around both queries: an attempt recorded meanwhile (by another
        process on the file) cannot show up next to the status it replaced.
        """
        read = partial(_deliveries_of, name, params)
        return await self._worker.run(transaction(read, "BEGIN"))

    # -- plumbing

    async def _query(self, name: str, params: dict[str, Any]) -> Rows:
        """Run one named query as its own (autocommit) transaction."""
        return await self._worker.run(partial(_fetch, name, params))

    async def _migrate(self) -> None:
        await self._query("create_migrations_table", {})
        for migration in MIGRATIONS:
            if not await self._worker.run(transaction(partial(_apply_migration, migration))):
                continue
            log.info(
                "applied migration %04d_%s to %s",
                migration.version,
                migration.name,
                self.path,
                extra={"action": "migration_applied", "version": migration.version},
            )


# -- what runs in the database thread (each takes the connection last, for partial())


def _apply_pragmas(conn: sqlite3.Connection) -> None:
    for pragma in _PRAGMAS:
        conn.execute(pragma)


def _fetch(name: str, params: Params, conn: sqlite3.Connection) -> Rows:
    """Run one named query, its rows."""
    return conn.execute(QUERIES[name], params).fetchall()


def _changed(sql: str, params: Sequence[Any], conn: sqlite3.Connection) -> int:
    """Rows an INSERT/UPDATE without RETURNING changed.

    The statements written with every job change use this rather than RETURNING + fetchall:
    each sqlite3 step and reset gives the GIL up and takes it back, and under load the event
    loop holds it, so every hand-off the database thread saves shortens its batches.
    """
    return conn.execute(sql, params).rowcount


def _inserted(params: Sequence[Any], conn: sqlite3.Connection) -> bool:
    """Insert a job; False when its jobid exists."""
    return bool(conn.execute(QUERIES["insert_job"], params).fetchall())


def _save_job(
    sql: str, params: Sequence[Any], delivery: DeliveryRows | None, conn: sqlite3.Connection
) -> bool:
    """The job's conditional UPDATE, then its callback; the caller holds a transaction.

    A refused change stores no callback; a callback that cannot be stored raises, and the
    caller's savepoint or transaction undoes the change with it (the outbox).
    """
    if not _changed(sql, params, conn):
        return False
    if delivery is not None:
        _insert_delivery(delivery, conn)
    return True


@lru_cache(maxsize=256)
def _save_job_sql(fields: tuple[str, ...]) -> str:
    """The ``save_job`` UPDATE writing ``fields`` (parameters: jobid, allowed, their values).

    Kept per set of fields: a few sets recur (progress, completion, failure ...), so the text
    is built once each and sqlite3's statement cache keeps each one prepared.
    """
    columns = job_columns(fields)
    assignments = ", ".join(f"{column} = ?{n}" for n, column in enumerate(columns, start=3))
    return QUERIES["save_job"].format(assignments=assignments)


@lru_cache(maxsize=256)
def _saves_together(fields: tuple[str, ...]) -> SavesTogether:
    """How saves writing ``fields`` run together in a batch (``sqlite/together.py``).

    Kept per set of fields, like ``_save_job_sql``: equal objects put saves into one group.
    """
    columns = job_columns(fields)
    insert = QUERIES["insert_deliveries"]
    return saves_together(QUERIES["save_jobs"], columns, insert, len(DELIVERY_COLUMNS))


def _delivery_rows(delivery: Delivery) -> DeliveryRows:
    attempts = [attempt_values(delivery.event_id, a, time_to_text) for a in delivery.attempts]
    return delivery_values(delivery, time_to_text), attempts


def _put_account(params: dict[str, Any], conn: sqlite3.Connection) -> bool:
    existed = _fetch("account_exists", {"channel": params["channel"]}, conn)
    _fetch("upsert_account", params, conn)
    return not existed


def _insert_delivery(delivery: DeliveryRows, conn: sqlite3.Connection) -> None:
    """Insert a new delivery and its attempts, if any; the caller holds a transaction."""
    row, attempts = delivery
    if not _changed(QUERIES["insert_delivery"], row, conn):
        raise DuplicateKey(f"delivery {row[0]} already exists")
    for attempt in attempts:
        _insert_attempt(attempt, conn)


def _insert_attempt(row: Sequence[Any], conn: sqlite3.Connection) -> None:
    """Insert one attempt (``row`` in ATTEMPT_COLUMNS order)."""
    if not _changed(QUERIES["insert_attempt"], row, conn):
        raise DuplicateKey(f"attempt {row[1]} of delivery {row[0]} already exists")


def _deliveries_of(name: str, params: dict[str, Any], conn: sqlite3.Connection) -> list[Delivery]:
    """Deliveries of the rows query ``name`` returns, their attempts read in one query.

    The caller holds a transaction, so both queries see the same state.
    """
    rows = _fetch(name, params, conn)
    if not rows:
        return []
    event_ids = json.dumps([row["event_id"] for row in rows])
    attempts = _fetch("attempts_of_deliveries", {"event_ids": event_ids}, conn)
    return deliveries_from_rows(rows, attempts)


def _apply_migration(migration: Migration, conn: sqlite3.Connection) -> bool:
    """Apply one migration unless it is already recorded; the caller holds the write lock.

    Read inside the write lock: another process may have applied it meanwhile.
    """
    applied = _fetch("applied_migrations", {}, conn)
    if any(row["version"] == migration.version for row in applied):
        return False
    for statement in split_statements(migration.sql):
        conn.execute(statement)
    _fetch("record_migration", {"version": migration.version, "name": migration.name}, conn)
    return True


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
