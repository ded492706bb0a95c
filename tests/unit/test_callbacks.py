"""Callback delivery against an in-process receiver (httpx.MockTransport), with a fake sleep."""

from __future__ import annotations

import json
import random

import httpx

from mjapi.webhooks.delivery import CallbackSender, RetryPolicy


class Receiver:
    """Records posted bodies; fails the first ``failures`` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.bodies: list[dict[str, object]] = []
        self.attempts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return httpx.Response(503)
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, text="ok")


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_callbacks_arrive_in_order_per_job() -> None:
    receiver, sleeps = Receiver(failures=2), Sleeps()
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        sender = CallbackSender(client, RetryPolicy(attempts=5), rng=random.Random(1), sleep=sleeps)
        for status in ("started", "progress", "completed"):
            sender.send("job-1", "http://receiver/cb", {"jobid": "job-1", "status": status})
        await sender.drain()
    assert [b["status"] for b in receiver.bodies] == ["started", "progress", "completed"]
    assert len(sleeps.delays) == 2
    assert all(0 <= d <= 60 for d in sleeps.delays)


async def test_a_dead_receiver_is_given_up_without_raising() -> None:
    receiver, sleeps = Receiver(failures=100), Sleeps()
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        sender = CallbackSender(client, RetryPolicy(attempts=3), sleep=sleeps)
        sender.send("job-1", "http://receiver/cb", {"jobid": "job-1"})
        await sender.drain()
    assert receiver.attempts == 3 and receiver.bodies == []


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(first_delay=1, max_delay=8)

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [policy.delay(n, Top()) for n in range(1, 6)] == [1, 2, 4, 8, 8]
