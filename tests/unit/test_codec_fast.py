"""The codec's fast paths equal the plain code they replace, and partial saves' bookkeeping.

Each optimised function is checked against the implementation it replaced (kept here, verbatim
in behaviour) on random inputs: times in every zone, jobs of every shape. ``changed_fields``
is checked for what partial saves rely on: a field it leaves out stores exactly as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mjapi import jsontext
from mjapi.domain.deliveries import Attempt, DeliveryStatus
from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus, Seed, predecessors
from mjapi.domain.model import iso_ms
from mjapi.storage import codec
from mjapi.storage.codec import (
    JOB_COLUMNS,
    JOB_FIELDS,
    SAVED_FIELDS,
    WrittenJobs,
    allowed_sources,
    allowed_sources_json,
    changed_fields,
    job_columns,
    job_to_row,
    job_values,
    time_to_text,
    utc,
)
from mjapi.storage.delivery_codec import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    attempt_to_row,
    attempt_values,
    delivery_to_row,
    delivery_values,
)
from tests.factories import make_delivery, make_job

# -- the implementations replaced, as they were


def old_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def old_time_to_text(moment: datetime) -> str:
    return old_utc(moment).isoformat(timespec="microseconds")


def old_iso_ms(moment: datetime) -> str:
    in_utc = moment.astimezone(UTC)
    return in_utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{in_utc.microsecond // 1000:03d}Z"


def old_job_to_row(job: Job) -> dict[str, Any]:
    def dump(value: Any, sort_keys: bool = True) -> str:
        return jsontext.dumps(value, sort_keys=sort_keys)

    converted = {"attachments", "buttons", "children", "extra", "embeds", "blend_urls"}
    converted |= {"status", "created", "updated", "seed_content", "seed_value"}
    seed = job.seed
    return {
        **{column: getattr(job, column) for column in JOB_COLUMNS if column not in converted},
        "seed_content": None if seed is None else seed.content,
        "seed_value": None if seed is None else seed.value,
        "status": job.status.value,
        "created": old_utc(job.created),
        "updated": old_utc(job.updated),
        "attachments": dump([attachment.to_json() for attachment in job.attachments]),
        "buttons": dump([[button.label, button.custom_id] for button in job.buttons]),
        "children": dump([[c.button, c.jobid, c.message_id] for c in job.children]),
        "extra": dump(job.extra),
        "embeds": dump(list(job.embeds), sort_keys=False),
        "blend_urls": dump(list(job.blend_urls)),
    }


def outcome(function: Callable[[datetime], Any], moment: datetime) -> tuple[str, Any]:
    """What ``function(moment)`` comes to: its value, or the type of what it raised."""
    try:
        return "value", function(moment)
    except (ValueError, OverflowError) as error:
        return "raised", type(error)


# -- times

FIXED_OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
).map(timezone)
#: UTC itself, and zero offsets that are not the UTC object (the slow path must agree)
ZONES = st.sampled_from([UTC, timezone(timedelta(0)), timezone(timedelta(0), "Z")]) | FIXED_OFFSETS
AWARE = st.datetimes(timezones=ZONES | st.timezones())


@given(moment=AWARE)
@example(moment=datetime(2025, 1, 1, tzinfo=UTC))  # no fraction: still six digits
@example(moment=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))  # before year 1
@example(moment=datetime(999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2))))
def test_time_to_text_and_utc_equal_the_old_code(moment: datetime) -> None:
    assert outcome(time_to_text, moment) == outcome(old_time_to_text, moment)
    assert outcome(time_to_text, moment) == outcome(old_time_to_text, moment)  # cached
    new, old = outcome(utc, moment), outcome(old_utc, moment)
    assert new == old
    if new[0] == "value":
        assert new[1].tzinfo is UTC and new[1].isoformat() == old[1].isoformat()


def test_time_to_text_never_serves_the_text_of_another_instant() -> None:
    """The last text is kept: the next time, in any zone or none, must not get it wrongly."""
    first = datetime(2025, 1, 1, 12, tzinfo=UTC)
    same_instant = first.astimezone(timezone(timedelta(hours=2)))
    later = first + timedelta(microseconds=1)
    texts = [time_to_text(m) for m in (first, first, same_instant, later, first)]
    assert texts == [old_time_to_text(m) for m in (first, first, same_instant, later, first)]
    assert texts[3] == "2025-01-01T12:00:00.000001+00:00"


@given(moment=st.datetimes())
def test_naive_times_are_still_refused(moment: datetime) -> None:
    with pytest.raises(ValueError, match="naive"):
        time_to_text(moment)
    with pytest.raises(ValueError, match="naive"):
        utc(moment)


@given(moment=AWARE | st.datetimes())
@example(moment=datetime(999, 1, 1, tzinfo=UTC))  # strftime leaves such a year unpadded
@example(moment=datetime(2023, 9, 9, 2, 4, 49, 999999, tzinfo=UTC))  # truncated, not rounded
def test_iso_ms_equals_the_old_code(moment: datetime) -> None:
    """Naive datetimes too: both read them as local time."""
    assert outcome(iso_ms, moment) == outcome(old_iso_ms, moment)


# -- statuses


@pytest.mark.parametrize("status", list(JobStatus))
def test_allowed_sources_are_the_sorted_predecessors(status: JobStatus) -> None:
    expected = sorted(source.value for source in predecessors(status))
    assert list(allowed_sources(status)) == expected
    assert json.loads(allowed_sources_json(status)) == expected


# -- rows

TEXTS = st.none() | st.sampled_from(["", "a", "b", "ünï 🐈"])
NUMBERS = st.sampled_from([0, 1, 1.0, True, 2, -1, 2**40])
JSON_VALUES = st.recursive(
    st.none() | NUMBERS | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=6,
)
TIMES = st.sampled_from(
    [datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC), datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)]
).flatmap(lambda moment: st.sampled_from([moment, moment.astimezone(timezone.max)]))
ATTACHMENTS = st.builds(
    Attachment,
    id=st.sampled_from(["1", "2"]),
    url=st.just("https://cdn.test/a.png"),
    filename=st.just("a.png"),
    proxy_url=TEXTS,
    content_type=TEXTS,
    width=st.none() | NUMBERS,
    height=st.none() | NUMBERS,
    size=st.none() | NUMBERS,
)
KEYS = st.permutations(["a", "b", "c"])
EMBEDS = st.lists(st.tuples(KEYS, st.lists(JSON_VALUES, min_size=3, max_size=3)), max_size=2).map(
    lambda embeds: tuple(dict(zip(keys, values, strict=True)) for keys, values in embeds)
)

#: A strategy per saved field: small domains, so that equal values (distinct objects, other
#: types, other key orders) come up often.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "owner": st.sampled_from([1, 2]),
    "verb": st.sampled_from(["imagine", "button"]),
    "status": st.sampled_from(list(JobStatus)),
    "created": TIMES,
    "updated": TIMES,
    "channel": st.sampled_from(["100", "200"]),
    "discord": st.sampled_from(["abc...secured...xyz", "def...secured...uvw"]),
    "max_jobs": st.sampled_from([1, 3]),
    "prompt": TEXTS,
    "server": TEXTS,
    "reply_url": TEXTS,
    "reply_ref": TEXTS,
    "message_id": TEXTS,
    "content": TEXTS,
    "timestamp": TEXTS,
    "progress": st.none() | st.sampled_from([0, 31, 100]),
    "attachments": st.lists(ATTACHMENTS, max_size=2).map(tuple),
    "buttons": st.lists(st.builds(Button, TEXTS.filter(bool), TEXTS.filter(bool)), max_size=2).map(
        tuple
    ),
    "children": st.lists(st.builds(Child, st.just("U1"), st.just("job-c"), TEXTS), max_size=2).map(
        tuple
    ),
    "parent_job_id": TEXTS,
    "button": TEXTS,
    "error": TEXTS,
    "error_details": TEXTS,
    "nonce": TEXTS,
    "interaction_id": TEXTS,
    "job_hash": TEXTS,
    "extra": st.dictionaries(st.sampled_from(["a", "b"]), JSON_VALUES, max_size=2),
    "embeds": EMBEDS,
    "seed": st.none() | st.builds(Seed, st.sampled_from(["c", "d"]), st.sampled_from([1, 2])),
    "blend_urls": st.lists(st.sampled_from(["u1", "u2"]), max_size=2).map(tuple),
    "blend_dimensions": TEXTS,
    "describe_url": TEXTS,
    "message_flags": st.sampled_from([0, 64]),
}
CHANGES = st.fixed_dictionaries({}, optional=FIELD_VALUES)
JOBS = CHANGES.map(lambda changes: make_job(**changes))


def test_every_saved_field_has_a_strategy_and_a_column() -> None:
    assert set(FIELD_VALUES) == set(SAVED_FIELDS)
    assert {field.name for field in dataclasses.fields(Job)} == set(JOB_FIELDS)
    assert job_columns(JOB_FIELDS) == JOB_COLUMNS


@given(job=JOBS)
def test_job_to_row_equals_the_old_code(job: Job) -> None:
    assert job_to_row(job) == old_job_to_row(job)
    # values compared as stored: the same types too (1 and True are equal in Python)
    assert [repr(value) for value in job_to_row(job).values()] == [
        repr(old_job_to_row(job)[column]) for column in JOB_COLUMNS
    ]


def stored(job: Job, field: str) -> list[str]:
    """What a store writes for ``field`` of ``job``, with types (repr) as SQLite would bind."""
    return [repr(value) for value in job_values(job, (field,), time_to_text)]


@given(old=JOBS, changes=CHANGES)
def test_a_field_changed_fields_leaves_out_stores_as_before(
    old: Job, changes: dict[str, Any]
) -> None:
    new = old.evolve(**changes)
    changed = changed_fields(old, new)
    assert list(changed) == [field for field in SAVED_FIELDS if field in changed]  # in order
    for field in SAVED_FIELDS:
        if field not in changed:
            assert stored(new, field) == stored(old, field), field
        else:  # and nothing is written for nothing
            same_types = type(getattr(new, field)) is type(getattr(old, field))
            assert stored(new, field) != stored(old, field) or not same_types, field


def test_equal_values_that_store_differently_are_changes() -> None:
    old = make_job(
        extra={"n": 1},
        embeds=({"a": 1, "b": 2},),
        attachments=(Attachment("1", "u", "f", width=1),),
    )
    assert changed_fields(old, old.evolve(extra={"n": 1})) == ()  # equal copy: not a change
    assert changed_fields(old, old.evolve(extra={"n": True})) == ("extra",)
    assert changed_fields(old, old.evolve(extra={"n": 1.0})) == ("extra",)
    assert changed_fields(old, old.evolve(embeds=({"b": 2, "a": 1},))) == ("embeds",)
    changed = old.evolve(attachments=(Attachment("1", "u", "f", width=True),))
    assert changed_fields(old, changed) == ("attachments",)


def test_a_same_instant_in_another_zone_is_no_change() -> None:
    old = make_job()
    elsewhere = old.evolve(updated=old.updated.astimezone(timezone(timedelta(hours=-5))))
    assert changed_fields(old, elsewhere) == ()


def test_a_naive_time_is_a_change_and_refused_when_encoded() -> None:
    old = make_job()
    naive = old.evolve(updated=old.updated.replace(tzinfo=None))
    assert changed_fields(old, naive) == ("updated",)
    with pytest.raises(ValueError, match="naive"):
        job_values(naive, ("updated",), time_to_text)


def test_the_seed_fills_two_columns() -> None:
    job = make_job(seed=Seed("**cat** --seed 7", 7))
    assert job_columns(("progress", "seed")) == ("progress", "seed_content", "seed_value")
    assert job_values(job, ("progress", "seed"), utc) == [None, "**cat** --seed 7", 7]
    assert job_values(make_job(), ("seed",), utc) == [None, None]


# -- deliveries


def test_delivery_and_attempt_values_follow_their_columns() -> None:
    delivery = make_delivery(make_job(), "evt-1", status=DeliveryStatus.FAILED)
    row = delivery_to_row(delivery)
    assert list(row) == list(DELIVERY_COLUMNS)
    assert delivery_values(delivery, utc) == tuple(row.values())
    assert row["status"] == "failed" and row["expires"] == delivery.expires
    texts = delivery_values(delivery, time_to_text)
    times = (row["created"], row["next_attempt"], row["expires"])
    assert texts[6:9] == tuple(old_time_to_text(moment) for moment in times)

    attempt = Attempt(2, delivery.created + timedelta(seconds=3), 120, 503, "busy")
    attempt_row = attempt_to_row("evt-1", attempt)
    assert list(attempt_row) == list(ATTEMPT_COLUMNS)
    assert attempt_values("evt-1", attempt, utc) == ("evt-1", 2, attempt.at, 120, 503, "busy")
    assert attempt_values("evt-1", attempt, time_to_text)[2] == old_time_to_text(attempt.at)


# -- WrittenJobs: what a store may diff against


def test_a_job_is_unknown_until_a_write_of_it_is_applied() -> None:
    written, job = WrittenJobs(), make_job()
    assert written.base(job.jobid) is None
    number = written.begin(job.jobid)
    assert written.base(job.jobid) is None
    written.applied(job, number)
    assert written.base(job.jobid) is job


def test_a_refused_write_keeps_and_a_lost_write_forgets() -> None:
    written, job = WrittenJobs(), make_job()
    written.applied(job, written.begin(job.jobid))
    written.refused(job.jobid, written.begin(job.jobid))
    assert written.base(job.jobid) is job
    written.lost(job.jobid, written.begin(job.jobid))
    assert written.base(job.jobid) is None


def test_nothing_is_trusted_while_a_write_is_in_flight() -> None:
    """Two writes at once: the second must write in full, the first's outcome is not kept."""
    written, job = WrittenJobs(), make_job()
    written.applied(job, written.begin(job.jobid))
    first = written.begin(job.jobid)
    assert written.base(job.jobid) is None
    second = written.begin(job.jobid)
    written.applied(job.evolve(progress=1), first)  # a later write may still change the row
    assert written.base(job.jobid) is None
    last = job.evolve(progress=2)
    written.applied(last, second)
    assert written.base(job.jobid) is last


def test_an_earlier_write_landing_after_a_lost_one_is_not_trusted() -> None:
    written, job = WrittenJobs(), make_job()
    first, second = written.begin(job.jobid), written.begin(job.jobid)
    written.lost(job.jobid, second)  # e.g. its caller was cancelled: the row is unknown
    written.applied(job.evolve(progress=1), first)
    assert written.base(job.jobid) is None


def test_ended_jobs_are_forgotten() -> None:
    written, job = WrittenJobs(), make_job()
    written.applied(job, written.begin(job.jobid))
    written.applied(job.evolve(status=JobStatus.COMPLETED), written.begin(job.jobid))
    assert written.base(job.jobid) is None and len(written) == 0


def test_the_least_recently_written_go_beyond_the_capacity() -> None:
    written = WrittenJobs(capacity=2)
    jobs = [make_job(jobid=f"job-{i}") for i in range(3)]
    written.applied(jobs[0], written.begin(jobs[0].jobid))
    written.applied(jobs[1], written.begin(jobs[1].jobid))
    written.applied(jobs[0], written.begin(jobs[0].jobid))  # job-0 is now the most recent
    written.applied(jobs[2], written.begin(jobs[2].jobid))
    assert [written.base(job.jobid) for job in jobs] == [jobs[0], None, jobs[2]]
    with pytest.raises(ValueError):
        WrittenJobs(capacity=0)


async def test_remember_if_written_follows_the_outcome() -> None:
    written, job = WrittenJobs(), make_job()
    assert await written.remember_if_written(job, _value(True)) is True
    assert written.base(job.jobid) is job
    assert await written.remember_if_written(job.evolve(progress=1), _value(False)) is False
    assert written.base(job.jobid) is job
    with pytest.raises(RuntimeError):
        await written.remember_if_written(job.evolve(progress=2), _raise(RuntimeError()))
    assert written.base(job.jobid) is None


async def test_a_cancelled_write_forgets_the_job() -> None:
    written, job = WrittenJobs(), make_job()
    written.applied(job, written.begin(job.jobid))
    never: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(written.remember_if_written(job.evolve(progress=1), never))
    await asyncio.sleep(0)  # let it start waiting (no timer: one loop turn)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert written.base(job.jobid) is None


async def test_forget_after_forgets_whatever_happens() -> None:
    written, job = WrittenJobs(), make_job()
    written.applied(job, written.begin(job.jobid))
    assert await written.forget_after(job.jobid, _value("done")) == "done"
    assert written.base(job.jobid) is None


async def test_wait_idle_returns_once_the_last_write_of_the_job_landed() -> None:
    written, job = WrittenJobs(), make_job()
    await written.wait_idle(job.jobid)  # nothing in flight: at once
    first, second = written.begin(job.jobid), written.begin(job.jobid)
    other = written.begin("another-job")
    waiter = asyncio.create_task(written.wait_idle(job.jobid))
    cancelled = asyncio.create_task(written.wait_idle(job.jobid))
    await asyncio.sleep(0)
    cancelled.cancel()
    written.refused(job.jobid, first)
    written.refused("another-job", other)
    await asyncio.sleep(0)
    assert not waiter.done()
    written.refused(job.jobid, second)
    await asyncio.wait_for(waiter, timeout=5)
    assert cancelled.cancelled()


async def _value(value: Any) -> Any:
    return value


async def _raise(error: Exception) -> bool:
    raise error


def test_the_module_keeps_no_state_across_stores() -> None:
    """Each store has its own WrittenJobs: a second store on one database starts knowing nothing."""
    assert not any(isinstance(value, WrittenJobs) for value in vars(codec).values())
