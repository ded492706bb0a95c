"""Partial saves, for every store: ``save_job`` writes only what changed, and nobody can tell.

A store writes the columns that changed since the version of the job it last wrote. These
tests look for the cases where that version is not what the row holds (a refused save, a
child added in SQL, a save in flight, another store instance, a row changed around the
store) and check that every field reads back as the last save wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mjapi.domain.jobs import Attachment, Button, Child, Job, JobStatus, Seed, can_move
from mjapi.errors import DuplicateKey
from mjapi.storage.base import Store
from mjapi.storage.codec import job_to_row
from tests.contract.conftest import Backend, PostgresBackend, SqliteBackend
from tests.contract.test_store_contract import T0, full_job, minimal_job
from tests.factories import make_delivery


async def assert_stored(store: Store, expected: Job) -> None:
    """The stored job is ``expected``, down to what == cannot see: ``1`` versus ``True`` in
    JSON, and the key order of embeds (compared as the row would encode them)."""
    stored = await store.get_job(expected.jobid)
    assert stored == expected
    assert repr(job_to_row(stored)) == repr(job_to_row(expected))


async def saved(store: Store, job: Job) -> Job:
    """``job``, saved (the save must apply)."""
    assert await store.save_job(job)
    return job


async def test_changes_one_field_at_a_time_all_read_back(store: Store) -> None:
    job = minimal_job(status=JobStatus.STARTED)
    await store.insert_job(job)
    steps: list[dict[str, Any]] = [
        {"content": "**a cat** (10%)", "progress": 10, "status": JobStatus.PROGRESS},
        {"message_id": "1150000000000000003", "updated": T0 + timedelta(seconds=1)},
        {"attachments": (Attachment("1", "https://cdn.test/p.webp", "p.webp", width=512),)},
        {"extra": {"queued": True}},
        {"seed": Seed("**a cat** --seed 7", 7)},
        {"content": "**a cat** (20%)", "progress": 20},
        {"extra": {"queued": True, "n": 1}, "attachments": ()},
        {"extra": {"queued": True, "n": True}, "embeds": ({"b": 1, "a": 2},)},
        {"embeds": ({"a": 2, "b": 1},)},
        {"seed": None, "prompt": "a dog"},
    ]
    for changes in steps:
        job = await saved(store, job.evolve(**changes))
        await assert_stored(store, job)


async def test_a_field_set_back_to_its_first_value_is_written(store: Store) -> None:
    job = minimal_job(content="first")
    await store.insert_job(job)
    await saved(store, job.evolve(content="second"))
    back = await saved(store, job.evolve(content="first", progress=1))
    assert await store.get_job(job.jobid) == back


async def test_a_save_after_a_refused_one_writes_against_the_stored_job(store: Store) -> None:
    """The refused job is not what the row holds: a save repeating its change must write it."""
    job = minimal_job(status=JobStatus.PROGRESS, content="stored")
    await store.insert_job(job)
    refused = job.evolve(status=JobStatus.STARTED, content="late")  # progress never goes back
    assert await store.save_job(refused) is False
    retried = refused.evolve(status=JobStatus.PROGRESS, progress=50)
    assert await store.save_job(retried)
    assert await store.get_job(job.jobid) == retried


async def test_a_save_whose_callback_fails_changes_nothing_it_would_skip(store: Store) -> None:
    """The outbox undoes the change; the next save must not count it as written."""
    job = minimal_job(status=JobStatus.STARTED, reply_url="https://example.test/hook")
    await store.insert_job(job)
    first = await saved(store, job.evolve(progress=1))
    assert await store.save_job(first.evolve(progress=2), make_delivery(first, "evt-1"))
    undone = first.evolve(content="undone", progress=3)
    with pytest.raises(DuplicateKey):  # the event id is taken
        await store.save_job(undone, make_delivery(undone, "evt-1"))
    again = undone.evolve(progress=4)
    assert await store.save_job(again)
    assert await store.get_job(job.jobid) == again


async def test_a_save_after_add_child_writes_every_field_it_carries(store: Store) -> None:
    """add_child edits the row in SQL: the next save writes the children it is given."""
    parent = full_job()
    await store.insert_job(parent)
    await saved(store, parent.evolve(progress=40))
    child = Child("U1", "job-child-3")
    assert await store.add_child(parent.jobid, child)
    with_child = parent.evolve(progress=50, children=(*parent.children, child))
    assert await store.save_job(with_child)
    assert await store.get_job(parent.jobid) == with_child
    # and, as a full save always did, the job as given: children included
    assert await store.add_child(parent.jobid, Child("U2", "job-child-4"))
    as_given = with_child.evolve(progress=60)
    assert await store.save_job(as_given)
    assert await store.get_job(parent.jobid) == as_given


async def test_two_saves_from_one_version_at_once_never_mix(store: Store) -> None:
    """Both computed from the stored job: the row ends as one of them, all fields of it."""
    job = minimal_job(status=JobStatus.PROGRESS, content="a", progress=10)
    await store.insert_job(job)
    await saved(store, job)
    other_content = job.evolve(content="b")
    other_progress = job.evolve(progress=20)
    results = await asyncio.gather(store.save_job(other_content), store.save_job(other_progress))
    assert list(results) == [True, True]
    assert await store.get_job(job.jobid) in (other_content, other_progress)


async def test_a_change_undone_by_the_next_save_in_flight_is_undone(store: Store) -> None:
    """The second save sets content back: compared with the stored job it changed nothing
    there, yet the first save, landing just before it, did."""
    job = minimal_job(status=JobStatus.PROGRESS, content="a", progress=10)
    await store.insert_job(job)
    await saved(store, job)
    first = job.evolve(content="b")
    second = first.evolve(content="a", progress=20)
    results = await asyncio.gather(store.save_job(first), store.save_job(second))
    assert list(results) == [True, True]
    assert await store.get_job(job.jobid) == second


async def test_a_new_store_instance_writes_a_job_in_full(backend: Backend) -> None:
    """A restart: the new store knows no job, so its first save writes every column (here it
    also puts back a column changed around the store)."""
    first = backend.new_store()
    await first.open()
    try:
        job = full_job().evolve(status=JobStatus.STARTED)
        await first.insert_job(job)
        await saved(first, job.evolve(progress=1))
    finally:
        await first.close()
    await _set_prompt_around_the_store(backend, job.jobid, "changed by hand")

    second = backend.new_store()
    await second.open()
    try:
        stored = await second.get_job(job.jobid)
        assert stored is not None and stored.prompt == "changed by hand"
        restored = job.evolve(progress=2)
        assert await second.save_job(restored)
        assert await second.get_job(job.jobid) == restored
    finally:
        await second.close()


async def test_saves_of_many_jobs_at_once_keep_each_its_own_fields(store: Store) -> None:
    jobs = [minimal_job(f"job-{i:02d}", status=JobStatus.STARTED) for i in range(20)]
    await asyncio.gather(*(store.insert_job(job) for job in jobs))
    for step in range(3):
        jobs = [
            job.evolve(status=JobStatus.PROGRESS, progress=step * 10 + i, content=f"{i}/{step}")
            if (i + step) % 2
            else job.evolve(message_id=f"m{i}-{step}", updated=T0 + timedelta(seconds=step))
            for i, job in enumerate(jobs)
        ]
        assert all(await asyncio.gather(*(store.save_job(job) for job in jobs)))
    assert [await store.get_job(job.jobid) for job in jobs] == jobs


# -- random sequences

STATUSES = st.sampled_from(list(JobStatus))
CHANGE = st.fixed_dictionaries(
    {},
    optional={
        "status": STATUSES,
        "updated": st.integers(0, 3).map(lambda n: T0 + timedelta(seconds=n)),
        "content": st.none() | st.sampled_from(["a", "b"]),
        "progress": st.none() | st.integers(0, 2),
        "message_id": st.none() | st.sampled_from(["m1", "m2"]),
        "attachments": st.sampled_from(
            [(), (Attachment("1", "u", "a.png"),), (Attachment("1", "u", "a.png", width=1),)]
        ),
        "buttons": st.sampled_from([(), (Button("U1", "MJ::1"),)]),
        "extra": st.sampled_from([{}, {"n": 1}, {"n": True}, {"n": 1, "m": [1]}]),
        "embeds": st.sampled_from([(), ({"a": 1, "b": 2},), ({"b": 2, "a": 1},)]),
        "seed": st.sampled_from([None, Seed("c", 1), Seed("c", 2)]),
        "error": st.none() | st.just("boom"),
    },
)


@settings(
    max_examples=25,
    deadline=None,
    # one store serves every example; each example uses its own jobid
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(start=STATUSES, steps=st.lists(st.tuples(CHANGE, st.booleans()), max_size=8))
async def test_random_changes_read_back_as_last_saved(
    store: Store, start: JobStatus, steps: list[tuple[dict[str, Any], bool]]
) -> None:
    """Each step changes some fields of the job the caller holds (refused saves included) and
    saves it, alone or together with the next step's save; the row is then the last applied."""
    job = minimal_job(f"seq-{uuid.uuid4().hex}", status=start)
    await store.insert_job(job)
    expected = job
    pending: list[Job] = []
    for changes, together_with_next in steps:
        job = job.evolve(**changes)
        pending.append(job)
        if together_with_next:
            continue
        expected = await _save_all(store, pending, expected)
        pending = []
        await assert_stored(store, expected)
    expected = await _save_all(store, pending, expected)
    await assert_stored(store, expected)


async def _save_all(store: Store, jobs: list[Job], stored: Job) -> Job:
    """Save ``jobs`` at once; the job stored afterwards, given the one stored before.

    Saves of one job at once apply in call order in both stores (SQLite's group commit keeps
    it; PostgreSQL's store runs them one after the other).
    """
    results = await asyncio.gather(*(store.save_job(job) for job in jobs))
    for job, applied in zip(jobs, results, strict=True):
        assert applied is can_move(stored.status, job.status)
        stored = job if applied else stored
    return stored


async def _set_prompt_around_the_store(backend: Backend, jobid: str, prompt: str) -> None:
    if isinstance(backend, SqliteBackend):
        with contextlib.closing(sqlite3.connect(backend.path)) as db, db:
            db.execute("UPDATE jobs SET prompt = ? WHERE jobid = ?", (prompt, jobid))
        return
    assert isinstance(backend, PostgresBackend)
    connection = await asyncpg.connect(backend.dsn)
    try:
        await connection.execute("UPDATE jobs SET prompt = $1 WHERE jobid = $2", prompt, jobid)
    finally:
        await connection.close()
