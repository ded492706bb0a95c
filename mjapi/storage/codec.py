"""Job, Account and UserProfile <-> database row, shared by the SQLite and PostgreSQL stores.

Scalars are real columns (the ones queries filter on are indexed); the tuples of attachments,
buttons, children, embeds and blend URLs and the free-form ``extra`` are JSON text columns (jsonb
in PostgreSQL, except embeds: json, which keeps Discord's key order). The seed is two columns,
both NULL when there is none. Datetimes are UTC:
``timestamptz`` in PostgreSQL, fixed-width ISO-8601 text in SQLite (so text order is time order).
The Discord token is stored only encrypted, in ``discord_token_enc``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from mjapi import jsontext
from mjapi.domain.accounts import Account
from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus, Seed, predecessors
from mjapi.storage.base import UserProfile
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
    # added by migration 0002
    "embeds",
    "seed_content",
    "seed_value",
    "blend_urls",
    "blend_dimensions",
    "describe_url",
    "message_flags",
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

#: Column order of ``profiles``; PostgreSQL's positional parameters $1..$N follow it.
PROFILE_COLUMNS: tuple[str, ...] = ("user_id", "created", "name", "reply_url")

_CONVERTED_JOB_COLUMNS = frozenset(
    {"attachments", "buttons", "children", "extra", "embeds", "blend_urls"}
    | {"status", "created", "updated", "seed_content", "seed_value"}
)
#: Job columns whose value is stored as is (no JSON, no time or enum conversion), each named
#: like its Job field.
_PLAIN_JOB_COLUMNS = tuple(c for c in JOB_COLUMNS if c not in _CONVERTED_JOB_COLUMNS)

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
        **_seed_to_row(job.seed),
        "status": job.status.value,
        "created": utc(job.created),
        "updated": utc(job.updated),
        "attachments": _dump([attachment.to_json() for attachment in job.attachments]),
        "buttons": _dump([[button.label, button.custom_id] for button in job.buttons]),
        "children": _dump([_child_item(child) for child in job.children]),
        "extra": _dump(job.extra),
        "embeds": _dump(list(job.embeds), sort_keys=False),
        "blend_urls": _dump(list(job.blend_urls)),
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
        embeds=tuple(json.loads(row["embeds"])),
        seed=_seed_from_row(row),
        blend_urls=tuple(json.loads(row["blend_urls"])),
    )


def child_to_json(child: Child) -> str:
    """One entry of the ``children`` array, as JSON (what ``add_child`` appends in SQL)."""
    return _dump(_child_item(child))


def _child_item(child: Child) -> list[str | None]:
    return [child.button, child.jobid, child.message_id]


def _seed_to_row(seed: Seed | None) -> dict[str, Any]:
    if seed is None:
        return {"seed_content": None, "seed_value": None}
    return {"seed_content": seed.content, "seed_value": seed.value}


def _seed_from_row(row: Row) -> Seed | None:
    # The schema's CHECK keeps both columns NULL or both set.
    content, value = row["seed_content"], row["seed_value"]
    return None if content is None else Seed(content, value)


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


def profile_to_row(profile: UserProfile) -> dict[str, Any]:
    """Column name -> value."""
    return {
        "user_id": profile.user_id,
        "created": utc(profile.created),
        "name": profile.name,
        "reply_url": profile.reply_url,
    }


def profile_from_row(row: Row) -> UserProfile:
    """The UserProfile a ``SELECT * FROM profiles`` row holds."""
    return UserProfile(
        user_id=row["user_id"],
        created=time_from_db(row["created"]),
        name=row["name"],
        reply_url=row["reply_url"],
    )


def times_as_text(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every datetime turned into ISO text: SQLite has no time type."""
    return {k: time_to_text(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _dump(value: Any, *, sort_keys: bool = True) -> str:
    # Compact and key-sorted: the same job always encodes to the same text. Embeds keep
    # Discord's key order instead (sort_keys=False), so they read back exactly as received.
    # NaN/Infinity are written as null (see jsontext): PostgreSQL would reject the literals.
    return jsontext.dumps(value, sort_keys=sort_keys)
