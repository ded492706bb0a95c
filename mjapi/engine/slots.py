"""Per-account slots: which jobs occupy each account right now."""

from __future__ import annotations


class AccountSlots:
    """Running jobs per account channel; a job holds its slot until it ends."""

    def __init__(self) -> None:
        self._by_channel: dict[str, set[str]] = {}
        self._channel_of: dict[str, str] = {}

    def occupy(self, channel: str, jobid: str) -> None:
        self._by_channel.setdefault(channel, set()).add(jobid)
        self._channel_of[jobid] = channel

    def release(self, jobid: str) -> None:
        channel = self._channel_of.pop(jobid, None)
        if channel is not None:
            self._by_channel[channel].discard(jobid)

    def running(self, channel: str) -> set[str]:
        return set(self._by_channel.get(channel, ()))

    def count(self, channel: str) -> int:
        return len(self._by_channel.get(channel, ()))

    def counts(self) -> dict[str, int]:
        return {channel: len(jobs) for channel, jobs in self._by_channel.items()}

    def holds(self, jobid: str) -> bool:
        return jobid in self._channel_of
