"""Outbound URL safety through the real API, over loopback sockets, with private URLs NOT allowed.

Nothing here leaves the machine. Host names resolve through a table (``RESOLVER``), never DNS.
Names the guard must believe public resolve to public addresses, and the test dial (``Dial``)
leads exactly those addresses to loopback servers; any other dial is recorded and refused, so a
guard that let something through would show up as a stray dial, not as a packet to 10.0.0.5.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from mjapi.app import create_app
from mjapi.clock import FakeClock, SystemClock
from mjapi.domain.deliveries import DeliveryStatus
from mjapi.domain.jobs import JobStatus
from mjapi.domain.tokens import hash_token, new_token
from mjapi.fetch import HttpFetcher
from mjapi.net import Outbound, ResolutionFailed, UrlGuard
from mjapi.net.addresses import Address
from mjapi.net.dial import open_tcp
from mjapi.net.guard import system_resolver
from mjapi.settings import Settings
from mjapi.storage.base import ApiToken, Store
from mjapi.webhooks.outbox import Outbox, OutboxConfig
from mjapi.webhooks.policy import RetryPolicy
from mjapi.webhooks.post import CallbackClient
from tests.factories import make_job
from tests.fakes import MemoryDeliveries
from tests.servers import CallbackSink, serve_asgi

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
IMAGES_IP = "93.184.216.34"  # what images.example resolves to; dialled as the image server
HOOKS_IP = "93.184.216.35"  # what hooks.example resolves to; dialled as the callback sink


class Resolver:
    """A DNS stand-in: a table, changeable between lookups (for rebinding)."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.reset()

    def reset(self) -> None:
        self.table = {
            "images.example": [IMAGES_IP],
            "hooks.example": [HOOKS_IP],
            "loopback.example": ["127.0.0.1"],
            "ten.example": ["10.0.0.5"],
            "metadata.example": ["169.254.169.254"],
            "v6local.example": ["fc00::5"],
            "mixed.example": [IMAGES_IP, "10.0.0.5"],
        }

    async def __call__(self, host: str, port: int) -> list[Address]:
        if host not in self.table:
            raise ResolutionFailed(host)
        return [ip_address(a) for a in self.table[host]]


@dataclass
class Dial:
    """The ``Dial`` of callbacks and downloads alike: routed public addresses lead to their
    loopback server, loopback addresses to themselves; any other address is recorded and refused.
    """

    routes: dict[str, int] = field(default_factory=dict)
    strays: list[str] = field(default_factory=list)

    async def __call__(
        self, address: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if address in self.routes:
            return await open_tcp("127.0.0.1", self.routes[address])
        if address in ("127.0.0.1", "::1"):
            return await open_tcp(address, port)
        self.strays.append(address)
        raise ConnectionRefusedError(f"{address} is outside this test's loopback world")


def image_host() -> Starlette:
    """Serves an image, redirects anywhere it is told, and counts redirect hops down."""

    async def image(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    async def redirect(request: Request) -> Response:
        return Response(status_code=302, headers={"location": request.query_params["to"]})

    async def hops(request: Request) -> Response:
        left = int(request.path_params["left"])
        if left == 0:
            return await image(request)
        return Response(status_code=301, headers={"location": f"/hops/{left - 1}"})

    async def slow(request: Request) -> StreamingResponse:
        async def trickle() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b"\x00" * 16
                await asyncio.sleep(0.05)

        return StreamingResponse(trickle(), media_type="image/png")

    return Starlette(
        routes=[
            Route("/img.png", image),
            Route("/redirect", redirect),
            Route("/hops/{left}", hops),
            Route("/slow.png", slow),
        ]
    )


@dataclass
class World:
    """The API (private URLs not allowed), its outbound network, and the loopback servers."""

    api: httpx.AsyncClient
    resolver: Resolver
    dial: Dial
    image_port: int
    sink: CallbackSink
    sink_port: int

    @property
    def loopback_image(self) -> str:
        return f"http://127.0.0.1:{self.image_port}/img.png"

    def outbound(self, *, allow_private: bool = False) -> Outbound:
        return Outbound(UrlGuard(allow_private=allow_private, resolver=self.resolver), self.dial)


def port_of(url: str) -> int:
    port = httpx.URL(url).port
    assert port is not None
    return port


# One set of servers for the module (starting and stopping three uvicorns per test is slow);
# the ``world`` fixture puts their state back before each test.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp_path = tmp_path_factory.mktemp("ssrf")
    sink = CallbackSink()
    async with (
        serve_asgi(image_host()) as images_url,
        serve_asgi(sink.app) as sink_url,
    ):
        resolver = Resolver()
        dial = Dial({IMAGES_IP: port_of(images_url), HOOKS_IP: port_of(sink_url)})
        settings = Settings(data_dir=tmp_path, discord_url="http://127.0.0.1:9", ack_timeout=2)
        assert settings.allow_private_urls is False  # the default is the safe one
        outbound = Outbound(UrlGuard(resolver=resolver), dial)
        app = create_app(settings, outbound=outbound)
        async with serve_asgi(app) as base_url:
            token = await _api_token(app.state.store)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=base_url, headers=headers) as api:
                yield World(api, resolver, dial, port_of(images_url), sink, port_of(sink_url))


@pytest.fixture
def world(servers: World) -> World:
    servers.resolver.reset()
    servers.dial.strays.clear()
    servers.sink.bodies.clear()
    return servers


async def _api_token(store: Store) -> str:
    token = new_token(await store.next_user_id())
    await store.add_token(ApiToken(hash_token(token), 1, SystemClock().now()))
    return token


async def refusal_of(world: World, path: str, body: dict[str, Any]) -> str:
    answer = await world.api.post(path, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 400
    message = answer.json()["error"]
    assert isinstance(message, str)
    return message


# -- the SSRF matrix: every way in, every endpoint ------------------------------------------------

FORBIDDEN = [
    ("http://127.0.0.1:{port}/img.png", "it is a loopback address (127.0.0.1)"),
    ("http://10.0.0.5/img.png", "it is a private address (10.0.0.5)"),
    ("http://172.16.0.1/img.png", "it is a private address (172.16.0.1)"),
    ("http://192.168.1.1/img.png", "it is a private address (192.168.1.1)"),
    (
        "http://169.254.169.254/latest/meta-data/",
        "it is a cloud metadata address (169.254.169.254)",
    ),
    ("http://[::1]:{port}/img.png", "it is a loopback address (::1)"),
    ("http://[fc00::1]/img.png", "it is a private address (fc00::1)"),
    ("http://[::ffff:127.0.0.1]:{port}/img.png", "it is a loopback address (::ffff:7f00:1)"),
    ("http://2130706433:{port}/img.png", "it is a loopback address (127.0.0.1)"),
    ("http://0x7f.1:{port}/img.png", "it is a loopback address (127.0.0.1)"),
    ("http://evil@127.0.0.1:{port}/img.png", "it is a loopback address (127.0.0.1)"),
    ("http://loopback.example:{port}/img.png", "it resolves to a loopback address (127.0.0.1)"),
    ("http://ten.example/img.png", "it resolves to a private address (10.0.0.5)"),
    (
        "http://metadata.example/img.png",
        "it resolves to a cloud metadata address (169.254.169.254)",
    ),
    ("http://v6local.example/img.png", "it resolves to a private address (fc00::5)"),
    ("http://mixed.example/img.png", "it resolves to a private address (10.0.0.5)"),
]


@pytest.mark.parametrize(("template", "why"), FORBIDDEN)
async def test_forbidden_urls_are_refused_by_every_endpoint(
    world: World, template: str, why: str
) -> None:
    url = template.format(port=world.image_port)
    expected = f"URL {url} is not allowed: {why}"
    assert await refusal_of(world, "/v2/jobs/blend", {"blendUrls": [url, url]}) == expected
    assert await refusal_of(world, "/v2/jobs/describe", {"describeUrl": url}) == expected
    imagine = {"prompt": "a cat", "replyUrl": url}
    assert await refusal_of(world, "/v2/jobs/imagine", imagine) == expected
    assert await refusal_of(world, "/v2/account", {"replyUrl": url}) == expected
    assert world.dial.strays == []


# -- redirects: each hop is checked -----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("http://127.0.0.1:{port}/img.png", "it is a loopback address (127.0.0.1)"),
        ("http://ten.example/img.png", "it resolves to a private address (10.0.0.5)"),
        ("http://[::1]:{port}/img.png", "it is a loopback address (::1)"),
        ("file:///etc/passwd", "its scheme is file, only http and https are"),
    ],
)
async def test_a_redirect_to_a_forbidden_place_is_refused_at_that_hop(
    world: World, target: str, why: str
) -> None:
    location = target.format(port=world.image_port)
    start = str(httpx.URL("http://images.example/redirect", params={"to": location}))
    hop = str(httpx.URL(start).join(location))  # as the client reads Location
    message = await refusal_of(world, "/v2/jobs/describe", {"describeUrl": start})
    assert message == f"URL {hop} is not allowed: {why} (redirected from {start})"
    assert world.dial.strays == []


async def test_a_public_image_and_public_redirects_are_fetched(world: World) -> None:
    async with world.outbound().client(5) as client:
        fetcher = HttpFetcher(client)
        direct = await fetcher.image("http://images.example/img.png")
        hopped = await fetcher.image("http://images.example/redirect?to=/hops/4")
    assert direct.data == PNG and hopped.data == PNG
    assert hopped.content_type == "image/png"


async def test_more_than_five_redirects_are_refused(world: World) -> None:
    async with world.outbound().client(5) as client:
        with pytest.raises(Exception) as caught:
            await HttpFetcher(client).image("http://images.example/hops/6")
    assert str(caught.value) == "URL http://images.example/hops/6 redirects more than 5 times"


async def test_a_download_has_a_total_time_limit(world: World) -> None:
    async with world.outbound().client(5) as client:
        with pytest.raises(Exception) as caught:
            await HttpFetcher(client, time_limit=0.3).image("http://images.example/slow.png")
    assert str(caught.value) == (
        "URL http://images.example/slow.png can not be retrieved (took more than 0.3 seconds)"
    )


async def test_a_resolver_that_hangs_is_a_connect_timeout(world: World) -> None:
    async def hanging(host: str, port: int) -> list[Address]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    outbound = Outbound(UrlGuard(resolver=hanging), world.dial)
    async with outbound.client(0.05) as client:
        with pytest.raises(Exception) as caught:
            await HttpFetcher(client).image("http://images.example/img.png")
    assert str(caught.value) == (
        "URL http://images.example/img.png can not be retrieved (ConnectTimeout)"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_the_system_resolver_reads_getaddrinfo_answers(host: str) -> None:
    # Numeric hosts only: getaddrinfo answers them without asking any DNS server.
    assert await system_resolver(host, 80) == [ip_address(host)]


# -- callbacks ---------------------------------------------------------------------------------


@dataclass
class Callbacks:
    """An outbox over an in-memory outbox store; retries pass on a fake clock, not in real time."""

    outbox: Outbox
    store: MemoryDeliveries
    clock: FakeClock

    def send(self, jobid: str, url: str) -> str:
        job = make_job(jobid=jobid, owner=1, status=JobStatus.STARTED, reply_url=url)
        delivery = self.store.add(self.outbox.prepare(job, self.clock.now()))
        self.outbox.enqueue(delivery)
        return delivery.event_id


def callbacks_through(client: CallbackClient) -> Callbacks:
    store, clock = MemoryDeliveries(), FakeClock()

    async def pause(nudge: asyncio.Event, seconds: float) -> None:
        clock.advance(seconds)

    config = OutboxConfig(RetryPolicy(first_delay=1, max_delay=1, period=3))
    outbox = Outbox(store, client, clock, config, rng=random.Random(1), pause=pause)
    return Callbacks(outbox, store, clock)


async def test_a_callback_to_a_public_host_is_delivered(world: World) -> None:
    async with contextlib.aclosing(world.outbound().poster(max_idle=8)) as client:
        callbacks = callbacks_through(client)
        callbacks.send("job-1", "http://hooks.example/hook")
        await callbacks.outbox.drain(10)
    assert world.sink.statuses("job-1") == ["started"]


async def test_a_callback_host_that_rebinds_to_a_private_address_is_never_called(
    world: World,
) -> None:
    url = "http://hooks.example/hook"
    await world.outbound().guard.check(url)  # what the request-time check saw: public
    world.resolver.table["hooks.example"] = ["127.0.0.1"]  # then the DNS answer changes
    async with contextlib.aclosing(world.outbound().poster(max_idle=8)) as client:
        callbacks = callbacks_through(client)
        event_id = callbacks.send("job-2", url)
        await callbacks.outbox.drain(10)
    stored = callbacks.store.rows[event_id]
    assert stored.status is DeliveryStatus.FAILED
    assert len(stored.attempts) >= 3
    refusal = "refused by the URL guard: it resolves to a loopback address (127.0.0.1)"
    assert {a.error for a in stored.attempts} == {refusal}
    assert world.sink.bodies == [] and world.dial.strays == []


async def test_a_reply_url_that_does_not_resolve_yet_is_accepted_at_request_time(
    world: World,
) -> None:
    # Not refused: the receiver may come up later, and each delivery checks again.
    answer = await world.api.post("/v2/account", json={"replyUrl": "http://later.example/hook"})
    assert answer.status_code in (200, 204), answer.text


# -- with MJAPI_ALLOW_PRIVATE_URLS on, loopback works -----------------------------------------


async def test_allowing_private_urls_lets_loopback_images_and_callbacks_through(
    world: World,
) -> None:
    outbound = world.outbound(allow_private=True)
    async with (
        outbound.client(5) as client,
        contextlib.aclosing(outbound.poster(max_idle=8)) as poster,
    ):
        image = await HttpFetcher(client).image(world.loopback_image)
        callbacks = callbacks_through(poster)
        callbacks.send("job-3", f"http://127.0.0.1:{world.sink_port}/hook")
        await callbacks.outbox.drain(10)
    assert image.data == PNG
    assert len(world.sink.bodies) == 1


async def test_the_setting_reaches_the_api(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, allow_private_urls=True)
    app = create_app(settings)
    assert app.state.outbound.guard.allow_private is True
    assert create_app(Settings(data_dir=tmp_path)).state.outbound.guard.allow_private is False
