"""Job, Account and UserProfile <-> database row, shared by the SQLite and PostgreSQL stores.

Scalars are real columns (the ones queries filter on are indexed); the tuples of attachments,
buttons, children, embeds and blend URLs and the free-form ``extra`` are JSON text columns (jsonb
in PostgreSQL, except embeds: json, which keeps Discord's key order). The seed is two columns,
both NULL when there is none. Datetimes are UTC:
``timestamptz`` in PostgreSQL, fixed-width ISO-8601 text in SQLite (so text order is time order).
The Discord token is stored only encrypted, in ``discord_token_enc``.

Partial saves: a progress update changes four or five of a job's 35 columns, and rewriting all
of them (encoding each, touching every index on ``jobs``) was most of a save's cost. So the
stores write only what changed since the version of the job they last wrote: ``changed_fields``
finds it (``is`` first, since ``Job.evolve`` shares unchanged field objects, then ``==``),
``job_values`` encodes only those fields, and ``WrittenJobs`` remembers, per store, the last
version written of each job and when that memory may be trusted (see its docstring).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from mjapi import jsontext
from mjapi.domain.accounts import Account
from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus, Seed, predecessors
from mjapi.storage.base import UserProfile
from mjapi.storage.crypto import TokenCipher

T = TypeVar("T")

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

#: The two columns the one field ``seed`` fills (both NULL when there is none).
_SEED_COLUMNS = ("seed_content", "seed_value")

#: Job fields in JOB_COLUMNS order; each fills the column of its name, except ``seed``, which
#: fills the two adjacent columns ``seed_content`` and ``seed_value``.
JOB_FIELDS: tuple[str, ...] = tuple(
    "seed" if column == "seed_content" else column
    for column in JOB_COLUMNS
    if column != "seed_value"
)

#: The fields ``save_job`` may write: all but the key.
SAVED_FIELDS: tuple[str, ...] = JOB_FIELDS[1:]

#: Statuses of jobs still running, as stored (what ``unfinished_jobs`` selects).
UNFINISHED_STATUSES: tuple[str, ...] = tuple(
    sorted(status.value for status in JobStatus if not status.terminal)
)

#: Stored statuses a job may move from, per status it moves to: one lookup per save.
_ALLOWED_SOURCES: dict[JobStatus, tuple[str, ...]] = {
    status: tuple(sorted(source.value for source in predecessors(status))) for status in JobStatus
}
_ALLOWED_SOURCES_JSON: dict[JobStatus, str] = {
    status: json.dumps(list(sources)) for status, sources in _ALLOWED_SOURCES.items()
}

#: Turns an aware datetime into what a driver stores: ISO text (SQLite), UTC datetime (asyncpg).
TimeEncoder = Callable[[datetime], Any]


class Row(Protocol):
    """What both drivers' rows offer: ``row["column"]`` (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str, /) -> Any: ...


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; naive datetimes are refused since their instant is unknown."""
    if moment.tzinfo is UTC:  # the usual case, where astimezone(UTC) returns moment itself
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware datetimes")
    return moment.astimezone(UTC)


#: The datetime ``time_to_text`` converted last, and its text: a callback's creation and first
#: due time are one datetime object, converted one after the other. One tuple, replaced whole,
#: so that a call in another thread never reads half of an update.
_last_text: tuple[datetime | None, str] = (None, "")


def time_to_text(moment: datetime) -> str:
    """Fixed-width ISO text (always with microseconds) so that SQLite orders it correctly."""
    global _last_text
    last, text = _last_text
    if moment is last:
        return text
    in_utc = moment if moment.tzinfo is UTC else utc(moment)
    # isoformat() without timespec is a fifth cheaper, but leaves out a zero fraction.
    text = in_utc.isoformat()
    if not in_utc.microsecond:
        text = f"{text[:19]}.000000{text[19:]}"
    _last_text = (moment, text)
    return text


def time_from_db(value: datetime | str) -> datetime:
    """A stored time (ISO text from SQLite, datetime from asyncpg) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return utc(moment)


def allowed_sources(status: JobStatus) -> tuple[str, ...]:
    """Stored statuses from which a job may move to ``status`` (save_job's WHERE clause)."""
    return _ALLOWED_SOURCES[status]


def allowed_sources_json(status: JobStatus) -> str:
    """``allowed_sources(status)`` as a JSON array, which SQLite reads with json_each."""
    return _ALLOWED_SOURCES_JSON[status]


def job_to_row(job: Job) -> dict[str, Any]:
    """Column name -> value; datetimes stay datetimes (SQLite turns them into text)."""
    return dict(zip(JOB_COLUMNS, job_values(job, JOB_FIELDS, utc), strict=True))


def job_columns(fields: Iterable[str]) -> tuple[str, ...]:
    """The columns ``fields`` fill, in the order ``job_values`` gives their values."""
    columns: list[str] = []
    for field in fields:
        columns += _SEED_COLUMNS if field == "seed" else (field,)
    return tuple(columns)


def job_values(job: Job, fields: Iterable[str], time: TimeEncoder) -> list[Any]:
    """The stored values of ``job``'s ``fields``, one per column of ``job_columns(fields)``."""
    values: list[Any] = []
    held = job.__dict__  # a dataclass without slots: its fields, read without getattr
    for field in fields:
        value = held[field]
        kind = _FIELD_KINDS.get(field)
        if kind is None:
            values.append(value)
        elif kind is _TIME:
            values.append(time(value))
        elif kind is _SEED:
            values += (None, None) if value is None else (value.content, value.value)
        else:
            values.append(_ENCODERS[field](value))
    return values


def changed_fields(old: Job, new: Job) -> tuple[str, ...]:
    """The SAVED_FIELDS ``new`` stores differently from ``old``, in SAVED_FIELDS order.

    ``is`` settles most fields (``Job.evolve`` shares the unchanged ones' objects); then fields
    of one type that compare equal store the same, except where JSON text tells apart values
    Python calls equal (``1``, ``1.0`` and ``True`` inside; an embed's key order): those are
    compared as the text they store.
    """
    before, after = old.__dict__, new.__dict__
    changed: list[str] = []
    for field in SAVED_FIELDS:
        value, previous = after[field], before[field]
        if value is not previous and _stored_differently(field, value, previous):
            changed.append(field)
    return tuple(changed)


def _stored_differently(field: str, value: Any, previous: Any) -> bool:
    if type(value) is not type(previous) or value != previous:
        return True
    if field in _TEXT_COMPARED:
        encode = _ENCODERS[field]
        return bool(encode(value) != encode(previous))
    return False


def _attachments_text(attachments: tuple[Attachment, ...]) -> str:
    # Attachment.to_json's dict without its dataclasses.asdict() (a deep copy of every field):
    # the fields are scalars, and the keys get sorted anyway.
    return _dump(
        [
            {key: value for key, value in vars(attachment).items() if value is not None}
            for attachment in attachments
        ]
    )


def _buttons_text(buttons: tuple[Button, ...]) -> str:
    return _dump([[button.label, button.custom_id] for button in buttons])


def _children_text(children: tuple[Child, ...]) -> str:
    return _dump([_child_item(child) for child in children])


def _extra_text(extra: dict[str, Any]) -> str:
    return _dump(extra)


def _embeds_text(embeds: tuple[dict[str, Any], ...]) -> str:
    return _dump(list(embeds), sort_keys=False)


def _blend_urls_text(urls: tuple[str, ...]) -> str:
    return _dump(list(urls))


def _status_text(status: JobStatus) -> str:
    return status.value


#: How a field whose column is not its plain value is stored (JSON text, enum value).
_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "status": _status_text,
    "attachments": _attachments_text,
    "buttons": _buttons_text,
    "children": _children_text,
    "extra": _extra_text,
    "embeds": _embeds_text,
    "blend_urls": _blend_urls_text,
}
#: Fields whose equal values may store different text: numbers (``1 == 1.0 == True``) inside
#: attachments and free-form JSON, and the key order of embeds. The other JSON fields hold
#: strings only.
_TEXT_COMPARED = frozenset({"attachments", "extra", "embeds"})
_TIME, _SEED, _ENCODED = object(), object(), object()
#: What ``job_values`` does with a field; a field not listed is stored as is.
_FIELD_KINDS: dict[str, object] = {
    **dict.fromkeys(_ENCODERS, _ENCODED),
    "created": _TIME,
    "updated": _TIME,
    "seed": _SEED,
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


#: Jobs whose last written version a store remembers (least recently written dropped first).
#: Running jobs are what partial saves are for, and they are dropped when they end: this covers
#: ten times the 3,000 concurrent jobs measured, and a forgotten job only costs a full write.
WRITTEN_JOBS = 50_000


class WrittenJobs:
    """The version of each job a store last wrote, for partial saves; one per store instance.

    ``base(jobid)`` is the version a save may diff against (``changed_fields``), or None when
    it must write every field: the job is unknown, or a write of it is in flight. A write runs
    between ``begin`` and one of ``applied`` (its row now holds the job), ``refused`` (its row
    did not change: the status guard said no) and ``lost`` (anything else: an error, a
    cancelled caller, or ``add_child``, whose SQL edits ``children`` itself).

    The remembered version is the row only while nothing else writes it, so:

    - it is replaced only by an applied write that was the job's latest one issued; an applied
      write with a later write of the job in flight forgets the job instead;
    - a lost write forgets it (the row is unknown, or changed in SQL);
    - a job that ended is forgotten (it will not be saved again), and the least recently
      written beyond ``capacity``.

    While a write of the job is in flight a save writes every field. That is enough where
    writes land in call order (SQLite's group commit): the diffed save landed before it, and
    the full one overwrites whatever the in-flight ones wrote. Where they may land in any order
    (PostgreSQL's pooled connections), a save first awaits ``wait_idle``: a diffed save must
    not be overtaken, or what it leaves out would keep the overtaker's values.

    Two saves computed against one remembered version (two events handled at once) are
    therefore correct as well: the second one, issued while the first is in flight, writes in
    full. Only this store's writes are seen: a row changed meanwhile by another store instance
    (another replica, another process on the SQLite file) keeps that change in the columns the
    next diffed save leaves out. mjapi saves a job only from the instance running it; a child
    added by another replica is then kept rather than overwritten.

    Jobs are taken as values: a field object changed in place after its job was saved (a dict
    of ``extra``, an embed) would look unchanged to ``is``. Nothing in mjapi does that, which
    ``Job.evolve``'s sharing of field objects assumes too.
    """

    def __init__(self, capacity: int = WRITTEN_JOBS) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        #: jobid -> [writes in flight, number of the latest one issued]
        self._flights: dict[str, list[int]] = {}
        self._issued = 0
        #: jobid -> futures of ``wait_idle`` callers, resolved when its last write lands
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    async def remember_if_written(self, job: Job, write: Awaitable[bool]) -> bool:
        """Await ``write``, a write of ``job`` (True when its row now holds ``job``, False when
        the row did not change), and remember the outcome (see the class)."""
        jobid = job.jobid
        number = self.begin(jobid)
        try:
            written = await write
        except BaseException:
            self.lost(jobid, number)
            raise
        if written:
            self.applied(job, number)
        else:
            self.refused(jobid, number)
        return written

    async def forget_after(self, jobid: str, write: Awaitable[T]) -> T:
        """Await ``write``, which changes the job's row in SQL: forget what it held."""
        number = self.begin(jobid)
        try:
            return await write
        finally:
            self.lost(jobid, number)

    def base(self, jobid: str) -> Job | None:
        """The job as its row holds it, or None: write it in full."""
        if jobid in self._flights:
            return None
        return self._jobs.get(jobid)

    async def wait_idle(self, jobid: str) -> None:
        """Return once no write of ``jobid`` is in flight (call ``begin`` before awaiting)."""
        while jobid in self._flights:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(jobid, []).append(waiter)
            await waiter

    def begin(self, jobid: str) -> int:
        """Record a write of ``jobid`` as in flight; its number, for the outcome."""
        self._issued += 1
        flight = self._flights.get(jobid)
        if flight is None:
            self._flights[jobid] = [1, self._issued]
        else:
            flight[0] += 1
            flight[1] = self._issued
        return self._issued

    def applied(self, job: Job, number: int) -> None:
        """Write ``number`` stored ``job``: remember it, if nothing issued later may change it."""
        jobid = job.jobid
        if self._land(jobid, number) and not job.terminal:
            self._jobs[jobid] = job
            self._jobs.move_to_end(jobid)
            if len(self._jobs) > self._capacity:
                self._jobs.popitem(last=False)
        else:
            self._jobs.pop(jobid, None)

    def refused(self, jobid: str, number: int) -> None:
        """Write ``number`` changed nothing: what is remembered still holds."""
        self._land(jobid, number)

    def lost(self, jobid: str, number: int) -> None:
        """Write ``number`` left the row unknown: forget the job."""
        self._land(jobid, number)
        self._jobs.pop(jobid, None)

    def _land(self, jobid: str, number: int) -> bool:
        """Take write ``number`` out of flight; whether it was the job's latest one issued."""
        flight = self._flights[jobid]
        latest = flight[1] == number
        flight[0] -= 1
        if not flight[0]:
            del self._flights[jobid]
            for waiter in self._waiters.pop(jobid, ()):
                if not waiter.done():  # its caller may have been cancelled
                    waiter.set_result(None)
        return latest
