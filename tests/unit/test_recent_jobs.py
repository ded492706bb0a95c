"""RecentJobs: the engine's in-memory LRU of finished jobs."""

from __future__ import annotations

import pytest

from mjapi.domain.jobs import Child, Job, JobStatus
from mjapi.engine.recent import RecentJobs
from tests.factories import make_job


def job(n: int, **changes: object) -> Job:
    return make_job(jobid=f"job:{n}", status=JobStatus.COMPLETED, **changes)


def test_a_put_job_is_found_by_id() -> None:
    recent = RecentJobs(3)
    recent.put(job(1))
    assert recent.get("job:1") == job(1)
    assert recent.get("job:2") is None


def test_the_least_recently_put_goes_first() -> None:
    recent = RecentJobs(2)
    for n in (1, 2, 3):
        recent.put(job(n))
    assert [recent.get(f"job:{n}") is not None for n in (1, 2, 3)] == [False, True, True]
    assert len(recent) == 2


def test_a_read_makes_a_job_the_most_recently_used() -> None:
    recent = RecentJobs(2)
    recent.put(job(1))
    recent.put(job(2))
    recent.get("job:1")
    recent.put(job(3))
    assert recent.get("job:1") is not None
    assert recent.get("job:2") is None


def test_putting_a_job_again_refreshes_it_too() -> None:
    recent = RecentJobs(2)
    recent.put(job(1))
    recent.put(job(2))
    recent.put(job(1))
    recent.put(job(3))
    assert recent.get("job:1") is not None
    assert recent.get("job:2") is None


def test_put_replaces_an_older_version() -> None:
    recent = RecentJobs(2)
    older = job(1)
    newer = older.evolve(children=(Child("U1", "job:9"),))
    recent.put(older)
    recent.put(newer)
    assert recent.get("job:1") is newer
    assert len(recent) == 1


def test_discard_forgets_the_job() -> None:
    recent = RecentJobs(2)
    recent.put(job(1))
    recent.put(job(2))
    recent.discard("job:1")
    recent.discard("job:7")  # unknown: nothing to forget, no error
    assert recent.get("job:1") is None
    assert recent.get("job:2") is not None
    assert len(recent) == 1


def test_a_read_that_started_before_a_discard_is_not_cached() -> None:
    recent = RecentJobs(2)
    before = recent.stamp
    recent.discard("job:1")  # the parent got a child while the read was in flight
    recent.put(job(1), read_at=before)
    assert recent.get("job:1") is None


def test_a_read_that_started_after_the_last_discard_is_cached() -> None:
    recent = RecentJobs(2)
    recent.discard("job:1")
    stamp = recent.stamp
    recent.put(job(1), read_at=stamp)
    assert recent.get("job:1") == job(1)


def test_a_capacity_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RecentJobs(0)
