"""Job and Account <-> database row, shared by the SQLite and PostgreSQL stores.

Scalars are real columns (the ones queries filter on are indexed); the tuples of attachments,
buttons and children and the free-form ``extra`` are JSON text columns. Datetimes are UTC:
``timestamptz`` in PostgreSQL, fixed-width ISO-8601 text in SQLite (so text order is time order).
The Discord token is stored only encrypted, in ``discord_token_enc``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from mjapi.domain.accounts import Account
from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus, predecessors
from mjapi.storage.crypto import TokenCipher

#: Column order of ``jobs``; PostgreSQL's positional parameters $1..$N follow it.
JOB_COLUMNS: tuple[str, ...] = (
    "jobid",
    "owner",
    "verb",
    "status",
    "created",
    "updated",
    "channel",
    "discord",
    "max_jobs",
    "prompt",
    "server",
    "reply_url",
    "reply_ref",
    "message_id",
    "content",
    "timestamp",
    "progress",
    "attachments",
    "buttons",
    "children",
    "parent_job_id",
    "button",
    "error",
    "error_details",
    "nonce",
    "interaction_id",
    "job_hash",
    "extra",
)

#: Column order of ``accounts``; PostgreSQL's positional parameters $1..$N follow it.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "channel",
    "owner",
    "discord_token_enc",
    "discord_user_id",
    "max_jobs",
    "created",
    "updated",
    "server",
    "pending_mod_message",
    "disabled_reason",
)

_JSON_COLUMNS = frozenset({"attachments", "buttons", "children", "extra"})
#: Job columns whose value is stored as is (no JSON, no time or enum conversion).
_PLAIN_JOB_COLUMNS = tuple(
    column
    for column in JOB_COLUMNS
    if column not in _JSON_COLUMNS | {"status", "created", "updated"}
)

#: Statuses of jobs still running, as stored (what ``unfinished_jobs`` selects).
UNFINISHED_STATUSES: tuple[str, ...] = tuple(
    sorted(status.value for status in JobStatus if not status.terminal)
)


class Row(Protocol):
    """What both drivers' rows offer: ``row["column"]`` (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; naive datetimes are refused since their instant is unknown."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def time_to_text(moment: datetime) -> str:
    """Fixed-width ISO text (always with microseconds) so that SQLite orders it correctly."""
    return utc(moment).isoformat(timespec="microseconds")


def time_from_db(value: datetime | str) -> datetime:
    """A stored time (ISO text from SQLite, datetime from asyncpg) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return utc(moment)


def allowed_sources(status: JobStatus) -> list[str]:
    """Stored statuses from which a job may move to ``status`` (save_job's WHERE clause)."""
    return sorted(source.value for source in predecessors(status))


def job_to_row(job: Job) -> dict[str, Any]:
    """Column name -> value; datetimes stay datetimes (SQLite turns them into text)."""
    return {
        **{column: getattr(job, column) for column in _PLAIN_JOB_COLUMNS},
        "status": job.status.value,
        "created": utc(job.created),
        "updated": utc(job.updated),
        "attachments": _dump([attachment.to_json() for attachment in job.attachments]),
        "buttons": _dump([[button.label, button.custom_id] for button in job.buttons]),
        "children": _dump([[c.button, c.jobid, c.message_id] for c in job.children]),
        "extra": _dump(job.extra),
    }


def job_from_row(row: Row) -> Job:
    """The Job a ``SELECT * FROM jobs`` row holds."""
    return Job(
        **{column: row[column] for column in _PLAIN_JOB_COLUMNS},
        status=JobStatus(row["status"]),
        created=time_from_db(row["created"]),
        updated=time_from_db(row["updated"]),
        attachments=tuple(Attachment.from_json(item) for item in json.loads(row["attachments"])),
        buttons=tuple(Button(label, custom_id) for label, custom_id in json.loads(row["buttons"])),
        children=tuple(Child(*item) for item in json.loads(row["children"])),
        extra=json.loads(row["extra"]),
    )


def account_to_row(account: Account, cipher: TokenCipher) -> dict[str, Any]:
    """Column name -> value, with the Discord token encrypted."""
    return {
        "channel": account.channel,
        "owner": account.owner,
        "discord_token_enc": cipher.encrypt(account.discord_token),
        "discord_user_id": account.discord_user_id,
        "max_jobs": account.max_jobs,
        "created": utc(account.created),
        "updated": utc(account.updated),
        "server": account.server,
        "pending_mod_message": account.pending_mod_message,
        "disabled_reason": account.disabled_reason,
    }


def account_from_row(row: Row, cipher: TokenCipher) -> Account:
    """The Account a ``SELECT * FROM accounts`` row holds, with its token decrypted."""
    return Account(
        channel=row["channel"],
        owner=row["owner"],
        discord_token=cipher.decrypt(row["discord_token_enc"]),
        discord_user_id=row["discord_user_id"],
        max_jobs=row["max_jobs"],
        created=time_from_db(row["created"]),
        updated=time_from_db(row["updated"]),
        server=row["server"],
        pending_mod_message=row["pending_mod_message"],
        disabled_reason=row["disabled_reason"],
    )


def times_as_text(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every datetime turned into ISO text: SQLite has no time type."""
    return {k: time_to_text(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _dump(value: Any) -> str:
    # Compact and key-sorted: the same job always encodes to the same text. NaN/Infinity are
    # refused because they are not JSON (PostgreSQL would reject them, SQLite would not).
    return json.dumps(
        value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    )
