"""The durable queue's order: per account, first come first served per API user, users in turn.

The queue itself is the ``created`` jobs in the store (nothing else is written, so it survives a
crash as the jobs do); this is the in-memory order in which they get a free slot. Each account
serves its waiting users round-robin, and each user's jobs in arrival order, so one user with a
thousand jobs waiting cannot starve another with one.

A job is counted against its account's queue from the moment its account is chosen
(``reserve``), while it is still being stored: concurrent requests then see each other and
spread over the accounts instead of all picking the same "shortest" queue.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque


class WaitingRoom:
    """Jobs waiting for a slot, by account channel."""

    def __init__(self) -> None:
        #: channel -> owner -> jobids; the owners' order is whose turn comes next
        self._channels: dict[str, OrderedDict[int, deque[str]]] = {}
        self._where: dict[str, tuple[str, int]] = {}
        self._per_owner: Counter[int] = Counter()
        #: places promised to jobs still being stored, per channel and per owner
        self._reserved: Counter[str] = Counter()
        self._reserved_by: Counter[int] = Counter()

    def reserve(self, channel: str, owner: int) -> None:
        """Count a job that will be ``add``-ed with ``reserved=True`` (or ``release``-d)."""
        self._reserved[channel] += 1
        self._reserved_by[owner] += 1

    def release(self, channel: str, owner: int) -> None:
        """Give up a reservation: the job will not wait after all (not stored, cancelled)."""
        self._reserved[channel] -= 1
        self._reserved_by[owner] -= 1
        if not self._reserved[channel]:
            del self._reserved[channel]
        if not self._reserved_by[owner]:
            del self._reserved_by[owner]

    def add(self, channel: str, owner: int, jobid: str, *, reserved: bool = False) -> None:
        """Queue ``jobid``; ``reserved``: it takes the place ``reserve`` kept for it."""
        if reserved:
            self.release(channel, owner)
        owners = self._channels.setdefault(channel, OrderedDict())
        owners.setdefault(owner, deque()).append(jobid)
        self._where[jobid] = (channel, owner)
        self._per_owner[owner] += 1

    def remove(self, jobid: str) -> bool:
        """Take a job out (cancelled, failed); False when it was not waiting."""
        where = self._where.pop(jobid, None)
        if where is None:
            return False
        channel, owner = where
        owners = self._channels[channel]
        owners[owner].remove(jobid)
        self._drop_if_empty(channel, owner)
        self._per_owner[owner] -= 1
        return True

    def next(self, channel: str) -> str | None:
        """The job whose turn it is on ``channel`` (taken out), or None."""
        owners = self._channels.get(channel)
        if not owners:
            return None
        owner, jobs = next(iter(owners.items()))
        jobid = jobs.popleft()
        owners.move_to_end(owner)  # the next user's turn
        del self._where[jobid]
        self._per_owner[owner] -= 1
        self._drop_if_empty(channel, owner)
        return jobid

    def waiting(self, owner: int) -> int:
        """How many of ``owner``'s jobs wait or are about to (the per-user bound)."""
        return self._per_owner[owner] + self._reserved_by[owner]

    def length(self, channel: str) -> int:
        """Jobs waiting on ``channel``, counting the reserved places."""
        queued = sum(len(jobs) for jobs in self._channels.get(channel, {}).values())
        return queued + self._reserved[channel]

    def channels(self) -> list[str]:
        """Channels with jobs waiting."""
        return list(self._channels)

    def holds(self, jobid: str) -> bool:
        return jobid in self._where

    def __len__(self) -> int:
        return len(self._where)

    def _drop_if_empty(self, channel: str, owner: int) -> None:
        owners = self._channels[channel]
        if not owners[owner]:
            del owners[owner]
        if not owners:
            del self._channels[channel]
