"""The JobStore contract, for every store: exact round trips and the state machine in the UPDATE."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus, Seed, can_move
from mjapi.errors import DuplicateKey
from mjapi.storage.base import Store

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def minimal_job(jobid: str = "job-min", **changes: object) -> Job:
    """Only the required fields: every optional one None, every tuple empty."""
    job = Job(
        jobid=jobid,
        owner=1,
        verb="imagine",
        status=JobStatus.CREATED,
        created=T0,
        updated=T0,
        channel="100",
        discord="abc...secured...xyz",
        max_jobs=3,
    )
    return job.evolve(**changes)


def full_job(jobid: str = "job-full") -> Job:
    """Every field set, each to a distinct value, so that a swapped column cannot go unseen."""
    return Job(
        jobid=jobid,
        owner=42,
        verb="button",
        status=JobStatus.PROGRESS,
        created=T0,
        updated=T0 + timedelta(seconds=90, microseconds=1),
        channel="1150000000000000001",
        discord="NzM...secured...k9Q",
        max_jobs=7,
        prompt="a cat in a hat --v 6 ünïcødé 🐈",
        server="1150000000000000002",
        reply_url="https://example.test/callback?x=1",
        reply_ref="ref-1",
        message_id="1150000000000000003",
        content="**a cat** - <@123> (31%) (fast)",
        timestamp="2025-03-04T05:06:07.123000+00:00",
        progress=31,
        attachments=(
            Attachment(
                id="1150000000000000004",
                url="https://cdn.test/a.png",
                filename="a.png",
                proxy_url="https://media.test/a.png",
                content_type="image/png",
                width=2048,
                height=1024,
                size=123456,
            ),
            Attachment(id="5", url="https://cdn.test/b.webp", filename="b.webp"),
        ),
        buttons=(Button("U1", "MJ::JOB::upsample::1::h"), Button("🔄", "MJ::JOB::reroll::0::h")),
        children=(Child("U1", "job-child-1", "1150000000000000005"), Child("V2", "job-child-2")),
        parent_job_id="job-parent",
        button="U3",
        error="an error",
        error_details="some details",
        nonce="1150000000000000006",
        interaction_id="1150000000000000007",
        job_hash="0b3d6b2a-58f2-4c43-9f53-2d8c2a1f4c1e",
        extra={"queued": True, "attempts": 2, "ratio": 1.5, "tags": ["a", "b"], "none": None},
        embeds=DISCORD_EMBEDS,
        seed=Seed("**a cat** --seed 4294967295", 4294967295),
        blend_urls=("https://cdn.test/1.png", "https://cdn.test/2.png"),
        blend_dimensions="Portrait",
        describe_url="https://cdn.test/describe.png",
        message_flags=64,
    )


#: Embeds as Discord sends them: nested objects and arrays, every JSON type but numbers with a
#: fraction, keys deliberately not in sorted order.
DISCORD_EMBEDS: tuple[dict[str, Any], ...] = (
    {
        "type": "rich",
        "description": '1️⃣ a cat --ar 3:2\n\n2️⃣ a "quoted" dog',
        "color": 16777215,
        "image": {"url": "https://cdn.test/d.png", "width": 1024, "height": 682, "flags": 0},
        "fields": [{"name": "Seed", "value": "42", "inline": True}, {"name": "", "value": ""}],
        "footer": None,
        "title": "",
    },
    {},
    {"z": [[], [{}], [1, -2, 3_000_000_000_000_000_000_000], [True, False, None]]},
)


# -- round trips


async def test_every_field_round_trips(store: Store) -> None:
    job = full_job()
    await store.insert_job(job)
    assert await store.get_job(job.jobid) == job


async def test_none_and_empty_stay_distinct(store: Store) -> None:
    bare = minimal_job("bare")
    empties = minimal_job(
        "empties",
        prompt="",
        content="",
        error="",
        extra={"": ""},
        embeds=({},),
        seed=Seed("", 0),
        blend_urls=("",),
        blend_dimensions="",
        describe_url="",
    )
    for job in (bare, empties):
        await store.insert_job(job)
        assert await store.get_job(job.jobid) == job
    stored = await store.get_job("bare")
    assert stored is not None
    assert stored.prompt is None and stored.attachments == () and stored.extra == {}
    assert stored.embeds == () and stored.seed is None and stored.blend_urls == ()
    assert stored.blend_dimensions is None and stored.describe_url is None
    assert stored.message_flags == 0


async def test_embeds_keep_discords_key_order(store: Store) -> None:
    await store.insert_job(full_job())
    stored = await store.get_job("job-full")
    assert stored is not None
    assert [list(embed) for embed in stored.embeds] == [list(embed) for embed in DISCORD_EMBEDS]
    assert list(stored.embeds[0]["image"]) == ["url", "width", "height", "flags"]


#: Any JSON value Discord may send inside an embed (its numbers are integers); any text,
#: including "\x00", which PostgreSQL's jsonb would refuse.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(
    max_examples=50,
    deadline=None,
    # one store serves every example; each example uses its own jobid
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(embeds=st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=5), max_size=3))
@example(embeds=[{"\x00": "\x00", "b": {"\x00": ["\x00"]}, "a": "\ud7ff\U0010ffff"}])
async def test_any_embeds_round_trip_exactly(store: Store, embeds: list[dict[str, Any]]) -> None:
    job = minimal_job(f"embeds-{uuid.uuid4().hex}", embeds=tuple(embeds))
    await store.insert_job(job)
    stored = await store.get_job(job.jobid)
    assert stored is not None and stored.embeds == job.embeds
    # equal and in the same order, down to every nested object
    assert json.dumps(stored.embeds) == json.dumps(job.embeds)


async def test_times_come_back_utc_with_microseconds(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    created = datetime(2025, 6, 1, 12, 0, 0, 999999, tzinfo=paris)
    await store.insert_job(minimal_job(created=created, updated=created))
    stored = await store.get_job("job-min")
    assert stored is not None
    assert stored.created == created
    assert stored.created.utcoffset() == timedelta(0)
    assert stored.created.microsecond == 999999


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.insert_job(minimal_job(created=datetime(2025, 1, 1)))


async def test_inserting_an_existing_jobid_raises_duplicate_key(store: Store) -> None:
    await store.insert_job(minimal_job())
    with pytest.raises(DuplicateKey):
        await store.insert_job(minimal_job(prompt="another"))
    stored = await store.get_job("job-min")
    assert stored is not None and stored.prompt is None


async def test_unknown_jobid_is_none(store: Store) -> None:
    assert await store.get_job("nope") is None


# -- save_job: the state machine, enforced by the store


@pytest.mark.parametrize(
    ("stored", "new", "applied"),
    [
        (JobStatus.COMPLETED, JobStatus.PROGRESS, False),
        (JobStatus.STARTED, JobStatus.STARTED, True),
        (JobStatus.PROGRESS, JobStatus.COMPLETED, True),
        (JobStatus.PROGRESS, JobStatus.STARTED, False),
        (JobStatus.CANCELLED, JobStatus.COMPLETED, False),
    ],
)
async def test_save_job_named_cases(
    store: Store, stored: JobStatus, new: JobStatus, applied: bool
) -> None:
    await store.insert_job(minimal_job(status=stored))
    assert await store.save_job(minimal_job(status=new, content="new")) is applied
    expected = minimal_job(status=new, content="new") if applied else minimal_job(status=stored)
    assert await store.get_job("job-min") == expected


async def test_save_job_follows_the_transition_table_for_every_pair(store: Store) -> None:
    for src, dst in itertools.product(JobStatus, JobStatus):
        jobid = f"pair-{src}-{dst}"
        await store.insert_job(minimal_job(jobid, status=src))
        moved = await store.save_job(minimal_job(jobid, status=dst))
        assert moved is can_move(src, dst), (src, dst)
        stored = await store.get_job(jobid)
        assert stored is not None and stored.status is (dst if moved else src)


async def test_cancelled_job_accepts_nothing(store: Store) -> None:
    await store.insert_job(minimal_job(status=JobStatus.CANCELLED))
    for status in JobStatus:
        assert not await store.save_job(minimal_job(status=status, error="late event"))
    assert await store.get_job("job-min") == minimal_job(status=JobStatus.CANCELLED)


async def test_save_job_writes_every_field(store: Store) -> None:
    await store.insert_job(minimal_job("job-full"))
    job = full_job()
    assert await store.save_job(job)
    assert await store.get_job(job.jobid) == job


async def test_save_unknown_jobid_is_false(store: Store) -> None:
    assert await store.save_job(minimal_job("ghost")) is False
    assert await store.get_job("ghost") is None


@settings(
    max_examples=50,
    deadline=None,
    # one store serves every example; each example uses its own jobid
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    start=st.sampled_from(list(JobStatus)),
    steps=st.lists(st.sampled_from(list(JobStatus)), max_size=8),
)
async def test_random_status_sequences_match_the_domain(
    store: Store, start: JobStatus, steps: list[JobStatus]
) -> None:
    jobid = f"seq-{uuid.uuid4().hex}"
    current = start
    await store.insert_job(minimal_job(jobid, status=start))
    for index, status in enumerate(steps):
        moved = await store.save_job(minimal_job(jobid, status=status, progress=index))
        assert moved is can_move(current, status)
        current = status if moved else current
        stored = await store.get_job(jobid)
        assert stored is not None and stored.status is current


async def test_racing_saves_apply_only_allowed_transitions(store: Store) -> None:
    """50 writers race on one job: exactly one ending wins, and it is what stays stored."""
    await store.insert_job(minimal_job(status=JobStatus.STARTED))
    cycle = [JobStatus.STARTED, JobStatus.PROGRESS, JobStatus.COMPLETED, JobStatus.FAILED]
    attempts = [
        minimal_job(status=cycle[i % len(cycle)], content=f"writer-{i}", progress=i)
        for i in range(50)
    ]
    results = await asyncio.gather(*(store.save_job(job) for job in attempts))

    applied = [job for job, moved in zip(attempts, results, strict=True) if moved]
    endings = [job for job in applied if job.terminal]
    assert len(endings) == 1
    assert await store.get_job("job-min") == endings[0]
    # nothing moves it any more
    assert not any([await store.save_job(job) for job in attempts])


# -- unfinished jobs


async def test_unfinished_jobs_are_the_running_ones_oldest_first(store: Store) -> None:
    statuses = list(JobStatus)
    for i, status in enumerate(statuses * 2):
        owner = 1 + i % 2
        # created goes backwards with i: oldest-first must not mean insertion order
        created = T0 - timedelta(minutes=i)
        job = minimal_job(f"job-{i:02d}", owner=owner, status=status, created=created)
        await store.insert_job(job)

    everyone = await store.unfinished_jobs()
    assert [job.created for job in everyone] == sorted(job.created for job in everyone)
    assert {job.status for job in everyone} == {s for s in JobStatus if not s.terminal}
    assert len(everyone) == 2 * sum(1 for s in JobStatus if not s.terminal)

    first = await store.unfinished_jobs(owner=1)
    assert first and all(job.owner == 1 for job in first)
    assert first == [job for job in everyone if job.owner == 1]
    assert await store.unfinished_jobs(owner=99) == []
