"""At most so many callback attempts in flight to one receiver host, results let in first.

A receiver that takes callbacks more slowly than mjapi makes them collects a queue in front of
its gate: at 3,000 concurrent jobs, each reporting progress every second, one receiver had
thousands of attempts waiting behind ``MJAPI_CALLBACK_CONCURRENCY`` in flight, and a job's
``completed`` callback, the one carrying its images, waited seconds behind other jobs'
``progress`` reports (bench/README.md). A receiver's clients are usually waiting for results, and
a progress report is stale a second later anyway, so the gate lets *urgent* attempts in first:
those of a lane that holds a job's last callback (the outbox says which). Within each kind it is
first come, first served. Nothing starves: urgent attempts are bounded by the jobs that end.

An ``asyncio.Semaphore`` with two queues of waiters, and the same hand-over on cancellation: a
waiter cancelled after it was let in passes its place on, so no place is ever lost.
"""

from __future__ import annotations

import asyncio
from collections import deque


class HostGate:
    """``limit`` places; ``enter`` waits for one (urgent waiters first), ``leave`` frees it."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a gate needs at least one place")
        self._limit = limit
        self._inside = 0
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @property
    def inside(self) -> int:
        """Attempts holding a place now."""
        return self._inside

    @property
    def waiting(self) -> int:
        """Attempts waiting for a place (some may have been cancelled meanwhile)."""
        return len(self._urgent) + len(self._others)

    async def enter(self, urgent: bool) -> None:
        """Take a place: at once while one is free and nobody waits, else in turn."""
        if self._inside < self._limit and not self._urgent and not self._others:
            self._inside += 1
            return
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._others).append(place)
        try:
            await place
        except asyncio.CancelledError:
            if place.done() and not place.cancelled():
                self.leave()  # let in, then cancelled before it could use the place
            raise

    def leave(self) -> None:
        """Free a place: it goes to the next waiter still waiting, urgent ones first."""
        for queue in (self._urgent, self._others):
            while queue:
                place = queue.popleft()
                if not place.done():  # a cancelled waiter's future is done: skip it
                    place.set_result(None)  # the place changes hands; inside stays
                    return
        self._inside -= 1
