"""The per-receiver gate of callback attempts: its limit, its order, and cancelled waiters."""

from __future__ import annotations

import asyncio
import random

import pytest

from mjapi.webhooks.host_gate import HostGate, Ticket

#: the gate runs on uvloop in the server: its futures and cancellation are checked there too
pytestmark = pytest.mark.both_loops


async def turns(count: int = 5) -> None:
    """Let the event loop run ``count`` times (no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def enter(
    gate: HostGate, name: str, entered: list[str], ticket: Ticket | None = None
) -> None:
    await gate.enter(ticket or Ticket())
    entered.append(name)


async def full_gate() -> tuple[HostGate, list[str]]:
    """A gate of one place, taken, and the list its waiters add their names to once let in."""
    gate = HostGate(1)
    await gate.enter(Ticket())
    return gate, []


def test_a_gate_needs_a_place() -> None:
    with pytest.raises(ValueError):
        HostGate(0)


async def test_no_more_than_the_limit_are_inside() -> None:
    gate, entered = HostGate(2), list[str]()
    tasks = [asyncio.create_task(enter(gate, name, entered)) for name in "abc"]
    await turns()
    assert entered == ["a", "b"]
    assert (gate.inside, gate.waiting) == (2, 1)
    gate.leave()
    await turns()
    assert entered == ["a", "b", "c"]
    assert (gate.inside, gate.waiting) == (2, 0)
    gate.leave()
    gate.leave()
    assert gate.inside == 0
    await asyncio.gather(*tasks)


async def test_urgent_waiters_go_first_and_each_kind_in_arrival_order() -> None:
    gate, entered = await full_gate()
    kinds = [("p1", False), ("r1", True), ("p2", False), ("r2", True)]
    tasks = []
    for name, urgent in kinds:
        tasks.append(asyncio.create_task(enter(gate, name, entered, Ticket(urgent))))
        await turns(1)  # arrival order as listed
    for _ in kinds:
        gate.leave()
        await turns()
    assert entered == ["r1", "r2", "p1", "p2"]
    await asyncio.gather(*tasks)


@pytest.mark.parametrize("promoted", [False, True], ids=["urgent", "made-urgent-while-waiting"])
async def test_a_waiter_cancelled_while_waiting_takes_no_place(promoted: bool) -> None:
    gate, entered = await full_gate()
    ticket = Ticket(urgent=not promoted)
    cancelled = asyncio.create_task(enter(gate, "gone", entered, ticket))
    later = asyncio.create_task(enter(gate, "later", entered))
    await turns()
    if promoted:
        ticket.make_urgent()  # now queued twice
    cancelled.cancel()
    await turns()
    gate.leave()
    await turns()
    assert entered == ["later"]
    assert (gate.inside, gate.waiting) == (1, 0)
    ticket.make_urgent()  # after it gave up: nothing to move
    await later


async def test_a_waiter_cancelled_after_it_was_let_in_passes_its_place_on() -> None:
    gate, entered = await full_gate()
    first = asyncio.create_task(enter(gate, "first", entered))
    second = asyncio.create_task(enter(gate, "second", entered))
    await turns()
    gate.leave()  # "first" is let in ...
    first.cancel()  # ... and cancelled before it runs again
    await turns()
    assert first.cancelled()
    assert entered == ["second"]
    assert gate.inside == 1
    gate.leave()
    assert (gate.inside, gate.waiting) == (0, 0)
    await second


async def test_a_free_place_is_taken_without_suspending() -> None:
    gate = HostGate(2)
    for _ in range(2):
        entering = gate.enter(Ticket())
        with pytest.raises(StopIteration):
            entering.send(None)  # finished at the first step: it never waited
    assert gate.inside == 2


async def test_a_waiter_made_urgent_goes_ahead_of_those_that_are_not() -> None:
    gate, entered = await full_gate()
    promoted = Ticket()
    tasks = [
        asyncio.create_task(enter(gate, "first", entered)),
        asyncio.create_task(enter(gate, "promoted", entered, promoted)),
        asyncio.create_task(enter(gate, "urgent", entered, Ticket(urgent=True))),
    ]
    await turns()
    promoted.make_urgent()  # while it waits: behind the urgent one already queued
    assert gate.waiting == 3  # queued twice, counted once
    for _ in tasks:
        gate.leave()
        await turns()
    assert entered == ["urgent", "promoted", "first"]
    assert (gate.inside, gate.waiting) == (1, 0)
    await asyncio.gather(*tasks)


async def test_a_promoted_waiter_is_let_in_once() -> None:
    gate, entered = await full_gate()
    promoted = Ticket()
    tasks = [asyncio.create_task(enter(gate, "promoted", entered, promoted))]
    await turns()
    promoted.make_urgent()
    tasks.append(asyncio.create_task(enter(gate, "next", entered)))
    await turns()
    gate.leave()  # through its urgent entry
    await turns()
    gate.leave()  # its other entry is skipped: the place goes to "next"
    await turns()
    assert entered == ["promoted", "next"]
    assert gate.inside == 1
    gate.leave()
    assert (gate.inside, gate.waiting) == (0, 0)
    await asyncio.gather(*tasks)


@pytest.mark.parametrize("seed", range(0, 200, 8))
async def test_random_schedules_lose_no_place_and_strand_no_waiter(seed: int) -> None:
    """Entering, leaving, promoting and cancelling at random (eight seeds per case, loop turns
    only): the places inside never exceed the limit and are never fewer than the holders, a free
    place never leaves a live waiter behind, and cancelling everyone frees every place."""
    for case in range(seed, seed + 8):
        await _random_schedule(random.Random(case))


async def _random_schedule(rng: random.Random) -> None:
    limit = rng.randint(1, 3)
    gate, holders = HostGate(limit), dict[int, asyncio.Event]()
    tickets: dict[int, Ticket] = {}
    tasks: list[asyncio.Task[None]] = []

    async def user(number: int) -> None:
        ticket = tickets[number] = Ticket(urgent=rng.random() < 0.4)
        await gate.enter(ticket)
        done = holders[number] = asyncio.Event()
        try:
            await done.wait()  # hold the place until told to leave, or cancelled
        finally:
            del holders[number]
            gate.leave()

    for step in range(150):
        roll = rng.random()
        if roll < 0.35:
            tasks.append(asyncio.create_task(user(step)))
        elif roll < 0.55 and holders:
            holders[rng.choice(sorted(holders))].set()
        elif roll < 0.7 and tasks:
            rng.choice(tasks).cancel()
        elif roll < 0.85 and tickets:
            tickets[rng.choice(sorted(tickets))].make_urgent()
        elif roll < 0.88:
            for task in tasks:
                task.cancel()
        await turns(rng.randint(0, 2))
        assert len(holders) <= gate.inside <= limit
        assert gate.inside == limit or gate.waiting == 0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert (gate.inside, gate.waiting) == (0, 0)
