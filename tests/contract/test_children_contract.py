"""``add_child``, for every store: an atomic append in SQL, whatever the parent's status."""

from __future__ import annotations

import asyncio

import pytest

from mjapi.domain.jobs import Child, JobStatus
from mjapi.storage.base import Store
from tests.contract.conftest import Backend
from tests.contract.test_store_contract import full_job, minimal_job


async def test_children_are_appended_in_order(store: Store) -> None:
    await store.insert_job(minimal_job("parent"))
    first, second = Child("U1", "job-c1", "1150000000000000009"), Child("V2", "job-c2")
    assert await store.add_child("parent", first) is True
    assert await store.add_child("parent", second) is True
    stored = await store.get_job("parent")
    assert stored == minimal_job("parent", children=(first, second))


async def test_existing_children_are_kept(store: Store) -> None:
    parent = full_job()
    await store.insert_job(parent)
    added = Child("🔄", "job-c3")
    assert await store.add_child(parent.jobid, added)
    assert await store.get_job(parent.jobid) == parent.evolve(children=(*parent.children, added))


@pytest.mark.parametrize("status", list(JobStatus))
async def test_a_parent_gets_children_whatever_its_status(store: Store, status: JobStatus) -> None:
    """Buttons are clicked on completed jobs: the guard of save_job must not apply here."""
    await store.insert_job(minimal_job("parent", status=status))
    assert await store.add_child("parent", Child("U1", "job-c1"))
    stored = await store.get_job("parent")
    assert stored == minimal_job("parent", status=status, children=(Child("U1", "job-c1"),))


async def test_an_unknown_parent_is_false(store: Store) -> None:
    assert await store.add_child("ghost", Child("U1", "job-c1")) is False
    assert await store.get_job("ghost") is None


async def test_a_child_is_one_entry_not_spliced(store: Store) -> None:
    """The child is itself a JSON array: appending it must not append its items one by one."""
    await store.insert_job(minimal_job("parent"))
    await store.add_child("parent", Child("U1", "job-c1", None))
    await store.add_child("parent", Child('"quoted", [bracket]', "job-c2", "7"))
    stored = await store.get_job("parent")
    assert stored is not None
    assert stored.children == (Child("U1", "job-c1"), Child('"quoted", [bracket]', "job-c2", "7"))


async def test_concurrent_adds_lose_no_child(backend: Backend) -> None:
    """30 adds at once through two stores (two replicas, or two processes on one SQLite file)."""
    stores = [backend.new_store(), backend.new_store()]
    for store in stores:
        await store.open()
    try:
        await stores[0].insert_job(minimal_job("parent", status=JobStatus.COMPLETED))
        children = [Child(f"U{i}", f"job-c{i:02d}", str(i) if i % 2 else None) for i in range(30)]
        results = await asyncio.gather(
            *(stores[i % 2].add_child("parent", child) for i, child in enumerate(children))
        )
        assert all(results)
        stored = await stores[1].get_job("parent")
    finally:
        for store in stores:
            await store.close()
    assert stored is not None
    assert sorted(stored.children, key=lambda child: child.jobid) == children
    assert stored.status is JobStatus.COMPLETED and stored.updated == minimal_job().updated
