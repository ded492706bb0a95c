"""The profile half of the TokenStore contract, for every store: one row per API user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mjapi.storage.base import Store, UserProfile
from tests.contract.conftest import Backend

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


async def test_an_unknown_user_has_no_profile(store: Store) -> None:
    assert await store.get_profile(1) is None


async def test_every_field_round_trips(store: Store) -> None:
    full = UserProfile(7, T0, name="Ünïcødé 🐈", reply_url="https://example.test/cb?a=1&b=2")
    bare = UserProfile(8, T0)
    empty = UserProfile(9, T0, name="", reply_url="")
    for profile in (full, bare, empty):
        await store.put_profile(profile)
    assert [await store.get_profile(user) for user in (7, 8, 9)] == [full, bare, empty]


async def test_put_replaces_the_whole_profile(store: Store) -> None:
    await store.put_profile(UserProfile(7, T0, name="first", reply_url="https://a.test/"))
    replaced = UserProfile(7, T0 + timedelta(days=1), name=None, reply_url="https://b.test/")
    await store.put_profile(replaced)
    assert await store.get_profile(7) == replaced
    await store.put_profile(UserProfile(7, T0))
    assert await store.get_profile(7) == UserProfile(7, T0)


async def test_profiles_are_per_user(store: Store) -> None:
    await store.put_profile(UserProfile(7, T0, name="seven"))
    await store.put_profile(UserProfile(8, T0, name="eight"))
    seven, eight = await store.get_profile(7), await store.get_profile(8)
    assert seven is not None and seven.name == "seven"
    assert eight is not None and eight.name == "eight"


async def test_created_comes_back_utc(store: Store) -> None:
    created = datetime(2025, 6, 1, 12, 0, 0, 999999, tzinfo=timezone(timedelta(hours=-5)))
    await store.put_profile(UserProfile(7, created))
    stored = await store.get_profile(7)
    assert stored is not None and stored.created == created
    assert stored.created.utcoffset() == timedelta(0)


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.put_profile(UserProfile(7, datetime(2025, 1, 1)))
    assert await store.get_profile(7) is None


async def test_profiles_survive_a_restart(backend: Backend) -> None:
    profile = UserProfile(7, T0, name="n", reply_url="https://a.test/")
    first = backend.new_store()
    await first.open()
    try:
        await first.put_profile(profile)
    finally:
        await first.close()

    second = backend.new_store()  # the same database after a restart
    await second.open()
    try:
        assert await second.get_profile(7) == profile
    finally:
        await second.close()
