"""Callbacks over real loopback sockets: kept-alive connections, and answers that are too much.

The outbox runs with the production callback client (``Outbound.poster``) and private URLs
allowed; a counting dial under the URL guard sees every TCP connection the client opens and every
byte read from its sockets.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import SupportsIndex

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mjapi.clock import SystemClock
from mjapi.domain.deliveries import Delivery, DeliveryStatus
from mjapi.domain.jobs import JobStatus
from mjapi.net import Outbound, UrlGuard
from mjapi.net.dial import READ_LIMIT
from mjapi.net.h1 import ANSWER_LIMIT
from mjapi.webhooks.outbox import Outbox, OutboxConfig
from mjapi.webhooks.policy import RetryPolicy
from tests.factories import make_job
from tests.fakes import MemoryDeliveries
from tests.servers import CallbackSink, serve_asgi

HUGE = 10 * 1024 * 1024
#: asyncio's socket transport receives at most this much per read of the socket.
SOCKET_READ = 256 * 1024
#: What can be read from a socket beyond what the client asked for: the reader keeps reading
#: until it buffers more than twice its limit, and the read that crosses that mark may be a whole
#: socket read (asyncio's flow control).
READ_AHEAD = 2 * READ_LIMIT + SOCKET_READ
#: seconds one attempt may take in these tests
LIMIT = 0.5


class _CountingReader(asyncio.StreamReader):
    """A connection's reader that adds every byte received from the socket to its dial's count."""

    def __init__(self, dial: CountingDial) -> None:
        super().__init__(limit=READ_LIMIT)  # the production dial's limit
        self._dial = dial

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:  # typeshed's type for bytes
        assert isinstance(data, bytes)  # what the socket transport hands its protocol
        self._dial.bytes_read += len(data)
        super().feed_data(data)


@dataclass
class CountingDial:
    """A ``Dial`` to the real network, counting the connections opened and the bytes read."""

    connects: int = 0
    bytes_read: int = 0

    async def __call__(
        self, address: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = _CountingReader(self)
        protocol = asyncio.StreamReaderProtocol(reader)
        transport, _ = await loop.create_connection(lambda: protocol, address, port)
        self.connects += 1
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def huge(request: Request) -> Response:
    await request.body()
    return Response(b"x" * HUGE, media_type="text/plain")


async def drip(request: Request) -> StreamingResponse:
    """Answers 200 at once, then a byte every 50 ms for a minute (far beyond ``LIMIT``)."""
    await request.body()

    async def slowly() -> AsyncIterator[bytes]:
        for _ in range(1200):
            yield b"."
            await asyncio.sleep(0.05)

    return StreamingResponse(slowly(), media_type="text/plain")


@dataclass
class Receiver:
    sink: CallbackSink
    base_url: str


# One receiver for the module; each test gets its own outbox, client and counts.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    sink = CallbackSink()
    extra = [Route("/huge", huge, methods=["POST"]), Route("/drip", drip, methods=["POST"])]
    app = Starlette(routes=[*sink.app.routes, *extra])
    async with serve_asgi(app) as base_url:
        yield Receiver(sink, base_url)


@dataclass
class Callbacks:
    outbox: Outbox
    store: MemoryDeliveries
    dial: CountingDial

    def send(self, url: str, jobid: str = "job-1", status: str = "progress") -> Delivery:
        job = make_job(jobid=jobid, owner=1, status=JobStatus(status), reply_url=url)
        clock = SystemClock()
        delivery = self.store.add(self.outbox.prepare(job, clock.now()))
        self.outbox.enqueue(delivery)
        return delivery

    async def settled(self) -> None:
        await asyncio.wait_for(self.outbox.drain(30), 30)


@pytest_asyncio.fixture(loop_scope="module")
async def callbacks(receiver: Receiver) -> AsyncIterator[Callbacks]:
    receiver.sink.peers.clear()
    receiver.sink.bodies.clear()
    dial = CountingDial()
    outbound = Outbound(UrlGuard(allow_private=True), dial)
    # One attempt each: a failure would wait for a retry the test does not want.
    config = OutboxConfig(RetryPolicy(first_delay=600, period=1), timeout=LIMIT)
    store = MemoryDeliveries()
    client = outbound.poster(max_idle=config.per_host)  # as the server wires it
    outbox = Outbox(store, client, SystemClock(), config, rng=random.Random(1))
    yield Callbacks(outbox, store, dial)
    await outbox.close()
    await client.aclose()


async def test_sequential_callbacks_to_one_receiver_share_a_connection(
    receiver: Receiver, callbacks: Callbacks
) -> None:
    # One job's callbacks, sent one after the other; not progress reports, which a later one
    # would supersede before they are sent.
    sent = [callbacks.send(f"{receiver.base_url}/hook", status="started") for _ in range(20)]
    await callbacks.settled()
    rows = [callbacks.store.rows[d.event_id] for d in sent]
    assert [r.status for r in rows] == [DeliveryStatus.DELIVERED] * 20
    assert len(receiver.sink.bodies) == 20
    assert callbacks.dial.connects <= 2
    assert receiver.sink.connections <= 2


async def test_a_huge_answer_is_read_no_further_than_the_bound(
    receiver: Receiver, callbacks: Callbacks
) -> None:
    delivery = callbacks.send(f"{receiver.base_url}/huge")
    await callbacks.settled()
    stored = callbacks.store.rows[delivery.event_id]
    assert stored.status is DeliveryStatus.DELIVERED
    assert [(a.status_code, a.error) for a in stored.attempts] == [(200, None)]
    # The bound, the client's read that crossed it, what the reader read ahead (and the answer's
    # head): not 10 MiB.
    assert callbacks.dial.bytes_read <= ANSWER_LIMIT + READ_LIMIT + READ_AHEAD + 1024


async def test_after_an_abandoned_answer_the_next_callback_gets_through(
    receiver: Receiver, callbacks: Callbacks
) -> None:
    callbacks.send(f"{receiver.base_url}/huge", status="started")  # not superseded by the next
    after = callbacks.send(f"{receiver.base_url}/hook")
    await callbacks.settled()
    assert callbacks.store.rows[after.event_id].status is DeliveryStatus.DELIVERED
    # The abandoned answer's connection was closed, not handed to the next callback.
    assert callbacks.dial.connects == 2


async def test_a_dripping_answer_ends_at_the_time_limit_with_its_status(
    receiver: Receiver, callbacks: Callbacks
) -> None:
    delivery = callbacks.send(f"{receiver.base_url}/drip")
    await callbacks.settled()
    stored = callbacks.store.rows[delivery.event_id]
    assert stored.status is DeliveryStatus.DELIVERED
    (attempt,) = stored.attempts
    assert (attempt.status_code, attempt.error) == (200, None)
    # The answer would drip for a minute; the attempt ends at its limit (with scheduling slack).
    assert attempt.duration_ms < LIMIT * 1000 * 4
