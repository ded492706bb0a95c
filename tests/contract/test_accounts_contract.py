"""The AccountStore contract, for every store, and the Discord token kept encrypted at rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from mjapi.domain.accounts import Account
from mjapi.storage.base import Store
from mjapi.storage.crypto import SecretKeyError, TokenCipher
from tests.contract.conftest import Backend

T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
TOKEN = "MTE1MDAwMDAwMDAwMDAwMDAw.GsEcReT.discord-user-token-for-tests"


def account(channel: str = "200", **changes: object) -> Account:
    base = Account(
        channel=channel,
        owner=1,
        discord_token=TOKEN,
        discord_user_id="555",
        max_jobs=3,
        created=T0,
        updated=T0,
    )
    return base.evolve(**changes)


async def test_put_reports_new_then_replaced(store: Store) -> None:
    assert await store.put_account(account()) is True
    replaced = account(
        owner=2,
        discord_token="another-token-0123456789",
        max_jobs=5,
        server="1150000000000000002",
        pending_mod_message="Action needed",
        disabled_reason="banned",
    )
    assert await store.put_account(replaced) is False
    assert await store.get_account("200") == replaced


async def test_every_field_round_trips(store: Store) -> None:
    full = account(server="1", pending_mod_message="m", disabled_reason="d", max_jobs=15)
    await store.put_account(full)
    assert await store.get_account("200") == full
    await store.put_account(account("201"))
    assert await store.get_account("201") == account("201")


async def test_unknown_channel_is_none(store: Store) -> None:
    assert await store.get_account("nope") is None


async def test_list_is_ordered_by_channel_and_filters_by_owner(store: Store) -> None:
    for channel, owner in [("300", 1), ("100", 2), ("200", 1), ("1000", 2)]:
        await store.put_account(account(channel, owner=owner))
    assert [a.channel for a in await store.list_accounts()] == ["100", "1000", "200", "300"]
    assert [a.channel for a in await store.list_accounts(owner=1)] == ["200", "300"]
    assert await store.list_accounts(owner=3) == []


async def test_delete(store: Store) -> None:
    await store.put_account(account())
    assert await store.delete_account("200") is True
    assert await store.get_account("200") is None
    assert await store.delete_account("200") is False
    assert await store.list_accounts() == []


async def test_token_is_not_stored_in_plain_text(backend: Backend) -> None:
    store = backend.new_store()
    await store.open()
    try:
        await store.put_account(account())
        assert (await store.get_account("200")) == account()
        at_rest = await backend.raw_dump()
    finally:
        await store.close()
    assert b"555" in at_rest  # the dump does hold the account row
    assert TOKEN.encode() not in at_rest
    assert TOKEN.split(".")[1].encode() not in at_rest  # nor a recognisable piece of it
    if backend.name == "sqlite":  # and once closed, the file alone does not hold it either
        assert TOKEN.encode() not in await backend.raw_dump()


async def test_a_different_key_cannot_read_the_token(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    try:
        await first.put_account(account())
    finally:
        await first.close()

    other = backend.new_store(TokenCipher(Fernet.generate_key()))
    await other.open()
    try:
        with pytest.raises(SecretKeyError) as raised:
            await other.get_account("200")
    finally:
        await other.close()
    assert TOKEN not in str(raised.value)
