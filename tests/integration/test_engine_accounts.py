"""Accounts served from memory: every change made through the engine is seen by the next job,
and choosing an account for a job reads nothing from the store (real SQLite store, fake backend)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mjapi.domain.accounts import Account
from mjapi.domain.events import JobCompleted
from mjapi.errors import AccountDisabled, NotFound, PendingModeration
from mjapi.storage.base import UserProfile
from tests.integration.engine_rig import OWNER, Rig, eventually, imagine, open_rig

TOKEN_A = "token-memory-aaaaaaaaaaaaaaa"
TOKEN_B = "token-memory-bbbbbbbbbbbbbbb"


class Counted:
    """Counts the store's account reads from the moment it is installed."""

    def __init__(self, rig: Rig) -> None:
        self.reads: Counter[str] = Counter()
        list_accounts, get_account = rig.store.list_accounts, rig.store.get_account

        async def counted_list(owner: int | None = None) -> list[Account]:
            self.reads["list_accounts"] += 1
            return await list_accounts(owner)

        async def counted_get(channel: str) -> Account | None:
            self.reads["get_account"] += 1
            return await get_account(channel)

        rig.store.list_accounts = counted_list  # type: ignore[method-assign]
        rig.store.get_account = counted_get  # type: ignore[method-assign]


@pytest.fixture
async def counted(tmp_path: Path) -> AsyncIterator[tuple[Rig, Counted]]:
    async for rig in open_rig(tmp_path):
        yield rig, Counted(rig)


async def add(rig: Rig, token: str) -> Account:
    account, _ = await rig.engine.accounts.add(OWNER, token, 1)
    return account


async def channel_of_next_job(rig: Rig) -> str:
    job = await rig.engine.imagine(OWNER, imagine())
    rig.transport.emit(JobCompleted(job.jobid, "r", "done", "t", (), (), "h"))
    await rig.transport.applied()
    return job.channel


async def test_each_change_is_seen_by_the_next_job_without_reading_the_store(
    counted: tuple[Rig, Counted],
) -> None:
    rig, store = counted
    with pytest.raises(NotFound):
        await rig.engine.imagine(OWNER, imagine())
    a = await add(rig, TOKEN_A)
    assert await channel_of_next_job(rig) == a.channel
    b = await add(rig, TOKEN_B)
    await rig.engine.accounts.flag(a.channel, "Pending mod message")
    assert await channel_of_next_job(rig) == b.channel
    await rig.engine.accounts.disable(b.channel, "Blocked")
    with pytest.raises(PendingModeration):
        await rig.engine.imagine(OWNER, imagine())
    await rig.engine.accounts.reset(OWNER, a.channel)
    assert await channel_of_next_job(rig) == a.channel
    await rig.engine.accounts.delete(OWNER, a.channel)
    with pytest.raises(AccountDisabled):  # only b is left, and it is disabled
        await rig.engine.imagine(OWNER, imagine())
    await rig.engine.accounts.reset(OWNER, b.channel)
    assert await channel_of_next_job(rig) == b.channel
    assert [x.channel for x in await rig.engine.accounts.list(OWNER)] == [b.channel]
    assert store.reads == Counter()


async def test_queued_jobs_and_follow_ups_find_their_account_in_memory(
    counted: tuple[Rig, Counted],
) -> None:
    rig, store = counted
    await add(rig, TOKEN_A)
    running = await rig.engine.imagine(OWNER, imagine("running"))
    waiting = await rig.engine.imagine(OWNER, imagine("waiting", queue=True))
    rig.transport.emit(JobCompleted(running.jobid, "r", "done", "t", (), (), "h"))
    await eventually(lambda: rig.transport.submitted[-1][1] == waiting.jobid)
    assert store.reads == Counter()


async def test_the_memory_copy_is_authoritative_once_loaded(
    counted: tuple[Rig, Counted],
) -> None:
    rig, _ = counted
    a = await add(rig, TOKEN_A)
    # Written behind the engine's back (no process does that: one process per database).
    await rig.store.put_account(a.evolve(pending_mod_message="written elsewhere"))
    assert await channel_of_next_job(rig) == a.channel
    assert (await rig.engine.accounts.get(OWNER, a.channel)).pending_mod_message is None


async def test_a_restarted_engine_loads_the_accounts_as_stored(tmp_path: Path) -> None:
    async for rig in open_rig(tmp_path):
        a = await add(rig, TOKEN_A)
        b = await add(rig, TOKEN_B)
        await rig.engine.accounts.flag(a.channel, "Pending mod message")
    async for again in open_rig(tmp_path):
        listed = await again.engine.accounts.list(OWNER)
        assert [x.channel for x in listed] == sorted([a.channel, b.channel])
        assert (await again.engine.imagine(OWNER, imagine())).channel == b.channel


async def test_a_flag_raised_while_the_account_is_added_again_is_not_held_up_nor_lost(
    counted: tuple[Rig, Counted],
) -> None:
    rig, _ = counted
    a = await add(rig, TOKEN_A)
    connecting, go_on = asyncio.Event(), asyncio.Event()
    attach = rig.transport.attach

    async def slow_attach(account: Account) -> None:
        connecting.set()
        await go_on.wait()  # the gateway takes its time to get ready
        await attach(account)

    rig.transport.attach = slow_attach  # type: ignore[method-assign]
    adding = asyncio.create_task(rig.engine.accounts.add(OWNER, TOKEN_A, 3))
    await connecting.wait()
    flagged = await rig.engine.accounts.flag(a.channel, "Pending mod message")
    assert flagged is not None and flagged.pending_mod_message == "Pending mod message"
    go_on.set()
    readded, created = await adding
    assert not created and readded.max_jobs == 3
    assert readded.pending_mod_message == "Pending mod message"
    assert (await rig.engine.accounts.get(OWNER, a.channel)) == readded


async def test_the_default_reply_url_is_read_once_and_follows_updates(
    counted: tuple[Rig, Counted],
) -> None:
    rig, _ = counted
    await add(rig, TOKEN_A)
    reads = 0
    get_profile = rig.store.get_profile

    async def counted_get_profile(user_id: int) -> UserProfile | None:
        nonlocal reads
        reads += 1
        return await get_profile(user_id)

    rig.store.get_profile = counted_get_profile  # type: ignore[method-assign]
    first = await rig.engine.imagine(OWNER, imagine())
    assert first.reply_url is None
    await rig.engine.cancel(OWNER, first.jobid)
    hook = "http://receiver/default"
    profiles = rig.engine.accounts
    await profiles.update_profile(OWNER, name=None, reply_url=hook, clear_reply_url=False)
    second = await rig.engine.imagine(OWNER, imagine())
    assert second.reply_url == hook
    assert reads == 1


# -- connections follow the stored accounts, whatever the interleaving ---------------------------


async def test_a_reset_racing_a_delete_leaves_the_account_disconnected(tmp_path: Path) -> None:
    async for rig in open_rig(tmp_path):
        account = await add(rig, TOKEN_A)
        rig.transport.attach_gate = asyncio.Event()
        reset = asyncio.create_task(rig.engine.accounts.reset(OWNER, account.channel))
        await asyncio.sleep(0)  # the reset is connecting
        await rig.engine.accounts.delete(OWNER, account.channel)
        rig.transport.attach_gate.set()
        with pytest.raises(NotFound):
            await reset
        assert account.channel not in rig.transport.attached


async def test_an_add_racing_a_delete_of_its_channel_stays_connected(tmp_path: Path) -> None:
    async for rig in open_rig(tmp_path):
        account = await add(rig, TOKEN_A)
        # The delete holds the channel while the add connects, then waits for it.
        delete = asyncio.create_task(rig.engine.accounts.delete(OWNER, account.channel))
        await asyncio.gather(delete, add(rig, TOKEN_A))
        assert rig.engine.accounts.find(account.channel) is not None
        assert account.channel in rig.transport.attached
