"""A whole mjapi (API + engine + SQLite + Discord transport) against the simulator, over sockets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mjapi.app import create_app
from mjapi.clock import SystemClock
from mjapi.domain.tokens import hash_token, new_token
from mjapi.engine import Engine
from mjapi.settings import Settings
from mjapi.simulator import SimulatorConfig, running_simulator
from mjapi.storage.base import ApiToken, Store
from tests.servers import CallbackSink, serve_asgi

DISCORD_TOKEN = "e2e-simulated-discord-token-alpha"
#: Every Discord token the e2e modules configure contains one of these.
TOKEN_MARKS = ("simulated-discord-token", "crash-test-account-token")


@pytest.fixture(autouse=True)
def no_discord_token_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every e2e test: mjapi's log records, at every level, never hold a Discord token."""
    caplog.set_level(logging.DEBUG, logger="mjapi")
    yield
    leaked = [
        record.getMessage()
        for record in caplog.records
        if any(mark in record.getMessage() for mark in TOKEN_MARKS)
    ]
    assert leaked == []


@dataclass
class Stack:
    """What an e2e test talks to."""

    api: httpx.AsyncClient
    simulator_url: str
    store: Store
    sink: CallbackSink
    sink_url: str
    token: str
    #: the server's engine (a test may look at what it runs on)
    engine: Engine | None = None

    async def new_token(self) -> str:
        owner = await self.store.next_user_id()
        token = new_token(owner)
        await self.store.add_token(ApiToken(hash_token(token), owner, SystemClock().now()))
        return token


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(step_delay=0.02, heartbeat_interval_ms=5000)


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    """Settings a test module changes for its whole stack (override the fixture)."""
    return {}


@pytest.fixture
async def stack(
    tmp_path: Path, simulator_config: SimulatorConfig, stack_settings: dict[str, Any]
) -> AsyncIterator[Stack]:
    sink = CallbackSink()
    async with (
        running_simulator(simulator_config) as sim,
        serve_asgi(sink.app) as sink_url,
    ):
        settings = Settings(
            data_dir=tmp_path,
            discord_url=sim.base_url,
            # The sink and the simulator's images are on loopback: let the URL guard allow it.
            **{
                "ack_timeout": 10,
                "gateway_ready_timeout": 10,
                "allow_private_urls": True,
                # The suites make many requests quickly; test_webhooks checks the limit itself.
                "rate_limit": 0,
                **stack_settings,
            },
        )
        app = create_app(settings)
        async with serve_asgi(app) as base_url:
            store: Store = app.state.store
            stack = Stack(
                httpx.AsyncClient(base_url=base_url, timeout=20),
                sim.base_url,
                store,
                sink,
                f"{sink_url}/hook",
                "",
            )
            stack.engine = app.state.engine
            stack.token = await stack.new_token()
            stack.api.headers["Authorization"] = f"Bearer {stack.token}"
            try:
                yield stack
            finally:
                await stack.api.aclose()
