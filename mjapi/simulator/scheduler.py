"""Midjourney's per-user job queue: a few jobs run, some more wait, the rest are refused.

Pure bookkeeping (no asyncio): the bot asks ``admit`` when a job arrives and ``finish`` when one
ends, and plays whatever these answer.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Generic, TypeVar

JobT = TypeVar("JobT")


class Admission(Enum):
    """What Midjourney does with a new job."""

    #: a slot is free: the job starts now
    START = "start"
    #: every slot is busy: "Job queued", the job starts when one frees (capture 14)
    QUEUE = "queue"
    #: the wait queue is full too: "Queue full", the job never runs (reference §4)
    REJECT = "reject"


class JobQueue(Generic[JobT]):
    """One user's running jobs and waiting jobs."""

    def __init__(self, concurrency: int, wait_limit: int) -> None:
        self.concurrency = concurrency
        self.wait_limit = wait_limit
        self.running = 0
        self.waiting: deque[JobT] = deque()

    def admit(self, job: JobT) -> Admission:
        if self.running < self.concurrency:
            self.running += 1
            return Admission.START
        if len(self.waiting) < self.wait_limit:
            self.waiting.append(job)
            return Admission.QUEUE
        return Admission.REJECT

    def finish(self) -> JobT | None:
        """A running job ended; the waiting job that takes its slot, if any."""
        # after a plan downgrade more jobs run than the plan allows: the slot is not handed on
        if self.waiting and self.running <= self.concurrency:
            return self.waiting.popleft()
        self.running -= 1
        return None

    def resize(self, concurrency: int) -> list[JobT]:
        """The plan changed: the waiting jobs that start now in the new free slots."""
        self.concurrency = concurrency
        starting: list[JobT] = []
        while self.waiting and self.running < self.concurrency:
            self.running += 1
            starting.append(self.waiting.popleft())
        return starting
