"""Job.evolve is dataclasses.replace, minus its cost."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mjapi.domain.jobs import JobStatus
from tests.factories import make_job


def test_evolve_gives_what_replace_gives_and_leaves_the_original_alone() -> None:
    job = make_job()
    before = dataclasses.asdict(job)
    changes: dict[str, Any] = {"status": JobStatus.PROGRESS, "progress": 40, "content": "a cat"}
    evolved = job.evolve(**changes)
    assert evolved == dataclasses.replace(job, **changes)
    assert type(evolved) is type(job)
    assert (evolved.progress, evolved.content) == (40, "a cat")
    assert dataclasses.asdict(job) == before


def test_every_field_can_change_and_unknown_fields_are_refused() -> None:
    job = make_job()
    for field in dataclasses.fields(job):
        value = getattr(job, field.name)
        assert getattr(job.evolve(**{field.name: value}), field.name) is value
    with pytest.raises(TypeError, match="no field colour"):
        job.evolve(colour="red")


def test_an_evolved_job_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_job().evolve(progress=1).progress = 2  # type: ignore[misc]
