"""DiscordTransport against the Discord simulator over real loopback sockets (REST + gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeGuard

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from mjapi.domain.accounts import Account
from mjapi.domain.events import (
    AccountDisabled,
    AccountFlagged,
    BackendEvent,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobProgressed,
    JobStarted,
)
from mjapi.errors import DiscordAuthError, TransportError
from mjapi.simulator import Simulator, SimulatorConfig, running_simulator
from mjapi.transports.discord import DiscordTransport
from mjapi.transports.discord.gateway import Fatal, GatewaySession, Send
from mjapi.transports.discord.rest import DiscordRest
from mjapi.transports.discord.runner import MAX_FRAME_BYTES, GatewayRunner, gateway_endpoint
from mjapi.transports.discord.transport import GATEWAY_LOST
from mjapi.transports.discord.zlib_stream import ZLIB_SUFFIX, ZlibStream
from mjapi.transports.worker import ProcessTransport
from tests.conftest import load_capture

#: the helpers below serve the transport in-process and in its worker process alike
EitherTransport = DiscordTransport | ProcessTransport

TOKEN = "sim-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbb"
OTHER_TOKEN = "sim-token-cccccccccccccccccccccccccccc.dddddd"
REJECTED = "sim-token-rejected-000000000000000000.zzzzzz"
FAST = SimulatorConfig(step_delay=0.01, rejected_tokens=frozenset({REJECTED}))
COMMAND_INDEX = "31-rest-application-command-index-2024-08.json"
WAIT = 20.0  # generous upper bound for a whole job at step_delay=0.01


@contextlib.asynccontextmanager
async def world(
    config: SimulatorConfig = FAST, http: httpx.AsyncClient | None = None
) -> AsyncIterator[tuple[Simulator, DiscordTransport]]:
    async with running_simulator(config) as sim:
        transport = DiscordTransport(sim.base_url, ready_timeout=5.0, http=http)
        try:
            yield sim, transport
        finally:
            await transport.close()


def account(channel: str, user_id: str, token: str = TOKEN, server: str | None = None) -> Account:
    now = datetime.now(UTC)
    return Account(
        channel=channel,
        owner=1,
        discord_token=token,
        discord_user_id=user_id,
        max_jobs=3,
        created=now,
        updated=now,
        server=server,
    )


async def attached(transport: EitherTransport, token: str = TOKEN) -> Account:
    identity = await transport.identify(token)
    acct = account(identity.dm_channel_id, identity.user_id, token)
    await transport.attach(acct)
    return acct


async def events_until_done(transport: EitherTransport, *jobids: str) -> list[JobEvent]:
    """Every job event until each of ``jobids`` completed or failed."""
    return [e for e in await all_events_until_done(transport, *jobids) if is_job_event(e)]


def is_job_event(event: BackendEvent) -> TypeGuard[JobEvent]:
    return not isinstance(event, AccountFlagged | AccountDisabled)


async def all_events_until_done(transport: EitherTransport, *jobids: str) -> list[BackendEvent]:
    """Every job and account event until each of ``jobids`` completed or failed."""
    open_jobs = set(jobids)
    seen: list[BackendEvent] = []
    async with asyncio.timeout(WAIT), contextlib.aclosing(transport.events()) as stream:
        async for event in stream:
            seen.append(event)
            if isinstance(event, JobCompleted | JobFailed):
                open_jobs.discard(event.jobid)
            if not open_jobs:
                return seen
    return seen


def of(job: str, events: list[JobEvent]) -> list[JobEvent]:
    return [e for e in events if e.jobid == job]


def assert_lifecycle(events: list[JobEvent]) -> JobCompleted:
    """Started, then strictly increasing progress, then one completion with a full grid."""
    assert isinstance(events[0], JobStarted)
    assert "(Waiting to start)" in events[0].content
    progress = [e.percent for e in events if isinstance(e, JobProgressed)]
    assert progress, "no progress reported"
    assert progress == sorted(set(progress))
    completed = events[-1]
    assert isinstance(completed, JobCompleted)
    assert [type(e) for e in events[1:-1]] == [JobProgressed] * len(progress)
    assert len(completed.attachments) == 1
    assert completed.attachments[0].filename.endswith(".png")
    assert len(completed.buttons) == 9  # U1-U4, 🔄, V1-V4; the Web link is not a button
    assert completed.job_hash is not None
    assert all(completed.job_hash in b.custom_id for b in completed.buttons)
    return completed


# -- the happy path ---------------------------------------------------------------------------


async def test_identify_finds_the_dm_with_the_bot() -> None:
    async with world() as (sim, transport):
        identity = await transport.identify(TOKEN)

        user = sim.state.user_for_token(TOKEN)
        assert user is not None
        assert identity.user_id == user.id
        assert identity.username == user.username
        assert identity.dm_channel_id == user.dm_channel_id


async def test_imagine_in_the_dm_runs_to_completion() -> None:
    async with world() as (sim, transport):
        acct = await attached(transport)

        nonce = await transport.imagine(acct, "job-1", "a red fox in the snow")
        events = await events_until_done(transport, "job-1")

        assert nonce.isdigit()
        completed = assert_lifecycle(of("job-1", events))
        # The result file is served by the simulator's CDN.
        async with httpx.AsyncClient() as client:
            image = await client.get(completed.attachments[0].url)
        assert image.status_code == 200
        assert image.content.startswith(b"\x89PNG")
        assert sim.state.messages[acct.channel]  # the job's messages exist on the server


async def test_imagine_in_a_server_channel_uses_the_guild() -> None:
    async with world() as (sim, transport):
        identity = await transport.identify(TOKEN)
        user = sim.state.user_for_token(TOKEN)
        assert user is not None
        acct = account(user.guild_channel_id, identity.user_id, server=user.guild_id)
        await transport.attach(acct)

        await transport.imagine(acct, "job-g", "lighthouse at dusk")

        assert_lifecycle(of("job-g", await events_until_done(transport, "job-g")))


async def test_finals_without_nonce_are_matched_by_the_hash_of_the_previews() -> None:
    # Two jobs with the same prompt; the results carry no nonce (SimulatorConfig.final_nonce),
    # so each final is matched by the job hash its <hash>_grid_0.webp previews revealed.
    config = SimulatorConfig(step_delay=0.01, final_nonce=False)
    async with world(config) as (_sim, transport):
        acct = await attached(transport)

        await transport.imagine(acct, "job-a", "same prompt")
        await transport.imagine(acct, "job-b", "same prompt")
        events = await events_until_done(transport, "job-a", "job-b")

        done_a = assert_lifecycle(of("job-a", events))
        done_b = assert_lifecycle(of("job-b", events))
        assert done_a.job_hash != done_b.job_hash
        assert done_a.message_id != done_b.message_id


async def test_attach_is_idempotent_and_events_flow_once() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        await transport.attach(acct)

        await transport.imagine(acct, "job-1", "once")
        events = await events_until_done(transport, "job-1")

        assert len([e for e in events if isinstance(e, JobCompleted)]) == 1


async def test_concurrent_attaches_share_one_connection_and_both_wait_for_ready() -> None:
    async with world() as (sim, transport):
        identity = await transport.identify(TOKEN)
        acct = account(identity.dm_channel_id, identity.user_id)

        await asyncio.gather(transport.attach(acct), transport.attach(acct))

        assert len(sim.hub.sessions(identity.user_id)) == 1
        await transport.imagine(acct, "job-1", "cat")  # READY: a session id is known
        assert_lifecycle(of("job-1", await events_until_done(transport, "job-1")))


async def test_two_accounts_on_one_transport() -> None:
    async with world() as (_sim, transport):
        first = await attached(transport, TOKEN)
        second = await attached(transport, OTHER_TOKEN)
        assert first.channel != second.channel

        await transport.imagine(first, "job-1", "cat")
        await transport.imagine(second, "job-2", "cat")
        events = await events_until_done(transport, "job-1", "job-2")

        assert_lifecycle(of("job-1", events))
        assert_lifecycle(of("job-2", events))


# -- refusals ---------------------------------------------------------------------------------


async def test_a_rejected_token_fails_identify() -> None:
    async with world() as (_sim, transport):
        with pytest.raises(DiscordAuthError) as caught:
            await transport.identify(REJECTED)
        assert REJECTED not in str(caught.value)


async def test_a_rejected_token_fails_attach_with_close_4004() -> None:
    async with world() as (_sim, transport):
        acct = account("1", "2", token=REJECTED)

        with pytest.raises(DiscordAuthError):
            await transport.attach(acct)

        with pytest.raises(TransportError):
            await transport.imagine(acct, "job-1", "cat")  # not attached


async def test_a_stale_cached_command_version_is_refreshed() -> None:
    requests: list[str] = []

    async def record(request: httpx.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    http = httpx.AsyncClient(event_hooks={"request": [record]})
    try:
        async with world(http=http) as (sim, transport):
            acct = await attached(transport)
            await transport.imagine(acct, "job-1", "first")
            await events_until_done(transport, "job-1")

            # Midjourney publishes a new /imagine version; our cached one is now outdated.
            sim.state.commands.set_version("imagine", "1999999999999999999")
            await transport.imagine(acct, "job-2", "second")
            events = await events_until_done(transport, "job-2")
    finally:
        await http.aclose()

    assert_lifecycle(of("job-2", events))
    index = f"GET /api/v9/channels/{acct.channel}/application-command-index"
    interactions = "POST /api/v9/interactions"
    assert [r for r in requests if r in (index, interactions)] == [
        index,
        interactions,  # job-1
        interactions,  # job-2 with the stale version: 400 / 50035
        index,
        interactions,  # job-2 again, accepted
    ]


async def test_detach_stops_the_account() -> None:
    async with world() as (_sim, transport):
        acct = await attached(transport)
        await transport.detach(acct.channel)

        with pytest.raises(TransportError):
            await transport.imagine(acct, "job-1", "cat")


async def test_close_ends_the_event_stream() -> None:
    async with world() as (_sim, transport):
        await attached(transport)
        stream = transport.events()
        await transport.close()
        async with asyncio.timeout(5):
            assert [e async for e in stream] == []


# -- the runner against a scripted gateway: reconnect, resume, zombie, close codes -------------
#
# The simulator cannot resume sessions (it answers RESUME with op 9), so these scenarios use a
# tiny loopback websocket server that plays one script per connection.

Script = Callable[["Peer"], Awaitable[None]]


class FixedRandom(random.Random):
    """Zero jitter and zero backoff: reconnects happen at once, the first beat right after HELLO."""

    def random(self) -> float:
        return 0.0

    def uniform(self, a: float, b: float) -> float:
        return a


class Peer:
    """The server end of one gateway connection."""

    def __init__(self, ws: ServerConnection, base: str, ack: bool, zlib_stream: bool) -> None:
        self.ws = ws
        self.base = base
        self.ack = ack
        self.received: list[dict[str, Any]] = []
        self.deflate = zlib.compressobj() if zlib_stream else None

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self.deflate is None:
            await self.ws.send(text)
            return
        # zlib-stream like Discord: one context per connection, a sync flush per message; and
        # each message split over two websocket frames, which clients must reassemble.
        data = self.deflate.compress(text.encode()) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        await self.ws.send(data[: len(data) // 2])
        await self.ws.send(data[len(data) // 2 :])

    async def hello(self, interval_ms: int = 45_000) -> None:
        await self.send({"op": 10, "d": {"heartbeat_interval": interval_ms}})

    async def dispatch(self, name: str, data: dict[str, Any], seq: int) -> None:
        await self.send({"op": 0, "t": name, "s": seq, "d": data})

    async def ready(self, session_id: str, seq: int = 1) -> None:
        data = {
            "session_id": session_id,
            "resume_gateway_url": f"{self.base}/resume",
            "user": {"id": "42", "username": "user"},
        }
        await self.dispatch("READY", data, seq)

    async def identified(self, session_id: str) -> None:
        """HELLO, the client's IDENTIFY, READY: a fresh session, as the gateway starts one."""
        await self.hello()
        await self.expect(2)
        await self.ready(session_id)

    async def expect(self, op: int) -> dict[str, Any]:
        """The next client frame with this opcode (heartbeats in between are acknowledged)."""
        while True:
            frame = json.loads(await self.ws.recv())
            self.received.append(frame)
            if frame["op"] == 1 and self.ack:
                await self.send({"op": 11, "d": None})
            if frame["op"] == op:
                return dict(frame)

    def burst(self, payloads: list[dict[str, Any]], close: int | None = None) -> None:
        """Several text frames (and maybe a close frame) written at once, so that the client
        reads them all in one go before any of its tasks runs."""
        for payload in payloads:
            self.ws.protocol.send_text(json.dumps(payload).encode())
        if close is not None:
            self.ws.protocol.send_close(close, "")
        self.ws.transport.write(b"".join(self.ws.protocol.data_to_send()))

    async def client_close_code(self) -> int | None:
        """Read until the client closes; its close code."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                self.received.append(json.loads(await self.ws.recv()))
        return self.ws.close_code


class ScriptedGateway:
    """A loopback websocket server; connection N plays script N."""

    def __init__(self, *scripts: Script, ack: bool = True, zlib_stream: bool = False) -> None:
        self.scripts = list(scripts)
        self.ack = ack
        self.zlib_stream = zlib_stream
        self.paths: list[str] = []
        self.peers: list[Peer] = []
        self.base = ""

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.paths.append(ws.request.path)
        peer = Peer(ws, self.base, self.ack, self.zlib_stream)
        self.peers.append(peer)
        await self.scripts[len(self.peers) - 1](peer)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[ScriptedGateway]:
        async with serve(self.handle, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.base = f"ws://127.0.0.1:{port}"
            yield self


class Recorded:
    """What a runner handed to its callbacks."""

    def __init__(self) -> None:
        self.dispatches: list[str] = []
        self.fatal: Fatal | None = None
        self.died = asyncio.Event()
        self._seen: dict[str, asyncio.Event] = {}

    def on_dispatch(self, name: str, data: Any) -> None:
        self.dispatches.append(name)
        self._event(name).set()

    async def wait_for(self, name: str) -> None:
        async with asyncio.timeout(10):
            await self._event(name).wait()

    def _event(self, name: str) -> asyncio.Event:
        return self._seen.setdefault(name, asyncio.Event())

    def on_fatal(self, fatal: Fatal) -> None:
        self.fatal = fatal
        self.died.set()


def scripted_runner(gateway: ScriptedGateway, recorded: Recorded) -> GatewayRunner:
    async def gateway_url() -> str:
        return gateway.base

    return GatewayRunner(
        TOKEN,
        gateway_url=gateway_url,
        on_dispatch=recorded.on_dispatch,
        on_fatal=recorded.on_fatal,
        rng=FixedRandom(),
    )


@contextlib.asynccontextmanager
async def started_runner(
    *scripts: Script, **options: bool
) -> AsyncIterator[tuple[ScriptedGateway, GatewayRunner, Recorded]]:
    """A ``ScriptedGateway`` of ``scripts`` serving, and a started runner recording into a fresh
    ``Recorded``."""
    recorded = Recorded()
    async with ScriptedGateway(*scripts, **options).serving() as gateway:
        runner = scripted_runner(gateway, recorded)
        runner.start()
        yield gateway, runner, recorded


async def test_runner_resumes_after_op7_identifies_after_op9_and_stops_on_4004() -> None:
    close_codes: list[int | None] = []

    async def first(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-1")
        await peer.dispatch("MESSAGE_CREATE", {"id": "m1"}, seq=2)
        await peer.send({"op": 7, "d": None})
        close_codes.append(await peer.client_close_code())

    async def resumed(peer: Peer) -> None:
        await peer.hello()
        resume = await peer.expect(6)
        assert resume["d"] == {"token": TOKEN, "session_id": "session-1", "seq": 2}
        await peer.dispatch("RESUMED", {}, seq=3)
        await peer.send({"op": 9, "d": False})
        close_codes.append(await peer.client_close_code())

    async def fresh(peer: Peer) -> None:
        await peer.hello()
        identify = await peer.expect(2)
        assert identify["d"]["token"] == TOKEN
        await peer.ready("session-2")
        await peer.ws.close(4004, "Authentication failed.")

    async with started_runner(first, resumed, fresh) as (gateway, runner, recorded):
        await runner.wait_ready(5)
        async with asyncio.timeout(10):
            await recorded.died.wait()
        await runner.stop()

    query = "?encoding=json&v=9&compress=zlib-stream"
    assert gateway.paths == [f"/{query}", f"/resume{query}", f"/{query}"]
    assert recorded.dispatches == ["READY", "MESSAGE_CREATE", "RESUMED", "READY"]
    assert close_codes == [3000, 3000]  # never 1000/1001: those end the session
    assert recorded.fatal is not None and recorded.fatal.code == 4004
    assert not runner.alive
    with pytest.raises(DiscordAuthError):
        await runner.wait_ready(1)


async def test_runner_drops_a_zombie_connection_and_resumes() -> None:
    async def silent(peer: Peer) -> None:
        await peer.hello(interval_ms=50)
        await peer.expect(2)
        await peer.ready("session-z")
        # Heartbeats are read but never acknowledged: the runner must give up on us.
        assert await peer.client_close_code() == 3000

    async def resumed(peer: Peer) -> None:
        await peer.hello()
        resume = await peer.expect(6)
        assert resume["d"]["session_id"] == "session-z"
        await peer.dispatch("RESUMED", {}, seq=2)

    async with started_runner(silent, resumed, ack=False) as (gateway, runner, recorded):
        await recorded.wait_for("RESUMED")
        await runner.stop()

    beats = [f for f in gateway.peers[0].received if f["op"] == 1]
    assert len(beats) == 1  # one beat, then the zombie check instead of a second one
    assert recorded.dispatches == ["READY", "RESUMED"]


@pytest.mark.both_loops
async def test_dispatches_read_before_a_connection_ended_reach_the_app_before_resuming() -> None:
    # A heartbeat request, two dispatches and a close arrive in one read: the dispatches are
    # read (the session's seq moves to 3) while the runner still has the beat to send. When
    # that send finds the connection closed, they must still be handed on: the RESUME says
    # seq 3, so Discord will not send them again.
    resumed_at: list[int] = []

    async def first(peer: Peer) -> None:
        await peer.identified("session-r")
        peer.burst(
            [
                {"op": 1, "d": None},
                {"op": 0, "t": "MESSAGE_CREATE", "s": 2, "d": {"id": "m2"}},
                {"op": 0, "t": "MESSAGE_CREATE", "s": 3, "d": {"id": "m3"}},
            ],
            close=1001,
        )
        await peer.ws.wait_closed()

    async def resumed(peer: Peer) -> None:
        await peer.hello()
        seq = (await peer.expect(6))["d"]["seq"]
        resumed_at.append(seq)
        for replayed in range(seq + 1, 4):  # as Discord does: whatever came after seq
            await peer.dispatch("MESSAGE_CREATE", {"id": f"m{replayed}"}, seq=replayed)
        await peer.dispatch("RESUMED", {}, seq=4)
        await peer.client_close_code()

    async with started_runner(first, resumed) as (_gateway, runner, recorded):
        await recorded.wait_for("RESUMED")
        await runner.stop()

    assert resumed_at == [3]
    assert recorded.dispatches == ["READY", "MESSAGE_CREATE", "MESSAGE_CREATE", "RESUMED"]


@pytest.mark.both_loops
async def test_nothing_is_dispatched_once_the_runner_is_stopped() -> None:
    # Stopping closes the connection, and the close handshake may take a while; what the
    # gateway sends meanwhile must not reach the app (a stopped account's link is going away).
    stopping = asyncio.Event()

    async def chatty(peer: Peer) -> None:
        await peer.identified("session-s")
        await stopping.wait()
        peer.ws.transport.pause_reading()  # the client's close frame is read late
        for seq in range(2, 12):
            peer.burst([{"op": 0, "t": "MESSAGE_CREATE", "s": seq, "d": {"id": f"m{seq}"}}])
            await asyncio.sleep(0.01)
        peer.ws.transport.resume_reading()
        await peer.ws.wait_closed()

    async with started_runner(chatty) as (_gateway, runner, recorded):
        await recorded.wait_for("READY")
        stopping.set()
        await runner.stop()

    assert recorded.dispatches == ["READY"]


@pytest.mark.both_loops
async def test_a_stop_silences_the_connection_before_its_task_takes_the_cancellation() -> None:
    # The gateway's frames are already on the socket when stop() is called: read before the
    # runner's task runs again, they must not be dispatched any more.
    sent = asyncio.Event()

    async def racing(peer: Peer) -> None:
        await peer.identified("session-t")
        await peer.expect(1)  # the first beat: the runner is idle, waiting for messages
        peer.burst([{"op": 0, "t": "MESSAGE_CREATE", "s": 2, "d": {"id": "m2"}}])
        sent.set()
        await peer.client_close_code()

    async with started_runner(racing) as (_gateway, runner, recorded):
        await sent.wait()
        before_stop = list(recorded.dispatches)
        await runner.stop()

    assert recorded.dispatches == before_stop


@pytest.mark.both_loops
async def test_a_ready_handed_on_after_its_connection_ended_does_not_mean_connected() -> None:
    # READY arrives behind a heartbeat request, with a close: it is handed on once the send
    # fails, but that connection is gone; interactions must wait for the RESUMED.
    resume_seen, go_on = asyncio.Event(), asyncio.Event()

    async def first(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        ready = {
            "session_id": "session-c",
            "resume_gateway_url": f"{peer.base}/resume",
            "user": {"id": "42", "username": "user"},
        }
        peer.burst([{"op": 1, "d": None}, {"op": 0, "t": "READY", "s": 1, "d": ready}], close=1001)
        await peer.ws.wait_closed()

    async def resumed(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(6)
        resume_seen.set()
        await go_on.wait()
        await peer.dispatch("RESUMED", {}, seq=2)
        await peer.client_close_code()

    async with started_runner(first, resumed) as (_gateway, runner, recorded):
        connected = asyncio.ensure_future(runner.wait_connected(10))
        async with asyncio.timeout(10):
            await resume_seen.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        connected_before_resumed = connected.done()
        go_on.set()
        await connected
        await runner.stop()

    assert not connected_before_resumed
    assert recorded.dispatches == ["READY", "RESUMED"]


async def test_heartbeats_keep_their_schedule_while_dispatches_stream_in() -> None:
    # The runner keeps one heartbeat timer across frames: a steady stream of dispatches (each
    # well inside the interval) must neither postpone the beats nor trigger extra ones.
    beats_seen = asyncio.Event()

    async def busy(peer: Peer) -> None:
        await peer.hello(interval_ms=100)
        await peer.expect(2)
        await peer.ready("session-b")
        streaming = asyncio.create_task(_stream_dispatches(peer))
        try:
            async with asyncio.timeout(10):
                while sum(1 for f in peer.received if f["op"] == 1) < 4:
                    await peer.expect(1)
        finally:
            streaming.cancel()
        beats_seen.set()
        await peer.client_close_code()

    async with started_runner(busy) as (_gateway, runner, recorded):
        async with asyncio.timeout(10):
            await beats_seen.wait()
        await runner.stop()

    assert recorded.dispatches.count("MESSAGE_CREATE") >= 10
    assert runner.fatal is None


async def _stream_dispatches(peer: Peer) -> None:
    seq = 2
    while True:
        await peer.dispatch("MESSAGE_CREATE", {"id": f"m{seq}"}, seq=seq)
        seq += 1
        await asyncio.sleep(0.01)


async def test_the_runner_does_not_offer_permessage_deflate() -> None:
    # zlib-stream compresses the stream already; a second compression layer is pure cost.
    offered: list[str | None] = []

    async def capture(peer: Peer) -> None:
        assert peer.ws.request is not None
        offered.append(peer.ws.request.headers.get("Sec-WebSocket-Extensions"))
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-x")
        await peer.client_close_code()

    async with started_runner(capture) as (_gateway, runner, _recorded):
        await runner.wait_ready(5)
        await runner.stop()

    assert offered == [None]


async def test_a_gateway_lost_for_good_fails_the_running_jobs() -> None:
    submitted = asyncio.Event()

    async def doomed(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-1")
        await submitted.wait()
        await peer.ws.close(4004, "Authentication failed.")

    def discord(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v9/gateway":
            return httpx.Response(200, json={"url": gateway.base})
        if request.url.path.endswith("/application-command-index"):
            return httpx.Response(200, json=load_capture(COMMAND_INDEX))
        assert request.url.path == "/api/v9/interactions"
        return httpx.Response(204)

    async with (
        ScriptedGateway(doomed).serving() as gateway,
        httpx.AsyncClient(transport=httpx.MockTransport(discord)) as http,
    ):
        transport = DiscordTransport("http://discord.test", http=http, rng=FixedRandom())
        try:
            acct = account("1069126859100524575", "42")
            await transport.attach(acct)
            await transport.imagine(acct, "job-1", "cat")
            submitted.set()
            disabled, failed = await all_events_until_done(transport, "job-1")
            # The runner is dead for good but kept its session id: a new job must be refused at
            # once instead of being posted into the void (review finding B1), and as what it is:
            # a rejected token (the engine answers 596), not a generic gateway failure (502).
            with pytest.raises(DiscordAuthError):
                await transport.imagine(acct, "job-2", "dog")
        finally:
            await transport.close()

    # The account is marked first, so its failed job's successor never lands on it.
    assert disabled == AccountDisabled(
        acct.channel, "Discord rejected the token (gateway close 4004)"
    )
    assert isinstance(failed, JobFailed)
    assert failed.jobid == "job-1"
    assert failed.error == GATEWAY_LOST
    assert not failed.moderated


async def test_after_a_lost_session_the_channel_history_is_replayed() -> None:
    # The session dies before Midjourney answered (op 9, not resumable); on the new READY the
    # transport re-reads the channel, where the job's messages now are.
    posted: list[dict[str, Any]] = []
    submitted = asyncio.Event()

    async def invalidated(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-1")
        await submitted.wait()
        await peer.send({"op": 9, "d": False})
        await peer.client_close_code()

    async def fresh(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-2")
        await peer.client_close_code()

    def history() -> list[dict[str, Any]]:
        nonce = posted[0]["nonce"]
        start = load_capture("01-gw-imagine-waiting-to-start-with-nonce.json")["d"]
        start["nonce"] = nonce
        result = load_capture("02-gw-imagine-final-grid-relaxed-v4.json")["d"]
        result["nonce"] = nonce  # 2025: the final carries the nonce too
        return [result, start]  # newest first, like Discord

    def discord(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v9/gateway":
            return httpx.Response(200, json={"url": gateway.base})
        if path.endswith("/application-command-index"):
            return httpx.Response(200, json=load_capture(COMMAND_INDEX))
        if path.endswith("/messages"):
            return httpx.Response(200, json=history())
        posted.append(json.loads(request.content))
        submitted.set()
        return httpx.Response(204)

    async with (
        ScriptedGateway(invalidated, fresh).serving() as gateway,
        httpx.AsyncClient(transport=httpx.MockTransport(discord)) as http,
    ):
        transport = DiscordTransport(
            "http://discord.test", http=http, rng=FixedRandom(), reidentify_wait=(0.0, 0.0)
        )
        try:
            acct = account("1069126859100524575", "439110225975443468")
            await transport.attach(acct)
            await transport.imagine(acct, "job-1", "glass")
            started, completed = await events_until_done(transport, "job-1")
        finally:
            await transport.close()

    assert isinstance(started, JobStarted) and started.message_id == "1083788668470304788"
    assert isinstance(completed, JobCompleted)
    assert completed.job_hash == "a7cb1552-f779-4094-9afe-2acf22dae280"
    assert posted[0]["session_id"] == "session-1"


# -- zlib-stream --------------------------------------------------------------------------------


async def test_the_simulator_gateway_speaks_zlib_stream_to_our_endpoint() -> None:
    async with world() as (sim, _transport), httpx.AsyncClient() as http:
        url = gateway_endpoint(await DiscordRest(http, sim.base_url, TOKEN).gateway_url())
        stream = ZlibStream(MAX_FRAME_BYTES)
        session = GatewaySession(TOKEN, jitter=lambda: 0.5)
        received: list[dict[str, Any]] = []
        async with asyncio.timeout(WAIT), connect(url) as ws:
            while not any(f.get("t") == "READY" for f in received):
                raw = await ws.recv()
                assert isinstance(raw, bytes), "a zlib-stream connection sends binary frames"
                text = stream.feed(raw)
                if text is None:
                    continue
                frame = json.loads(text)
                received.append(frame)
                for action in session.on_frame(frame, 0.0):
                    if isinstance(action, Send):
                        await ws.send(json.dumps(action.payload))

    assert "compress=zlib-stream" in url
    assert received[0]["op"] == 10  # HELLO, then READY inflated with the same context
    assert session.session_id is not None


async def test_the_runner_inflates_split_zlib_frames() -> None:
    async def compressed(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-1")
        await peer.dispatch("MESSAGE_CREATE", {"id": "m1", "content": "x" * 2000}, seq=2)
        await peer.client_close_code()

    async with started_runner(compressed, zlib_stream=True) as (gateway, runner, recorded):
        await recorded.wait_for("MESSAGE_CREATE")
        await runner.stop()

    assert recorded.dispatches == ["READY", "MESSAGE_CREATE"]
    assert gateway.paths == ["/?encoding=json&v=9&compress=zlib-stream"]


async def test_a_corrupt_zlib_stream_reconnects_and_resumes() -> None:
    async def corrupt(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-c")
        await peer.ws.send(b"garbage" + ZLIB_SUFFIX)
        assert await peer.client_close_code() == 3000

    async def resumed(peer: Peer) -> None:
        await peer.hello()
        resume = await peer.expect(6)
        assert resume["d"]["session_id"] == "session-c"
        await peer.dispatch("RESUMED", {}, seq=2)
        await peer.client_close_code()

    async with started_runner(corrupt, resumed, zlib_stream=True) as (gateway, runner, recorded):
        await recorded.wait_for("RESUMED")
        await runner.stop()

    assert recorded.dispatches == ["READY", "RESUMED"]
    assert gateway.paths[1].startswith("/resume?")


# -- account notices and unrecognised messages through the transport ----------------------------

MJ_BOT = {"id": "936929561302675456", "username": "Midjourney Bot", "bot": True}
CHANNEL_ID = "1069126859100524575"


def mj_message(message_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": message_id,
        "channel_id": CHANNEL_ID,
        "author": MJ_BOT,
        "content": "",
        "timestamp": "2025-06-01T00:00:00+00:00",
        "embeds": [],
        "attachments": [],
        "components": [],
        "flags": 0,
    }
    return base | fields


async def test_notices_flag_the_account_and_unknown_messages_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="mjapi.transports.discord.transport")
    odd = mj_message("9001", content="A message shape nobody has seen")
    text = "You have a pending moderation message. Please acknowledge it."
    pending = mj_message(
        "9002", flags=64, embeds=[{"title": "Pending mod message", "description": text}]
    )
    sent = asyncio.Event()

    async def talkative(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-1")
        await peer.dispatch("MESSAGE_CREATE", odd, seq=2)
        await peer.dispatch("MESSAGE_UPDATE", odd, seq=3)
        await peer.dispatch("MESSAGE_CREATE", pending, seq=4)
        await peer.dispatch("MESSAGE_UPDATE", pending, seq=5)
        sent.set()
        await peer.client_close_code()

    async with (
        ScriptedGateway(talkative).serving() as gateway,
        httpx.AsyncClient(transport=httpx.MockTransport(gateway_only(gateway))) as http,
    ):
        transport = DiscordTransport("http://discord.test", http=http, rng=FixedRandom())
        try:
            await transport.attach(account(CHANNEL_ID, "42"))
            async with asyncio.timeout(WAIT), contextlib.aclosing(transport.events()) as stream:
                flagged = await anext(stream)
                await sent.wait()
        finally:
            await transport.close()

    assert flagged == AccountFlagged(CHANNEL_ID, f"Pending mod message: {text}")
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "mjapi.transports.discord.transport" and r.levelname == "WARNING"
    ]
    assert len(warnings) == 1
    assert "unrecognised Midjourney message" in warnings[0]
    assert json.dumps(odd["content"]) in warnings[0]  # the payload, as JSON


def gateway_only(gateway: ScriptedGateway) -> Callable[[httpx.Request], httpx.Response]:
    def discord(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v9/gateway"
        return httpx.Response(200, json={"url": gateway.base})

    return discord


async def test_interactions_wait_for_a_new_session_after_an_invalidated_one() -> None:
    # Posted while no session is connected, Midjourney's answers would be lost with the
    # invalidated session: the interaction waits for the new READY and names the new session.
    go, closed, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    posted: list[dict[str, Any]] = []

    async def invalidated(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await peer.ready("session-1")
        await go.wait()
        await peer.send({"op": 9, "d": False})
        await peer.client_close_code()
        closed.set()

    async def fresh(peer: Peer) -> None:
        await peer.hello()
        await peer.expect(2)
        await release.wait()
        await peer.ready("session-2")
        await peer.client_close_code()

    def discord(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v9/gateway":
            return httpx.Response(200, json={"url": gateway.base})
        if request.url.path.endswith("/application-command-index"):
            return httpx.Response(200, json=load_capture(COMMAND_INDEX))
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    async with (
        ScriptedGateway(invalidated, fresh).serving() as gateway,
        httpx.AsyncClient(transport=httpx.MockTransport(discord)) as http,
    ):
        transport = DiscordTransport(
            "http://discord.test", http=http, rng=FixedRandom(), reidentify_wait=(0.0, 0.0)
        )
        try:
            acct = account(CHANNEL_ID, "42")
            await transport.attach(acct)
            go.set()
            await asyncio.wait_for(closed.wait(), WAIT)
            submit = asyncio.create_task(transport.imagine(acct, "job-1", "cat"))
            await asyncio.sleep(0.2)
            assert posted == []  # still waiting for a session
            release.set()
            await asyncio.wait_for(submit, WAIT)
        finally:
            await transport.close()

    [interaction] = posted
    assert interaction["session_id"] == "session-2"
