"""Applying transport events: each job's in arrival order, different jobs at the same time.

Applying an event is a store write; one at a time, the engine could not apply more events per
second than the store completes writes. Here every job has a *lane*: its events not yet applied,
in arrival order, drained by one task while it holds any. Lanes of different jobs run
concurrently, so their writes are in flight together (and the store may commit them together).
Account events (``AccountFlagged``/``AccountDisabled``) share one lane of their own.

Order guarantees:

- a job's events are applied one after the other, in arrival order;
- an account event is applied before every job event that arrived after it: each job event
  remembers the last account event received before it and is not applied until that one is.
  Transports report "account disabled" *before* the ``JobFailed`` it caused (transports/base.py),
  so whoever sees the job failed finds the account already marked;
- a job event that arrived *before* an account event may be applied after it. That only hides
  the account a little earlier from new jobs; the job's own change is the same.

Under load, progress is coalesced: a ``JobProgressed`` arriving while the previous event of its
lane is still waiting (not started) and is a ``JobProgressed`` too replaces it (``merge_progress``),
so a job falling behind writes and calls back its newest progress only; intermediate progress
callbacks are then skipped. At most ``limit`` events wait or are being applied: beyond that
``put`` waits, and the transport's own queue holds the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from mjapi.domain.events import AccountDisabled, AccountFlagged, BackendEvent, JobProgressed

log = logging.getLogger(__name__)

#: Events waiting or being applied at most (the rest stay in the transport's queue).
MAX_PENDING = 1000
#: Applies one event; expected to handle (and log) its own failures.
ApplyFn = Callable[[BackendEvent], Awaitable[None]]


def merge_progress(earlier: BackendEvent, later: BackendEvent) -> BackendEvent | None:
    """One event with the effect of ``earlier`` then ``later`` (same job), when there is one.

    Only for two ``JobProgressed``: ``apply_event`` takes message, content, timestamp and percent
    from each progress report and keeps a job hash once one was reported, and the job's status
    is ``progress`` after either. So ``later`` with ``earlier``'s hash (when it has none) makes the
    same change as both. Anything else: None (both are applied).
    """
    if not (isinstance(earlier, JobProgressed) and isinstance(later, JobProgressed)):
        return None
    if later.job_hash is None and earlier.job_hash is not None:
        return dataclasses.replace(later, job_hash=earlier.job_hash)
    return later


@dataclass
class _Waiting:
    event: BackendEvent
    #: resolved once the last account event received before ``event`` has been applied
    after: asyncio.Future[None] | None = None


class EventLanes:
    """Applies events per job in order and across jobs concurrently (see the module doc)."""

    def __init__(self, apply: ApplyFn, *, limit: int = MAX_PENDING) -> None:
        self._apply = apply
        self._limit = limit
        #: jobid -> its events not started yet; a lane exists while its task drains it
        self._jobs: dict[str, deque[_Waiting]] = {}
        self._accounts: deque[tuple[BackendEvent, asyncio.Future[None]]] = deque()
        self._accounts_draining = False
        self._last_account: asyncio.Future[None] | None = None
        self._pending = 0
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Events received and not yet applied."""
        return self._pending

    async def put(self, event: BackendEvent) -> None:
        """Hand ``event`` over for applying; waits while ``limit`` events are pending."""
        while self._pending >= self._limit:
            self._has_room.clear()
            await self._has_room.wait()
        if isinstance(event, AccountFlagged | AccountDisabled):
            self._put_account(event)
        else:
            self._put_job(event.jobid, event)

    async def settled(self) -> None:
        """Wait until every event put so far has been applied."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop applying: the lanes' tasks are cancelled and what they held is dropped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        self._accounts.clear()
        self._accounts_draining = False
        # Nothing is pending any more: whoever waits in settled() or for room is let go.
        self._pending = 0
        self._idle.set()
        self._has_room.set()

    def _put_account(self, event: BackendEvent) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last_account = done
        self._count_in()
        self._accounts.append((event, done))
        if not self._accounts_draining:
            self._accounts_draining = True
            self._spawn(self._drain_accounts(), "events: accounts")

    def _put_job(self, jobid: str, event: BackendEvent) -> None:
        after = self._last_account if self._last_account and not self._last_account.done() else None
        lane = self._jobs.get(jobid)
        if lane:
            merged = merge_progress(lane[-1].event, event)
            if merged is not None:
                # Account events are applied in order: the newer barrier covers the older one
                # (and when there is none, the older one has been applied too).
                lane[-1] = _Waiting(merged, after)
                return
        self._count_in()
        if lane is None:
            lane = self._jobs[jobid] = deque()
            self._spawn(self._drain_job(jobid, lane), f"events: {jobid}")
        lane.append(_Waiting(event, after))

    async def _drain_job(self, jobid: str, lane: deque[_Waiting]) -> None:
        try:
            while lane:
                waiting = lane.popleft()
                if waiting.after is not None and not waiting.after.done():
                    await asyncio.wait({waiting.after})  # wait() never cancels the future
                await self._apply_one(waiting.event)
        finally:
            # No await between the last emptiness check and here: nothing can join the lane.
            del self._jobs[jobid]

    async def _drain_accounts(self) -> None:
        try:
            while self._accounts:
                event, done = self._accounts.popleft()
                try:
                    await self._apply_one(event)
                finally:
                    done.set_result(None)
        finally:
            self._accounts_draining = False  # as for a job's lane: no await since the check

    async def _apply_one(self, event: BackendEvent) -> None:
        try:
            await self._apply(event)
        except Exception:
            log.exception("applying %s failed", type(event).__name__)
        finally:
            self._count_out()

    def _count_in(self) -> None:
        self._pending += 1
        self._idle.clear()

    def _count_out(self) -> None:
        self._pending -= 1
        if self._pending < self._limit:
            self._has_room.set()
        if not self._pending:
            self._idle.set()

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
