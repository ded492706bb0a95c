"""The webhook outbox worker over an in-memory outbox store, a fake callback client and a fake
clock.

What happens to an answer's body (read to its end, abandoned past the bound) is the client's
business (``mjapi.net.h1``); here an attempt is the status the client returns, or what it raises.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest

from mjapi.clock import FakeClock
from mjapi.domain.deliveries import Attempt, DeliveryStatus
from mjapi.domain.jobs import JobStatus
from mjapi.errors import NotFound
from mjapi.net.guard import Refused
from mjapi.net.h1 import CallFailed
from mjapi.webhooks.outbox import Outbox, OutboxConfig
from mjapi.webhooks.policy import RetryPolicy
from mjapi.webhooks.post import USER_AGENT
from mjapi.webhooks.signing import verify
from tests.factories import make_job
from tests.fakes import FakeCallbackClient, MemoryDeliveries

#: the outbox runs on uvloop in the server: its tasks, timeouts and cancellation are checked there
pytestmark = pytest.mark.both_loops

OWNER = 7
HOOK = "http://r.test/hook"
#: seconds one attempt may take (OutboxConfig.timeout)
LIMIT = 0.05


@dataclass
class World:
    outbox: Outbox
    store: MemoryDeliveries
    receiver: FakeCallbackClient
    clock: FakeClock
    pauses: list[float]

    def deliver(self, jobid: str, status: str, path: str = "/hook") -> str:
        """Store and enqueue the callback of ``jobid`` reaching ``status``; its event id."""
        job = make_job(
            jobid=jobid, owner=OWNER, status=JobStatus(status), reply_url=f"http://r.test{path}"
        )
        delivery = self.store.add(self.outbox.prepare(job, self.clock.now()))
        self.outbox.enqueue(delivery)
        return delivery.event_id

    async def settled(self) -> None:
        await asyncio.wait_for(self.outbox.drain(60), 5)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    store, receiver, clock, pauses = MemoryDeliveries(), FakeCallbackClient(), FakeClock(), []

    async def pause(nudge: asyncio.Event, seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)
        await asyncio.sleep(0)

    config = OutboxConfig(RetryPolicy(first_delay=1, max_delay=8, period=60), timeout=LIMIT)
    outbox = Outbox(store, receiver, clock, config, rng=random.Random(1), pause=pause)
    yield World(outbox, store, receiver, clock, pauses)
    await outbox.close()


async def test_callbacks_of_a_job_arrive_in_order_through_failures(world: World) -> None:
    world.receiver.script(HOOK, 503, 503)
    for status in ("started", "failed"):
        world.deliver("job-1", status)
    await world.settled()
    assert world.receiver.statuses("job-1") == ["started", "failed"]
    assert len(world.pauses) == 2 and all(0 <= p <= 2 for p in world.pauses)


async def test_a_progress_report_not_sent_yet_gives_way_to_a_later_callback(
    world: World,
) -> None:
    """A receiver that fell behind gets the job's newest state, in order, nothing it saw lost."""
    world.receiver.script(HOOK, 503)
    started = world.deliver("job-1", "started")
    stale = [world.deliver("job-1", "progress") for _ in range(3)]
    world.deliver("job-1", "completed")
    await world.settled()

    assert world.receiver.statuses("job-1") == ["started", "completed"]
    assert all(event_id not in world.store.rows for event_id in stale)
    assert world.store.rows[started].attempt_count == 2  # retried, never dropped
    assert await world.store.pending_deliveries() == []


async def test_a_progress_report_attempted_once_is_never_dropped(world: World) -> None:
    world.receiver.script(HOOK, 503)
    tried = world.deliver("job-1", "progress")
    for _ in range(5):  # its first attempt fails; it waits for the next one
        if world.store.rows[tried].attempts:
            break
        await asyncio.sleep(0)
    world.deliver("job-1", "progress")
    world.deliver("job-1", "completed")
    await world.settled()

    # The receiver may have seen the first report (its answer could have been lost): it goes
    # out again; the untried second one gives way to the result.
    assert world.receiver.statuses("job-1") == ["progress", "completed"]
    assert world.store.rows[tried].status is DeliveryStatus.DELIVERED


async def test_retries_carry_the_same_event_id_and_every_attempt_is_recorded(
    world: World,
) -> None:
    world.receiver.script(HOOK, 503, 503)
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    assert [p.headers["webhook-id"] for p in world.receiver.posted] == [event_id] * 3
    stored = world.store.rows[event_id]
    assert stored.status is DeliveryStatus.DELIVERED
    assert [a.number for a in stored.attempts] == [1, 2, 3]
    assert [a.status_code for a in stored.attempts] == [503, 503, 200]
    assert stored.attempts[0].error == "answered HTTP 503"


async def test_every_callback_is_signed_with_its_owners_secret(world: World) -> None:
    world.deliver("job-1", "completed")
    await world.settled()
    request = world.receiver.delivered[0]
    secret = world.store.secrets[OWNER]
    assert secret.startswith("whsec_")
    assert verify(secret, dict(request.headers), request.body.decode())
    assert not verify(secret, dict(request.headers), request.body.decode() + " ")
    assert int(request.headers["webhook-timestamp"]) == int(world.clock.now().timestamp())


async def test_a_callback_is_given_up_when_its_period_ends(world: World) -> None:
    world.receiver.default = 503
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    stored = world.store.rows[event_id]
    assert stored.status is DeliveryStatus.FAILED
    assert stored.attempt_count > 5
    assert stored.attempts[-1].at <= stored.expires
    assert world.outbox.backlog == 0
    assert max(world.pauses) <= 8


async def test_the_next_callback_of_a_job_waits_until_the_earlier_one_is_settled(
    world: World,
) -> None:
    world.receiver.default = 503
    first = world.deliver("job-1", "started")
    second = world.deliver("job-1", "completed")
    await world.settled()
    # The second went out only once the first was given up, so it failed later too.
    first_row, second_row = world.store.rows[first], world.store.rows[second]
    assert first_row.attempts[-1].at <= second_row.attempts[0].at


async def test_a_silent_receiver_delays_nobody_else(world: World) -> None:
    world.receiver.gates["http://r.test/slow"] = asyncio.Event()  # never set: no answer
    slow = world.deliver("job-slow", "completed", path="/slow")
    world.deliver("job-fast", "completed", path="/fast")
    for _ in range(50):  # event-loop turns, no time passes
        if world.receiver.statuses("job-fast"):
            break
        await asyncio.sleep(0)
    assert world.receiver.statuses("job-fast") == ["completed"]
    assert world.store.rows[slow].attempts == ()  # still hanging in its first attempt
    await world.outbox.drain(0.2)  # long enough for the first attempt's 0.05 s limit
    assert world.store.rows[slow].attempts[0].error == "no answer within 0.05 s"


async def test_start_resumes_pending_callbacks_in_creation_order(world: World) -> None:
    for status in ("started", "progress"):
        job = make_job(
            jobid="job-9", owner=OWNER, status=JobStatus(status), reply_url="http://r.test/hook"
        )
        world.store.add(world.outbox.prepare(job, world.clock.now()))
    done = make_job(
        jobid="job-8", owner=OWNER, status=JobStatus.COMPLETED, reply_url="http://r.test/h"
    )
    delivered = world.store.add(world.outbox.prepare(done, world.clock.now()))
    ok = Attempt(1, world.clock.now(), 3, 200)
    world.store.rows[delivered.event_id] = delivered.with_attempt(
        ok, DeliveryStatus.DELIVERED, world.clock.now()
    )
    await world.outbox.start()
    await world.settled()
    assert world.receiver.statuses("job-9") == ["started", "progress"]
    assert world.receiver.statuses("job-8") == []  # delivered before the restart


async def test_a_failed_callback_can_be_replayed_under_the_same_event_id(world: World) -> None:
    world.receiver.default = 503
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    tries = world.store.rows[event_id].attempt_count
    world.receiver.default = 200
    replayed = await world.outbox.replay(OWNER, event_id)
    assert replayed.status is DeliveryStatus.PENDING
    await world.settled()
    stored = world.store.rows[event_id]
    assert stored.status is DeliveryStatus.DELIVERED
    assert stored.attempts[-1].number == tries + 1
    assert world.receiver.delivered[-1].headers["webhook-id"] == event_id


async def test_only_the_owner_can_replay(world: World) -> None:
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    with pytest.raises(NotFound):
        await world.outbox.replay(OWNER + 1, event_id)
    with pytest.raises(NotFound):
        await world.outbox.replay(OWNER, "evt_unknown")


async def test_old_settled_callbacks_are_pruned_at_start(world: World) -> None:
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    world.clock.advance(timedelta(days=8).total_seconds())
    await world.outbox.start()
    await asyncio.sleep(0)
    assert event_id not in world.store.rows


async def test_a_replay_while_an_attempt_is_recorded_is_not_lost(world: World) -> None:
    # The last allowed attempt fails; while its outcome is being stored, the client replays.
    # The replay's fresh period must win: the callback is sent again and ends delivered.
    world.receiver.script(HOOK, 503)
    job = make_job(jobid="job-1", owner=OWNER, status=JobStatus.COMPLETED, reply_url=HOOK)
    prepared = world.outbox.prepare(job, world.clock.now())
    delivery = world.store.add(replace(prepared, expires=world.clock.now()))
    recording, replayed = asyncio.Event(), asyncio.Event()
    record = world.store.record_attempt

    async def slow_record(*args: Any) -> None:
        if not replayed.is_set():
            recording.set()
            await replayed.wait()
        await record(*args)

    world.store.record_attempt = slow_record  # type: ignore[method-assign,assignment]
    world.outbox.enqueue(delivery)
    await recording.wait()
    await world.outbox.replay(OWNER, delivery.event_id)
    replayed.set()
    await world.settled()
    stored = world.store.rows[delivery.event_id]
    assert [a.status_code for a in stored.attempts] == [503, 200]
    assert stored.status is DeliveryStatus.DELIVERED
    assert world.outbox.backlog == 0


async def test_a_lane_survives_a_failing_secret_lookup(world: World) -> None:
    failures = [OSError("database is locked")]
    lookup = world.store.webhook_secret

    async def flaky(user_id: int) -> str | None:
        if failures:
            raise failures.pop()
        return await lookup(user_id)

    world.store.webhook_secret = flaky  # type: ignore[method-assign]
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    stored = world.store.rows[event_id]
    assert stored.attempts[0].error == "not sent: OSError"
    assert stored.status is DeliveryStatus.DELIVERED
    assert world.receiver.statuses("job-1") == ["completed"]


async def test_nothing_is_sent_after_close(world: World) -> None:
    await world.outbox.close()
    event_id = world.deliver("job-1", "completed")
    await asyncio.sleep(0)
    assert world.receiver.posted == []
    assert world.store.rows[event_id].status is DeliveryStatus.PENDING  # for the next start


async def test_an_attempt_posts_the_stored_body_within_the_configured_time(world: World) -> None:
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    (posted,) = world.receiver.posted
    assert posted.url == HOOK
    assert posted.body == world.store.rows[event_id].body.encode()
    assert posted.headers["content-type"] == "application/json"
    assert posted.headers["user-agent"] == USER_AGENT
    assert posted.limit == LIMIT


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (
            CallFailed("the connection closed before an answer came"),
            "the connection closed before an answer came",
        ),
        (
            Refused("it resolves to a private address (10.0.0.5)"),
            "refused by the URL guard: it resolves to a private address (10.0.0.5)",
        ),
        (TimeoutError(), f"no answer within {LIMIT:g} s"),
    ],
)
async def test_what_the_client_raises_is_a_failed_attempt_without_status(
    world: World, failure: Exception, error: str
) -> None:
    world.receiver.script(HOOK, failure)
    event_id = world.deliver("job-1", "completed")
    await world.settled()
    stored = world.store.rows[event_id]
    assert [(a.status_code, a.error) for a in stored.attempts] == [(None, error), (200, None)]
    assert stored.status is DeliveryStatus.DELIVERED


async def test_lanes_record_their_attempts_concurrently(world: World) -> None:
    # A store that batches concurrent writes can only batch what arrives together: no lane may
    # wait for another lane's record before issuing its own.
    inside, release = 0, asyncio.Event()
    both_inside = asyncio.Event()
    record = world.store.record_attempt

    async def held_record(*args: Any) -> None:
        nonlocal inside
        inside += 1
        if inside == 2:
            both_inside.set()
        await release.wait()
        await record(*args)

    world.store.record_attempt = held_record  # type: ignore[method-assign,assignment]
    first = world.deliver("job-1", "completed")
    second = world.deliver("job-2", "completed")
    await asyncio.wait_for(both_inside.wait(), 5)
    release.set()
    await world.settled()
    assert world.store.rows[first].status is DeliveryStatus.DELIVERED
    assert world.store.rows[second].status is DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    "waited", [False, True], ids=["result-before-entering", "result-while-waiting"]
)
async def test_a_busy_receiver_gets_job_results_before_other_jobs_progress(
    world: World, waited: bool
) -> None:
    policy = RetryPolicy(first_delay=1, max_delay=8, period=60)
    # One attempt at a time; a limit no event-loop stall reaches: no attempt times out here.
    config = OutboxConfig(policy, timeout=30.0, per_host=1)
    outbox = Outbox(world.store, world.receiver, world.clock, config, rng=random.Random(1))
    world.outbox = outbox
    gate = world.receiver.gates[HOOK] = asyncio.Event()
    try:
        world.deliver("job-0", "progress")  # takes the one place, held at the gate
        await asyncio.sleep(0)
        world.deliver("job-1", "progress")
        world.deliver("job-2", "progress")
        world.deliver("job-3", "started")  # not a report its result could supersede
        if waited:  # job-3's callback is waiting at the gate, not urgent, when its result comes
            for _ in range(5):
                await asyncio.sleep(0)
        world.deliver("job-3", "completed")  # its lane now holds its result: it goes first
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        await world.settled()
        sent = [(p.json()["jobid"], p.json()["status"]) for p in world.receiver.posted]
        # The result waits for its own lane's first callback, already at the gate or about to
        # join it, whose place went on to the next waiter meanwhile; then it is the first one
        # let in again.
        assert sent == [
            ("job-0", "progress"),
            ("job-3", "started"),
            ("job-1", "progress"),
            ("job-3", "completed"),
            ("job-2", "progress"),
        ]
        assert all(a.succeeded for row in world.store.rows.values() for a in row.attempts)
    finally:
        await outbox.close()


async def test_resumed_callbacks_drop_only_the_untried_progress(world: World) -> None:
    """After a restart: a report attempted before it may have arrived, so it goes out again."""

    def stored(status: str) -> str:
        job = make_job(jobid="job-9", owner=OWNER, status=JobStatus(status), reply_url=HOOK)
        return world.store.add(world.outbox.prepare(job, world.clock.now())).event_id

    tried = stored("progress")
    failed = Attempt(1, world.clock.now(), 3, 503, "answered HTTP 503")
    row = world.store.rows[tried]
    world.store.rows[tried] = row.with_attempt(failed, DeliveryStatus.PENDING, world.clock.now())
    untried = stored("progress")
    stored("completed")

    await world.outbox.start()
    await world.settled()
    assert world.receiver.statuses("job-9") == ["progress", "completed"]
    assert untried not in world.store.rows
    assert world.store.rows[tried].status is DeliveryStatus.DELIVERED


async def test_a_replayed_older_callback_does_not_supersede_newer_progress(world: World) -> None:
    started = world.deliver("job-1", "started")
    await world.settled()
    gate = world.receiver.gates[HOOK] = asyncio.Event()
    world.clock.advance(1)
    world.deliver("job-1", "progress")  # its attempt waits at the receiver
    for _ in range(5):
        await asyncio.sleep(0)
    world.clock.advance(1)
    newer = world.deliver("job-1", "progress")
    await world.outbox.replay(OWNER, started)  # older than the report: goes to the lane's end
    gate.set()
    await world.settled()

    assert world.receiver.statuses("job-1") == ["started", "progress", "progress", "started"]
    assert world.store.rows[newer].status is DeliveryStatus.DELIVERED


async def test_skipped_reports_leave_the_store_with_the_next_record_not_before(
    world: World,
) -> None:
    gate = world.receiver.gates[HOOK] = asyncio.Event()
    world.deliver("job-1", "started")
    skipped = [world.deliver("job-1", "progress") for _ in range(2)]
    world.deliver("job-1", "completed")
    await world.receiver.posts_reach(1)  # the skip is decided before the first attempt

    # Out of the lane, not yet out of the store: gone for a replay, still resumable.
    assert all(event_id in world.store.rows for event_id in skipped)
    with pytest.raises(NotFound):
        await world.outbox.replay(OWNER, skipped[0])
    gate.set()
    await world.settled()

    assert world.receiver.statuses("job-1") == ["started", "completed"]
    assert all(event_id not in world.store.rows for event_id in skipped)
    assert len(world.store.recorded) == 2  # no write of their own


async def test_skipped_reports_whose_deletion_failed_go_with_the_next_record(
    world: World,
) -> None:
    carried: list[list[str]] = []
    record = world.store.record_attempt

    async def failing_once(*args: Any) -> None:
        carried.append(list(args[4]))
        if len(carried) == 1:
            raise OSError("database is locked")
        await record(*args)

    world.store.record_attempt = failing_once  # type: ignore[method-assign,assignment]
    world.deliver("job-1", "started")
    skipped = [world.deliver("job-1", "progress") for _ in range(2)]
    world.deliver("job-1", "completed")
    await world.settled()

    assert world.receiver.statuses("job-1") == ["started", "completed"]
    assert carried == [skipped, skipped]
    assert all(event_id not in world.store.rows for event_id in skipped)


async def test_a_report_being_replayed_is_not_skipped(world: World) -> None:
    gate = world.receiver.gates[HOOK] = asyncio.Event()
    world.deliver("job-1", "started")  # its attempt waits at the receiver
    report = world.deliver("job-1", "progress")
    lookup = world.store.get_delivery
    looked_up, lane_moved_on = asyncio.Event(), asyncio.Event()

    async def held_lookup(event_id: str) -> Any:
        looked_up.set()
        await lane_moved_on.wait()
        return await lookup(event_id)

    world.store.get_delivery = held_lookup  # type: ignore[method-assign]
    replaying = asyncio.ensure_future(world.outbox.replay(OWNER, report))
    await looked_up.wait()
    world.clock.advance(1)
    newer = world.deliver("job-1", "progress")  # would supersede the report
    gate.set()
    await world.receiver.posts_reach(2)  # the lane chose what follows "started"
    lane_moved_on.set()
    await replaying
    await world.settled()

    sent = [p.headers["webhook-id"] for p in world.receiver.posted]
    assert sent[1:] == [report, newer, report]  # the replay goes out after the newer state
    assert world.store.rows[report].status is DeliveryStatus.DELIVERED


async def test_a_replayed_report_is_sent_though_a_newer_one_waits_behind_it(world: World) -> None:
    gate = world.receiver.gates[HOOK] = asyncio.Event()
    world.deliver("job-1", "started")  # its attempt waits at the receiver
    await world.receiver.posts_reach(1)
    report = world.deliver("job-1", "progress")
    newer = world.deliver("job-1", "progress")

    replayed = await world.outbox.replay(OWNER, report)  # answered: so it is sent
    gate.set()
    await world.settled()

    assert replayed.event_id == report
    sent = [p.headers["webhook-id"] for p in world.receiver.posted]
    assert sent[1:] == [report, newer]
    assert world.store.rows[report].status is DeliveryStatus.DELIVERED
