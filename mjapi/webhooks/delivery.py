"""Callback delivery: POST the job JSON to ``replyUrl``, in order per job, never blocking jobs.

Each job's callbacks form a chain: a delivery starts only after the previous one for the same job
has succeeded or been given up, so a receiver sees ``started`` before ``progress`` before
``completed``. Failures are retried with exponential backoff; a receiver that stays down only
delays its own callbacks.

The client is an ``mjapi.net.Outbound`` client, so every attempt's connection is checked against
the URL guard as it opens: a ``replyUrl`` whose host now resolves to a private address is refused
there, logged and counted as a failed attempt; nothing is sent. (A kept-alive connection is
reused only for the address that was checked when it opened.)
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mjapi.net.guard import Refused

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one callback is attempted."""

    attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before attempt number ``failures + 1``."""
        ceiling = min(self.max_delay, self.first_delay * 2 ** (failures - 1))
        return rng.uniform(0, ceiling)


class CallbackSender:
    """Delivers callbacks in the background, in order per job."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        policy: RetryPolicy | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._tails: dict[str, asyncio.Task[None]] = {}

    def send(self, jobid: str, url: str, body: dict[str, Any]) -> None:
        """Queue a callback; it goes out after the job's earlier callbacks."""
        previous = self._tails.get(jobid)
        task = asyncio.create_task(self._after(previous, url, body), name=f"callback {jobid}")
        self._tails[jobid] = task
        task.add_done_callback(lambda t: self._forget(jobid, t))

    async def drain(self) -> None:
        """Wait until every queued callback was delivered or given up."""
        while self._tails:
            await asyncio.gather(*self._tails.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop delivering: pending callbacks are abandoned."""
        tasks = list(self._tails.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, jobid: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(jobid) is task:
            del self._tails[jobid]

    async def _after(
        self, previous: asyncio.Task[None] | None, url: str, body: dict[str, Any]
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self._deliver(url, body)

    async def _deliver(self, url: str, body: dict[str, Any]) -> None:
        for attempt in range(1, self._policy.attempts + 1):
            if await self._attempt(url, body):
                return
            if attempt < self._policy.attempts:
                await self._sleep(self._policy.delay(attempt, self._rng))
        log.warning("callback for %s gave up after %d attempts", body.get("jobid"), attempt)

    async def _attempt(self, url: str, body: dict[str, Any]) -> bool:
        try:
            # Streamed and never read: a receiver's answer body is not ours to hold in memory.
            async with self._client.stream("POST", url, json=body) as response:
                status = response.status_code
        except Refused as refusal:
            log.warning("callback for %s to %s refused: %s", body.get("jobid"), url, refusal.why)
            return False
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.info("callback for %s to %s failed: %s", body.get("jobid"), url, exc)
            return False
        if 200 <= status < 300:
            return True
        log.info("callback for %s answered %d", body.get("jobid"), status)
        return False
