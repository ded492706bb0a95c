"""In-memory stand-ins for what cannot be the real thing in a given test layer."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.events import BackendEvent, JobCompleted, JobStarted
from mjapi.errors import DiscordAuthError
from mjapi.transports.base import (
    BlendDimensions,
    ButtonTarget,
    DiscordIdentity,
    Resumable,
    ServerChannel,
    Setting,
    Upload,
)


class EventConsumer(Protocol):
    """What reads a transport's events (the engine)."""

    async def settled(self) -> None:
        """Wait until every event read so far has been applied."""
        ...


class FakeTransport:
    """A Midjourney backend that acknowledges at once and lets the test emit later events.

    Set ``consumer`` to the engine reading ``events()`` so that ``applied()`` can tell when the
    events emitted so far have been applied, not only read.
    """

    def __init__(self, *, auto_start: bool = True) -> None:
        self.auto_start = auto_start
        #: raised by the next imagine (any exception: tests also simulate bugs)
        self.fail_next: BaseException | None = None
        self.submitted: list[tuple[str, str, str]] = []
        self.attached: dict[str, Account] = {}
        self.forgotten: list[str] = []
        self.clicks: list[ButtonTarget] = []
        #: what Midjourney answers the next submissions with instead of "Waiting to start"
        #: (each entry makes the events for one jobid)
        self.answers: list[Callable[[str], list[BackendEvent]]] = []
        #: raised by the next attach
        self.attach_error: BaseException | None = None
        #: what ``resume`` was told, per channel, in call order
        self.resumed: dict[str, list[Resumable]] = {}
        #: channels in the order they were attached
        self.attach_order: list[str] = []
        #: when set, every attach waits until the event is set
        self.attach_gate: asyncio.Event | None = None
        self.consumer: EventConsumer | None = None
        self._events: asyncio.Queue[BackendEvent] = asyncio.Queue()

    async def identify(self, token: str) -> DiscordIdentity:
        if token.startswith("bad"):
            raise DiscordAuthError()
        digest = int(hashlib.sha256(token.encode()).hexdigest()[:12], 16)
        return DiscordIdentity(str(digest), f"user{digest % 1000}", str(10**17 + digest))

    async def attach(self, account: Account) -> None:
        if self.attach_gate is not None:
            await self.attach_gate.wait()  # a connection that takes its time
        if self.attach_error is not None:
            error, self.attach_error = self.attach_error, None
            raise error
        self.attached[account.channel] = account
        self.attach_order.append(account.channel)

    async def resume(self, account: Account, jobs: Sequence[Resumable]) -> None:
        self.resumed.setdefault(account.channel, []).extend(jobs)

    async def detach(self, channel: str) -> None:
        self.attached.pop(channel, None)

    async def identify_server_channel(self, token: str, channel: ServerChannel) -> DiscordIdentity:
        identity = await self.identify(token)
        return DiscordIdentity(identity.user_id, identity.username, identity.dm_channel_id)

    async def imagine(self, account: Account, jobid: str, prompt: str) -> str:
        return self._submit(account, jobid, prompt)

    async def button(
        self,
        account: Account,
        jobid: str,
        target: ButtonTarget,
        *,
        prompt: str | None = None,
        mask: str | None = None,
    ) -> str:
        self.clicks.append(target)
        return self._submit(account, jobid, target.custom_id)

    async def blend(
        self, account: Account, jobid: str, images: Sequence[Upload], dimensions: BlendDimensions
    ) -> str:
        return self._submit(account, jobid, f"blend of {len(images)} {dimensions.option}")

    async def describe(self, account: Account, jobid: str, image: Upload) -> str:
        return self._submit(account, jobid, f"describe {image.filename}")

    async def seed(self, account: Account, jobid: str, target: ButtonTarget) -> str:
        return self._submit(account, jobid, f"seed of {target.message_id}")

    async def setting(self, account: Account, jobid: str, setting: Setting) -> str:
        nonce = self._submit(account, jobid, setting.value, start=False)
        self.emit(JobCompleted(jobid, "reply", f"Done! {setting.value}", "t", (), (), None))
        return nonce

    def _submit(self, account: Account, jobid: str, what: str, *, start: bool = True) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.submitted.append((account.channel, jobid, what))
        if self.answers:
            for event in self.answers.pop(0)(jobid):
                self.emit(event)
        elif self.auto_start and start:
            self.emit(JobStarted(jobid, f"m-{len(self.submitted)}", f"**{what}** (Waiting)", "t"))
        return f"nonce-{len(self.submitted)}"

    def forget(self, channel: str, jobid: str) -> None:
        self.forgotten.append(jobid)

    def emit(self, event: BackendEvent) -> None:
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[BackendEvent]:
        while True:
            yield await self._events.get()
            # The consumer asks for the next event once it has taken this one in hand.
            self._events.task_done()

    async def applied(self) -> None:
        """Wait until the consumer has applied every event emitted so far (and any event that
        applying them emitted in turn)."""
        assert self.consumer is not None, "wire the engine: transport.consumer = engine"
        await asyncio.wait_for(self._quiet(self.consumer), 5)

    async def _quiet(self, consumer: EventConsumer) -> None:
        while True:
            await self._events.join()  # every event emitted is in the consumer's hands
            await consumer.settled()
            if self._events.empty():  # applying them emitted nothing new
                return

    async def close(self) -> None:
        return None


#: What a ``FakeCallbackClient`` does with a POST: answer this status, or raise this
#: (``CallFailed``, ``TimeoutError`` or ``Refused``, as the real client would).
Outcome = int | Exception


@dataclasses.dataclass(frozen=True)
class Posted:
    """One POST a ``FakeCallbackClient`` was asked to send."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    limit: float

    def json(self) -> dict[str, Any]:
        parsed = json.loads(self.body)
        assert isinstance(parsed, dict)
        return parsed


class FakeCallbackClient:
    """The outbox's ``CallbackClient`` in memory: records every POST, answers from a script.

    Each URL's POSTs take its scripted outcomes in order (``script``), then ``default``. While a
    URL has a gate in ``gates`` its POSTs wait for it, within their time limit as the real client
    does: a receiver that does not answer.
    """

    def __init__(self) -> None:
        self.default: Outcome = 200
        self.gates: dict[str, asyncio.Event] = {}
        #: every POST, in the order they were sent
        self.posted: list[Posted] = []
        #: the POSTs answered 2xx (what a receiver took in)
        self.delivered: list[Posted] = []
        self.closed = False
        self._scripts: dict[str, deque[Outcome]] = {}
        self._posting = asyncio.Condition()

    def script(self, url: str, *outcomes: Outcome) -> None:
        """The next POSTs to ``url`` meet ``outcomes``, one each, before ``default`` applies."""
        self._scripts.setdefault(url, deque()).extend(outcomes)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], limit: float) -> int:
        posted = Posted(url, body, dict(headers), limit)
        self.posted.append(posted)
        async with self._posting:
            self._posting.notify_all()
        gate = self.gates.get(url)
        if gate is not None:
            async with asyncio.timeout(limit):
                await gate.wait()
        script = self._scripts.get(url)
        outcome = script.popleft() if script else self.default
        if isinstance(outcome, Exception):
            raise outcome
        if 200 <= outcome < 300:
            self.delivered.append(posted)
        return outcome

    async def posts_reach(self, count: int) -> None:
        """Once ``count`` POSTs have been sent (answered or not)."""
        async with self._posting:
            await self._posting.wait_for(lambda: len(self.posted) >= count)

    async def aclose(self) -> None:
        self.closed = True

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The delivered callbacks' JSON bodies, in arrival order."""
        return [p.json() for p in self.delivered]

    def statuses(self, jobid: str) -> list[object]:
        return [b["status"] for b in self.bodies if b["jobid"] == jobid]


class MemoryDeliveries:
    """The outbox part of a store, in memory (unit tests of the delivery worker).

    Same semantics as ``DeliveryStore`` (the contract suite checks the real stores); ``recorded``
    lists every ``record_attempt`` call so tests can see what was written.
    """

    def __init__(self) -> None:
        self.rows: dict[str, Delivery] = {}
        self.secrets: dict[int, str] = {}
        self.recorded: list[tuple[str, Attempt, DeliveryStatus]] = []
        self._seq = 0

    def add(self, delivery: Delivery) -> Delivery:
        """What ``save_job(job, delivery)`` stores."""
        self._seq += 1
        stored = dataclasses.replace(delivery, seq=self._seq)
        self.rows[delivery.event_id] = stored
        return stored

    async def pending_deliveries(self) -> list[Delivery]:
        pending = [d for d in self.rows.values() if d.status is DeliveryStatus.PENDING]
        return sorted(pending, key=lambda d: d.seq)

    async def record_attempt(
        self,
        event_id: str,
        attempt: Attempt,
        status: DeliveryStatus,
        next_attempt: datetime,
        superseded: Sequence[str] = (),
    ) -> None:
        self.recorded.append((event_id, attempt, status))
        row = self.rows[event_id]
        self.rows[event_id] = row.with_attempt(attempt, status, next_attempt)
        for gone in superseded:
            dropped = self.rows.get(gone)
            if dropped and dropped.status is DeliveryStatus.PENDING and not dropped.attempts:
                del self.rows[gone]

    async def get_delivery(self, event_id: str) -> Delivery | None:
        return self.rows.get(event_id)

    async def list_deliveries(
        self,
        owner: int,
        *,
        jobid: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        found = [
            d
            for d in self.rows.values()
            if d.owner == owner and jobid in (None, d.jobid) and status in (None, d.status)
        ]
        return sorted(found, key=lambda d: -d.seq)[:limit]

    async def replay_delivery(
        self, event_id: str, next_attempt: datetime, expires: datetime
    ) -> Delivery | None:
        row = self.rows.get(event_id)
        if row is None:
            return None
        fresh = dataclasses.replace(
            row, status=DeliveryStatus.PENDING, next_attempt=next_attempt, expires=expires
        )
        self.rows[event_id] = fresh
        return fresh

    async def prune_deliveries(self, before: datetime) -> int:
        old = [
            e
            for e, d in self.rows.items()
            if d.status is not DeliveryStatus.PENDING and d.created < before
        ]
        for event_id in old:
            del self.rows[event_id]
        return len(old)

    async def webhook_secret(self, user_id: int) -> str | None:
        return self.secrets.get(user_id)

    async def put_webhook_secret(self, user_id: int, secret: str) -> None:
        self.secrets[user_id] = secret
