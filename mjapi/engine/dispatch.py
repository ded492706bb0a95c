"""Handing free slots to the jobs waiting in the durable queue.

Whenever a slot may have freed (a job ended, an account was reset or got more slots, a start-up
found queued jobs), ``soon(channel)`` schedules one dispatch pass for that account; passes of one
account never overlap. A pass looks the account up (in memory: accounts.py) and starts waiting
jobs, in the waiting room's order, while slots are free. An account that was removed or
disabled fails its waiting jobs: they could never run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from mjapi.domain.accounts import Account
from mjapi.engine.accounts import NO_CONFIGURATION
from mjapi.engine.routing import unusable_error
from mjapi.engine.slots import AccountSlots
from mjapi.engine.waiting import WaitingRoom
from mjapi.errors import MjapiError, NotFound

log = logging.getLogger(__name__)

#: Seconds a stopping engine lets submissions in flight finish.
STOP_GRACE = 5.0
#: The account of a channel as it is now; None when there is none.
LookupFn = Callable[[str], Account | None]
#: Claims a waiting job for a slot; False when it ended meanwhile (then it is skipped).
TakeFn = Callable[[str], bool]
#: Starts a waiting job on the account (its slot is already taken).
StartFn = Callable[[str, Account], Coroutine[Any, Any, None]]
#: Fails a waiting job that can never run.
FailFn = Callable[[str, MjapiError], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        lookup: LookupFn,
        slots: AccountSlots,
        take: TakeFn,
        start: StartFn,
        fail: FailFn,
    ) -> None:
        self.room = WaitingRoom()
        self._lookup = lookup
        self._slots = slots
        self._take = take
        self._start = start
        self._fail = fail
        self._passes: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def soon(self, channel: str) -> None:
        """Schedule a pass for ``channel`` unless one is running or nothing waits there."""
        if self.room.length(channel) and channel not in self._passes:
            self._passes.add(channel)
            self._spawn(self._pass(channel), f"dispatch {channel}")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let submissions in flight finish (bounded), so a stop does not submit a job twice."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _pass(self, channel: str) -> None:
        try:
            account = self._lookup(channel)
            if account is None or account.disabled_reason is not None:
                await self._fail_all(channel, account)
                return
            while account.eligible and self._slots.count(channel) < account.max_jobs:
                jobid = self.room.next(channel)
                if jobid is None:
                    return
                if self._take(jobid):
                    self._slots.occupy(channel, jobid)
                    self._spawn(self._start(jobid, account), f"submit {jobid}")
        except Exception:
            # The jobs stay waiting; the engine's watchdog schedules passes again.
            log.exception("dispatching the queue of %s failed", channel)
        finally:
            self._passes.discard(channel)

    async def _fail_all(self, channel: str, account: Account | None) -> None:
        error = unusable_error([account]) if account is not None else NotFound(NO_CONFIGURATION)
        while (jobid := self.room.next(channel)) is not None:
            await self._fail(jobid, error)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())
