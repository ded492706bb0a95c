"""At most so many callback attempts in flight to one receiver host, results let in first.

A receiver that takes callbacks more slowly than mjapi makes them collects a queue in front of
its gate: at 3,000 concurrent jobs, each reporting progress every second, one receiver had
thousands of attempts waiting behind ``MJAPI_CALLBACK_CONCURRENCY`` in flight, and a job's
``completed`` callback, the one carrying its images, waited seconds behind other jobs'
``progress`` reports (bench/README.md). A receiver's clients are usually waiting for results, and
a progress report is stale a second later anyway, so the gate lets *urgent* attempts in first:
those of a lane that holds a job's last callback (the outbox says which, and makes an attempt
already waiting urgent when its job's result joins the lane). Within each kind it is first
come, first served. Reports wait only while results are queued: a receiver too slow even for
the results alone holds the reports back as long as that lasts.

An ``asyncio.Semaphore`` with two queues of waiters, and the same hand-over on cancellation: a
waiter cancelled after it was let in passes its place on, so no place is ever lost.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Ticket:
    """One attempt's turn at a gate; ``make_urgent`` moves it ahead while it waits."""

    __slots__ = ("place", "urgent", "urgent_queue")

    def __init__(self, urgent: bool = False) -> None:
        self.urgent = urgent
        #: set by the gate while the attempt waits: the future a ``leave`` resolves, and the
        #: gate's queue of urgent waiters
        self.place: asyncio.Future[None] | None = None
        self.urgent_queue: deque[asyncio.Future[None]] | None = None

    def make_urgent(self) -> None:
        """From now on urgent; if waiting in the others' queue, it is queued as urgent too.

        The future then sits in both queues; whichever ``leave`` reaches it first lets it in,
        and the other entry is skipped as done, as a cancelled waiter's is.
        """
        if self.urgent:
            return
        self.urgent = True
        place, queue = self.place, self.urgent_queue
        if place is not None and queue is not None and not place.done():
            queue.append(place)


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
        """Attempts still waiting for a place (a gauge: counts the queues' live entries)."""
        return len({id(p) for p in (*self._urgent, *self._others) if not p.done()})

    async def enter(self, ticket: Ticket) -> None:
        """Take a place: at once while one is free and nobody waits, else in turn."""
        if self._inside < self._limit and not self._urgent and not self._others:
            self._inside += 1
            return
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if ticket.urgent else self._others).append(place)
        ticket.place, ticket.urgent_queue = place, self._urgent
        try:
            await place
        except asyncio.CancelledError:
            if place.done() and not place.cancelled():
                self.leave()  # let in, then cancelled before it could use the place
            raise
        finally:
            ticket.place = ticket.urgent_queue = None

    def leave(self) -> None:
        """Free a place: it goes to the next waiter still waiting, urgent ones first."""
        for queue in (self._urgent, self._others):
            while queue:
                place = queue.popleft()
                if not place.done():  # cancelled, or let in through its other entry: skip it
                    place.set_result(None)  # the place changes hands; inside stays
                    return
        self._inside -= 1
