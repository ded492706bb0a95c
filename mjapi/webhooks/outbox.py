"""The webhook outbox worker: delivers stored callbacks, in order per job, until they arrive.

The engine stores each callback with the job change it reports (``Store.save_job(job,
delivery)``) and then hands it here. Each job has a lane: its callbacks go out one after the
other, a later one only once the earlier one was delivered or given up, so a receiver sees
``started`` before ``progress`` before ``completed``. A failed attempt is retried with
exponential backoff and full jitter until the delivery's ``expires`` (24 h by default); every
attempt is recorded. At start-up every pending delivery is loaded again, so a crash delays
callbacks but never loses one (a progress report a newer one supersedes is skipped, see below,
after a restart as before it).

A receiver that falls behind gets each job's newest state, not a backlog of stale ones: when a lane
holds a ``progress`` report never attempted and a newer callback of the job waits behind it, the
report is skipped -- as if the engine had merged the two progress updates
(``event_lanes.merge_progress``), which it does when the events themselves wait. Nothing with a
recorded attempt is skipped (an attempt cut short by a crash before it was recorded is not): such a
callback, a ``started`` or the job's last callback always goes out, and each job's order is kept. A
skipped report leaves the lane at once and the store with the lane's next recorded attempt
(``record_attempt(..., superseded)``), in the same write: deleting each in a write of its own cost
more than sending it had, at the load where skipping matters. Until then it is still stored, so a
restart resumes it and skips it again. A callback replayed by its owner is sent, never skipped, and
does not make the reports before it stale: it is an old state sent again, not a newer one.

Isolation: lanes are independent tasks, and concurrency is limited per receiver host, so a
receiver that is down or slow holds up only its own callbacks, never jobs (the engine never
waits for this worker) nor other receivers. When a receiver's attempts queue at its limit, the
lanes holding a job's last callback go first (``HostGate``): results before progress reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from mjapi import jsontext
from mjapi.clock import Clock
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Job, JobStatus
from mjapi.domain.model import job_model
from mjapi.errors import NotFound
from mjapi.storage.base import DeliveryStore
from mjapi.webhooks.host_gate import HostGate, Ticket
from mjapi.webhooks.policy import RetryPolicy
from mjapi.webhooks.post import CallbackClient, post
from mjapi.webhooks.secrets_book import SecretBook

log = logging.getLogger(__name__)

#: How often delivered and failed callbacks older than the retention are deleted.
PRUNE_INTERVAL = 3600.0

#: The ``event`` of a job's last callback: once sent, its lane is done for good.
LAST_EVENTS = frozenset(status.value for status in JobStatus if status.terminal)

#: The only callbacks a newer one of their job may supersede: later progress makes them moot.
SUPERSEDABLE = JobStatus.PROGRESS.value

#: Waits ``seconds`` unless the event is set first (a replay asks for an attempt now).
Pause = Callable[[asyncio.Event, float], Awaitable[None]]


async def pause_unless_nudged(nudge: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(nudge.wait(), max(0.0, seconds))
    nudge.clear()


@dataclass
class _Lane:
    """One job's callbacks still to deliver, oldest first."""

    waiting: deque[Delivery] = field(default_factory=deque)
    nudge: asyncio.Event = field(default_factory=asyncio.Event)
    #: the turn at the receiver's gate of the attempt being made, while there is one
    ticket: Ticket | None = None
    #: event ids skipped as superseded, to delete from the store with the lane's next record
    superseded: list[str] = field(default_factory=list)
    #: event ids replayed and not attempted since: neither skipped nor newer than the others
    replayed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class OutboxConfig:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    #: seconds one attempt may take, from connecting to reading the answer (see post.py)
    timeout: float = 10.0
    #: attempts in flight at once per receiver host
    per_host: int = 64
    #: seconds delivered and failed callbacks are kept for listing
    retention: float = 7 * 86400.0


class Outbox:
    """Delivers callbacks; the engine's ``Callbacks`` port."""

    def __init__(
        self,
        store: DeliveryStore,
        client: CallbackClient,
        clock: Clock,
        config: OutboxConfig | None = None,
        *,
        rng: random.Random | None = None,
        pause: Pause = pause_unless_nudged,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._config = config or OutboxConfig()
        self._rng = rng or random.Random()
        self._pause = pause
        self.secrets = SecretBook(store)
        self._lanes: dict[str, _Lane] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: host -> (its attempts' gate, lanes using it); dropped when unused
        self._hosts: dict[str, tuple[HostGate, int]] = {}
        self._pruner: asyncio.Task[None] | None = None
        self._closed = False
        #: notified after every recorded attempt while a draining shutdown watches it
        self._settled = asyncio.Condition()
        self._draining = 0
        #: skipped as superseded but maybe still stored, and being replayed (how many replays
        #: of each are in the store's hands): never both at once
        self._superseded: set[str] = set()
        self._replaying: Counter[str] = Counter()

    # -- the engine's side ----------------------------------------------------------------

    def prepare(self, job: Job, now: datetime) -> Delivery:
        """The callback reporting ``job`` as it is now (to be stored with the change)."""
        assert job.reply_url is not None
        body = jsontext.dumps(job_model(job))
        return Delivery(
            event_id=new_event_id(now),
            jobid=job.jobid,
            owner=job.owner,
            url=job.reply_url,
            event=job.status.value,
            body=body,
            created=now,
            next_attempt=now,
            expires=self._config.policy.expires(now),
        )

    def enqueue(self, delivery: Delivery) -> None:
        """Deliver ``delivery`` after the job's earlier callbacks (it is already stored).

        After ``close`` nothing is sent: the stored delivery is resumed by the next start.
        """
        if self._closed:
            return
        lane = self._lanes.setdefault(delivery.jobid, _Lane())
        if _position(lane.waiting, delivery.event_id) is None:
            lane.waiting.append(delivery)
            if delivery.event in LAST_EVENTS and lane.ticket is not None:
                lane.ticket.make_urgent()  # the attempt before it now carries a result too
        self._ensure_running(delivery.jobid)

    def _ensure_running(self, jobid: str) -> None:
        if jobid not in self._tasks:
            self._tasks[jobid] = asyncio.create_task(self._run(jobid), name=f"callbacks {jobid}")

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume every pending delivery (in creation order) and start pruning old ones."""
        pending = await self._store.pending_deliveries()
        for delivery in pending:
            self.enqueue(delivery)
        if pending:
            log.info("resuming %d pending callbacks", len(pending))
        self._pruner = asyncio.create_task(self._prune_regularly(), name="callbacks pruner")

    async def drain(self, seconds: float) -> None:
        """Shutdown: wait up to ``seconds`` while callbacks are due now or being sent.

        Lanes waiting for a later retry are not waited for: they are resumed after the restart.
        """
        self._draining += 1
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    async with self._settled:
                        await self._settled.wait_for(lambda: not self._due_now())
        finally:
            self._draining -= 1

    def _due_now(self) -> bool:
        now = self._clock.now()
        return any(
            lane.waiting and lane.waiting[0].next_attempt <= now for lane in self._lanes.values()
        )

    async def close(self) -> None:
        """Stop; what is still pending stays stored and is resumed at the next start."""
        self._closed = True
        tasks = [*self._tasks.values(), *([self._pruner] if self._pruner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._lanes.clear()
        self._superseded.clear()  # still stored: the next start resumes and skips them again

    @property
    def backlog(self) -> int:
        """Callbacks not yet delivered or given up (a gauge)."""
        return sum(len(lane.waiting) for lane in self._lanes.values())

    # -- the API's side ---------------------------------------------------------------------

    async def replay(self, owner: int, event_id: str) -> Delivery:
        """Send a delivery again (same event id), now, with a fresh retry period."""
        if event_id in self._superseded:  # skipped for a newer one: as good as gone
            raise NotFound(f"Unable to locate delivery {event_id}")
        self._replaying[event_id] += 1  # not skipped while the store replays it
        try:
            replayed = await self._replay_stored(owner, event_id)
            lane = self._lanes.get(replayed.jobid)
            position = _position(lane.waiting, event_id) if lane is not None else None
            if lane is not None and position is not None and not self._closed:
                # Already waiting for a retry: take the fresh period and try now.
                lane.waiting[position] = replayed
                lane.nudge.set()
                self._ensure_running(replayed.jobid)
            else:
                self.enqueue(replayed)
            lane = self._lanes.get(replayed.jobid)
            if lane is not None:  # nor skipped once in its lane, until it is attempted
                lane.replayed.add(event_id)
        finally:
            self._replaying[event_id] -= 1
            if not self._replaying[event_id]:
                del self._replaying[event_id]
        return replayed

    async def _replay_stored(self, owner: int, event_id: str) -> Delivery:
        found = await self._store.get_delivery(event_id)
        if found is None or found.owner != owner:
            raise NotFound(f"Unable to locate delivery {event_id}")
        now = self._clock.now()
        replayed = await self._store.replay_delivery(
            event_id, now, self._config.policy.expires(now)
        )
        if replayed is None:
            raise NotFound(f"Unable to locate delivery {event_id}")
        return replayed

    # -- delivery ---------------------------------------------------------------------------

    async def _run(self, jobid: str) -> None:
        lane = self._lanes[jobid]
        try:
            while lane.waiting:
                await self._settle(lane)
                lane.waiting.popleft()
        finally:
            self._tasks.pop(jobid, None)
            if not lane.waiting:
                self._lanes.pop(jobid, None)
                self._forget_superseded(lane)

    def _forget_superseded(self, lane: _Lane) -> None:
        """A finished lane's skipped reports whose deletion was never recorded (the store
        failed): they stay stored, and a restart resumes them."""
        if lane.superseded:
            log.warning("%d skipped callbacks stay stored", len(lane.superseded))
            self._superseded.difference_update(lane.superseded)
            lane.superseded.clear()

    async def _settle(self, lane: _Lane) -> None:
        """Attempt the lane's oldest delivery until it is delivered or expires."""
        while True:
            if len(lane.waiting) > 1:
                self._skip_superseded(lane)
            wait = (lane.waiting[0].next_attempt - self._clock.now()).total_seconds()
            if wait > 0 and not lane.nudge.is_set():
                await self._pause(lane.nudge, wait)
            lane.nudge.clear()
            attempted = lane.waiting[0]
            lane.ticket = Ticket(urgent=_holds_a_result(lane.waiting))
            try:
                attempt = await self._attempt(attempted, lane.ticket)
            finally:
                lane.ticket = None
            delivery = await self._record(attempted, attempt, lane)
            if self._draining:  # nobody else listens: skip the lock on every callback
                async with self._settled:
                    self._settled.notify_all()
            if lane.waiting[0] is not attempted:
                # Replayed while this attempt was out: the fresh copy (new period) wins and is
                # tried again now; its next record corrects whatever this one stored.
                fresh = replace(lane.waiting[0], attempts=delivery.attempts)
                lane.waiting[0] = replace(fresh, next_attempt=self._clock.now())
                continue
            lane.waiting[0] = delivery
            if delivery.status is not DeliveryStatus.PENDING:
                return

    async def _attempt(self, delivery: Delivery, ticket: Ticket) -> Attempt:
        """One attempt; whatever goes wrong on our side is a failed attempt, never a dead lane.

        ``ticket``: its turn at the host's gate, urgent while its lane holds a job's last
        callback (the gate lets those in first).
        """
        try:
            secret = await self.secrets.secret(delivery.owner)
            host = urlsplit(delivery.url).netloc.lower()
            gate = self._take_host(host)
            try:
                await gate.enter(ticket)
                try:
                    return await post(
                        self._client, self._clock, delivery, secret, self._config.timeout
                    )
                finally:
                    gate.leave()
            finally:
                self._release_host(host)
        except Exception as exc:
            log.exception("callback %s could not be attempted", delivery.event_id)
            number = delivery.attempt_count + 1
            return Attempt(number, self._clock.now(), 0, None, f"not sent: {type(exc).__name__}")

    def _skip_superseded(self, lane: _Lane) -> None:
        """Take the lane's superseded progress reports out (module doc); the lane's next
        record deletes them from the store."""
        stale = self._stale(lane)
        if not stale:
            return
        gone = set(stale)
        kept = [delivery for delivery in lane.waiting if delivery.event_id not in gone]
        lane.waiting.clear()
        lane.waiting.extend(kept)
        lane.superseded.extend(stale)
        self._superseded.update(stale)

    def _stale(self, lane: _Lane) -> list[str]:
        """Event ids of never-attempted progress reports a newer delivery follows in the lane,
        in the lane's order.

        Newer by place: the engine saves a job's callbacks in order and the lane keeps it, except
        for replays, which go to the lane's end as the old states they are. So a replayed
        callback is neither stale nor newer than anything.
        """
        stale: list[str] = []
        newer_behind = False
        for delivery in reversed(lane.waiting):
            event_id = delivery.event_id
            if event_id in lane.replayed or event_id in self._replaying:
                continue
            if newer_behind and delivery.event == SUPERSEDABLE and not delivery.attempts:
                stale.append(event_id)
            newer_behind = True
        stale.reverse()
        return stale

    async def _record(self, delivery: Delivery, attempt: Attempt, lane: _Lane) -> Delivery:
        """Store the attempt, and delete what the lane skipped since its last record."""
        now = self._clock.now()
        if attempt.succeeded:
            # Nothing is due any more; the next-attempt column keeps when it was delivered.
            status, next_attempt = DeliveryStatus.DELIVERED, now
        else:
            status, next_attempt = self._after_failure(delivery, attempt, now)
        superseded, lane.superseded = lane.superseded, []
        lane.replayed.discard(delivery.event_id)  # attempted: an ordinary callback again
        try:
            await self._store.record_attempt(
                delivery.event_id, attempt, status, next_attempt, superseded
            )
        except Exception:
            # Delivery goes on: at worst a delivered callback is sent again after a restart,
            # under the same event id. The skipped reports go with the lane's next record; if
            # none comes, a restart resumes them (and skips them again while a newer one waits).
            log.exception("attempt of callback %s could not be recorded", delivery.event_id)
            lane.superseded[:0] = superseded
        else:
            self._superseded.difference_update(superseded)
        return delivery.with_attempt(attempt, status, next_attempt)

    def _after_failure(
        self, delivery: Delivery, attempt: Attempt, now: datetime
    ) -> tuple[DeliveryStatus, datetime]:
        """A failed attempt's outcome: retry at the backoff's time, or give up past expiry."""
        since = delivery.expires - timedelta(seconds=self._config.policy.period)
        failures = _failures_since(delivery.attempts, since) + 1
        next_attempt = self._config.policy.next_attempt(failures, now, self._rng)
        if next_attempt > delivery.expires:
            status = DeliveryStatus.FAILED
            log.warning(
                "callback %s for %s given up: %s", delivery.event_id, delivery.jobid, attempt.error
            )
        else:
            status = DeliveryStatus.PENDING
            log.info(
                "callback %s for %s failed (%s), next attempt in %.1f s",
                delivery.event_id,
                delivery.jobid,
                attempt.error,
                (next_attempt - now).total_seconds(),
            )
        return status, next_attempt

    # Two plain methods rather than an async context manager: this runs once per callback
    # sent, and a generator-based context manager costs more than the gate itself.
    def _take_host(self, host: str) -> HostGate:
        """The host's gate, counted as used until ``_release_host``."""
        gate, users = self._hosts.get(host) or (HostGate(self._config.per_host), 0)
        self._hosts[host] = (gate, users + 1)
        return gate

    def _release_host(self, host: str) -> None:
        gate, users = self._hosts[host]
        if users == 1:
            del self._hosts[host]  # one entry per receiver in use, not per receiver ever
        else:
            self._hosts[host] = (gate, users - 1)

    async def _prune_regularly(self) -> None:
        while True:
            before = self._clock.now() - timedelta(seconds=self._config.retention)
            try:
                pruned = await self._store.prune_deliveries(before)
                if pruned:
                    log.info("pruned %d old callbacks", pruned)
            except Exception:
                log.exception("pruning old callbacks failed")
            await asyncio.sleep(PRUNE_INTERVAL)


def new_event_id(now: datetime) -> str:
    """``evt_`` and 32 hex digits: the creation time in milliseconds (12), then 80 random bits.

    Time first, as in UUIDv7: the ids of new callbacks sort after the older ones, so the
    store's unique indexes on them (deliveries, attempts) grow at their right edge instead of
    touching a random page for every callback (at thousands of callbacks per second that was
    half the database thread's time, in writes of pages). 80 random bits per millisecond keep
    them unique; os.urandom costs a third of uuid4().
    """
    millis = int(now.timestamp() * 1000) & 0xFFFF_FFFF_FFFF
    return f"evt_{millis:012x}{os.urandom(10).hex()}"


def _failures_since(attempts: tuple[Attempt, ...], since: datetime) -> int:
    """Failed attempts in a row at the end, counting only those since the last (re)start.

    A replay starts the backoff afresh: the receiver was presumably fixed.
    """
    count = 0
    for attempt in reversed(attempts):
        if attempt.succeeded or attempt.at < since:
            break
        count += 1
    return count


def _holds_a_result(waiting: deque[Delivery]) -> bool:
    """Whether a lane's callbacks still to send include its job's last (lanes hold a few)."""
    return any(delivery.event in LAST_EVENTS for delivery in waiting)


def _position(waiting: deque[Delivery], event_id: str) -> int | None:
    return next((i for i, d in enumerate(waiting) if d.event_id == event_id), None)
