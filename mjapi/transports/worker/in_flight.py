"""The server side's record of jobs submitted through the worker, to resume them in a new one.

A worker that dies takes its correlators with it: the jobs it was following would no longer be
recognised. The server keeps, per job, the keys a ``Resumable`` needs (the nonce the worker
returned, the message id and job hash its events reported, the clicked message), so a new
worker adopts them and reads the channel history for what it missed, as after a restart.
Pure: no I/O, the caller passes the time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mjapi.domain.events import (
    BackendEvent,
    JobCompleted,
    JobFailed,
    JobProgressed,
    JobStarted,
)
from mjapi.transports.base import ButtonTarget, Resumable


class InFlight:
    """Jobs submitted and not ended, by channel."""

    def __init__(self) -> None:
        self._jobs: dict[str, Resumable] = {}
        self._channels: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def submitting(
        self,
        channel: str,
        jobid: str,
        verb: str,
        now: datetime,
        parent: ButtonTarget | None = None,
    ) -> None:
        """A submission is on its way (its events may come before its nonce)."""
        self._jobs[jobid] = Resumable(jobid=jobid, verb=verb, created=now, parent=parent)
        self._channels[jobid] = channel

    def adopt(self, channel: str, job: Resumable) -> None:
        """A job resumed after a restart: its stored keys, as the engine gave them."""
        self._jobs[job.jobid] = job
        self._channels[job.jobid] = channel

    def submitted(self, jobid: str, nonce: str) -> None:
        job = self._jobs.get(jobid)
        if job is not None:
            self._jobs[jobid] = replace(job, nonce=nonce)

    def observe(self, event: BackendEvent) -> None:
        """Keep the keys an event reports; an ended job is forgotten."""
        if isinstance(event, JobCompleted | JobFailed):
            self.forget(event.jobid)
        elif isinstance(event, JobStarted | JobProgressed):
            # not JobQueued: the engine keeps no message id of it either (a "Job queued"
            # notice is no progress message, and adopting it as one would hide the JobStarted)
            job = self._jobs.get(event.jobid)
            if job is None:
                return
            job_hash = getattr(event, "job_hash", None) or job.job_hash
            if job.message_id != event.message_id or job.job_hash != job_hash:
                self._jobs[event.jobid] = replace(
                    job, message_id=event.message_id, job_hash=job_hash
                )

    def forget(self, jobid: str) -> None:
        self._jobs.pop(jobid, None)
        self._channels.pop(jobid, None)

    def forget_channel(self, channel: str) -> None:
        for jobid in [job for job, where in self._channels.items() if where == channel]:
            self.forget(jobid)

    def of_channel(self, channel: str) -> list[Resumable]:
        return [self._jobs[job] for job, where in self._channels.items() if where == channel]
