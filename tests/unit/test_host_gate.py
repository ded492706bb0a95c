"""The per-receiver gate of callback attempts: its limit, its order, and cancelled waiters."""

from __future__ import annotations

import asyncio

import pytest

from mjapi.webhooks.host_gate import HostGate


async def turns(count: int = 5) -> None:
    """Let the event loop run ``count`` times (no time passes)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def enter(gate: HostGate, name: str, entered: list[str], *, urgent: bool = False) -> None:
    await gate.enter(urgent)
    entered.append(name)


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
    gate, entered = HostGate(1), list[str]()
    await gate.enter(False)  # the one place is taken
    kinds = [("p1", False), ("r1", True), ("p2", False), ("r2", True)]
    tasks = []
    for name, urgent in kinds:
        tasks.append(asyncio.create_task(enter(gate, name, entered, urgent=urgent)))
        await turns(1)  # arrival order as listed
    for _ in kinds:
        gate.leave()
        await turns()
    assert entered == ["r1", "r2", "p1", "p2"]
    await asyncio.gather(*tasks)


async def test_a_waiter_cancelled_while_waiting_takes_no_place() -> None:
    gate, entered = HostGate(1), list[str]()
    await gate.enter(False)
    cancelled = asyncio.create_task(enter(gate, "gone", entered, urgent=True))
    later = asyncio.create_task(enter(gate, "later", entered))
    await turns()
    cancelled.cancel()
    await turns()
    gate.leave()
    await turns()
    assert entered == ["later"]
    assert (gate.inside, gate.waiting) == (1, 0)
    await later


async def test_a_waiter_cancelled_after_it_was_let_in_passes_its_place_on() -> None:
    gate, entered = HostGate(1), list[str]()
    await gate.enter(False)
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
        entering = gate.enter(False)
        with pytest.raises(StopIteration):
            entering.send(None)  # finished at the first step: it never waited
    assert gate.inside == 2
