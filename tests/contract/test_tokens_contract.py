"""The TokenStore contract, for every store: hashed API tokens and user ids never reused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mjapi.domain.accounts import Account
from mjapi.errors import DuplicateKey
from mjapi.storage.base import ApiToken, Store
from tests.contract.conftest import Backend

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


async def test_token_owner(store: Store) -> None:
    await store.add_token(ApiToken("hash-a", 7, T0, label="laptop"))
    await store.add_token(ApiToken("hash-b", 8, T0))
    assert await store.token_owner("hash-a") == 7
    assert await store.token_owner("hash-b") == 8
    assert await store.token_owner("unknown") is None


async def test_adding_an_existing_hash_raises_duplicate_key(store: Store) -> None:
    await store.add_token(ApiToken("hash-a", 7, T0))
    with pytest.raises(DuplicateKey):
        await store.add_token(ApiToken("hash-a", 9, T0))
    assert await store.token_owner("hash-a") == 7


async def test_user_ids_start_at_one_and_strictly_increase(store: Store) -> None:
    assert [await store.next_user_id() for _ in range(3)] == [1, 2, 3]
    concurrent = await asyncio.gather(*(store.next_user_id() for _ in range(20)))
    assert sorted(concurrent) == list(range(4, 24))


async def test_user_ids_survive_a_restart(backend: Backend) -> None:
    issued = []
    for _ in range(2):  # the second store is the same database after a restart
        store = backend.new_store()
        await store.open()
        try:
            issued += [await store.next_user_id(), await store.next_user_id()]
        finally:
            await store.close()
    assert issued == [1, 2, 3, 4]


async def test_user_ids_skip_ids_already_in_use(store: Store) -> None:
    """An id given by hand (``mjapi token create --user 5``) is never handed out again."""
    await store.add_token(ApiToken("hash-a", 5, T0))
    assert await store.next_user_id() == 6
    await store.put_account(Account("300", 9, "token-0123456789", "1", 3, T0, T0))
    assert await store.next_user_id() == 10
    assert await store.next_user_id() == 11
