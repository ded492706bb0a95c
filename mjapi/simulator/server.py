"""The simulator as a server: the ASGI app, an in-process runner for tests, a blocking ``serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from mjapi.clock import Clock, SystemClock
from mjapi.simulator.bot import MidjourneyBot
from mjapi.simulator.cdn import Cdn
from mjapi.simulator.commands import CommandIndex
from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.control import SimControl
from mjapi.simulator.control_api import ControlApi
from mjapi.simulator.errors import DiscordError
from mjapi.simulator.faults import FaultControl
from mjapi.simulator.gateway import gateway_endpoint
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.inpaint import InpaintApi
from mjapi.simulator.ratelimits import RateLimiter
from mjapi.simulator.rest import RestApi
from mjapi.simulator.rest_guard import RestGuard
from mjapi.simulator.snowflake import SnowflakeFactory
from mjapi.simulator.sockets import TransportExposingProtocol
from mjapi.simulator.state import SimulatorState
from mjapi.simulator.stats import SimStats

#: uvicorn's own logger: the one its log configuration shows on the console
log = logging.getLogger("uvicorn.error")

_STARTUP_TIMEOUT_S = 10.0
_CDN_PATH = "/attachments/{channel_id}/{attachment_id}/{filename}"


class Simulator:
    """Fake Discord (REST, Gateway, CDN) with a fake Midjourney Bot, as one ASGI app."""

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Clock | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or SystemClock()
        self.snowflakes = SnowflakeFactory(self.clock)
        cdn = Cdn(self.clock, self.config.max_stored_attachments)
        commands = CommandIndex(self.config.version_overrides())
        self.state = SimulatorState(self.config, commands, cdn)
        #: what the simulator saw and did (``GET /_sim/stats``)
        self.stats = SimStats()
        #: the fault rules (``/_sim/faults``): ``sim.faults.add("banned_prompt", token=...)``
        self.faults = FaultControl()
        self.hub = GatewayHub(
            self.clock,
            self.stats.gateway,
            resume_window=self.config.resume_window,
            replay_limit=self.config.replay_limit,
        )
        self.bot = MidjourneyBot(
            self.config,
            self.state,
            self.hub,
            self.snowflakes,
            self.clock,
            self.faults,
            self.stats.jobs,
        )
        #: gateway, token, plan and command actions (``/_sim/gateway/...`` etc.)
        self.control = SimControl(
            self.state, self.hub, self.bot, self.snowflakes, self.stats.gateway
        )
        self.rate_limiter = RateLimiter(self.config.rate_limits, self.clock)
        self.app = self._build_app(cdn)
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (REST under ``/api/v9`` and ``/api/v10``)."""
        if self._base_url is None:
            raise RuntimeError("the simulator is not serving: use running_simulator() or serve()")
        return self._base_url

    def _build_app(self, cdn: Cdn) -> Starlette:
        guard = RestGuard(self.faults, self.rate_limiter, self.stats, self.clock)
        rest = RestApi(self.state, self.hub, self.bot, guard).routes()
        inpaint = InpaintApi(self.state, self.bot)
        control = ControlApi(self.faults, self.control, self.stats)
        routes = [
            Mount("/api/v9", routes=rest),
            Mount("/api/v10", routes=rest),
            # clients append "/?v=9&encoding=json" to the URL of GET /gateway, or not
            WebSocketRoute("/gateway", self._gateway),
            WebSocketRoute("/gateway/", self._gateway),
            Route(_CDN_PATH, cdn.serve),
            Route(f"/media{_CDN_PATH}", cdn.serve),
            # upload slots' URLs (Google storage in production, reference §1.9)
            Route("/upload/{token}", self.state.uploads.put, methods=["PUT"]),
            # the Vary (Region) editor's backend (discordsays.com in production, §1.6)
            Route("/discordsays/inpaint/api/submit-job", inpaint.submit_job, methods=["POST"]),
            # the control API: a path production Discord never has (docs/simulator.md)
            Mount("/_sim", routes=control.routes()),
        ]
        handlers: dict[Any, Any] = {
            DiscordError: _discord_error,
            HTTPException: _http_error,
        }
        return Starlette(routes=routes, exception_handlers=handlers, lifespan=self._lifespan)

    async def _gateway(self, websocket: WebSocket) -> None:
        await gateway_endpoint(websocket, self.state, self.hub, self.config, self.stats.gateway)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.bot.aclose()


async def _discord_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DiscordError)
    return JSONResponse(exc.body, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods, in Discord's shape: ``{"message": "404: Not Found"}``."""
    assert isinstance(exc, HTTPException)
    body = {"message": f"{exc.status_code}: {exc.detail}", "code": 0}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


class _SimulatorServer(uvicorn.Server):
    """uvicorn that stops as soon as it is asked to."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stop_requested = asyncio.Event()

    def request_stop(self) -> None:
        self.should_exit = True
        self._stop_requested.set()

    async def main_loop(self) -> None:
        # uvicorn polls should_exit every 0.1 s; tests start and stop many servers, so wake at once.
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), 0.1)


class _EmbeddedServer(_SimulatorServer):
    """Inside a host program (e.g. pytest), which keeps its own SIGINT/SIGTERM handling."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    """A bound socket, so the real port is known before uvicorn starts (port 0 = any free one).

    IPPROTO_TCP named: asyncio's own loop sets TCP_NODELAY only on sockets whose protocol says
    TCP (uvloop sets it on all). Without it every answer waited ~40 ms on asyncio's loop:
    uvicorn writes an answer's head and body apart, and Nagle held the body back until the
    client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _wait_until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _STARTUP_TIMEOUT_S
    while not server.started:
        if task.done():
            task.result()  # re-raises why uvicorn stopped
            raise RuntimeError("the simulator server stopped during start-up")
        if loop.time() > deadline:
            raise TimeoutError("the simulator server did not start")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def _serving(
    simulator: Simulator, host: str, port: int, server_class: type[_SimulatorServer], log_level: str
) -> AsyncIterator[asyncio.Task[None]]:
    sock = _bind(host, port)
    config = uvicorn.Config(
        simulator.app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        # uvicorn's sans-I/O websockets, exposing the transport for /_sim/gateway/drop
        ws=TransportExposingProtocol,
        # Discord sends no websocket pings, only gateway heartbeats (op 1/11)
        ws_ping_interval=None,
    )
    server = server_class(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _wait_until_started(server, task)
        simulator._base_url = f"http://{_url_host(host)}:{sock.getsockname()[1]}"
        yield task
    finally:
        server.request_stop()
        await asyncio.gather(task, return_exceptions=True)
        await simulator.bot.aclose()
        simulator._base_url = None
        sock.close()


@contextlib.asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock | None = None,
) -> AsyncIterator[Simulator]:
    """Serve a fresh simulator on ``host:port`` (a free port by default) for the block's duration.

    On exit the server shuts down (open websockets are closed) and the bot's tasks are cancelled.
    """
    simulator = Simulator(config, clock=clock)
    async with _serving(simulator, host, port, _EmbeddedServer, "warning"):
        yield simulator


def serve(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 8181) -> None:
    """Run a simulator until interrupted (Ctrl-C): the ``mjapi simulator`` command."""
    # uvicorn re-raises the SIGINT it captured once it has shut down, as uvicorn.run() expects.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(Simulator(config), host, port))


async def _serve_forever(simulator: Simulator, host: str, port: int) -> None:
    async with _serving(simulator, host, port, _SimulatorServer, "info") as task:
        base = simulator.base_url
        log.info("Discord simulator: REST %s/api/v9, gateway %s/gateway", base, "ws" + base[4:])
        await task
