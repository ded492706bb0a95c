"""Property-based: no request body or query, however odd, gets a 500 or a non-envelope error.

The server (API + engine + SQLite + Discord transport + simulator) runs in a thread of its own so
that hypothesis can drive it with a plain synchronous client. Strings that look like URLs are kept
on loopback: no test may reach another host, not even a DNS resolver.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mjapi.app import create_app
from mjapi.clock import SystemClock
from mjapi.domain.tokens import hash_token, new_token
from mjapi.settings import Settings
from mjapi.simulator import SimulatorConfig, running_simulator
from mjapi.storage.base import ApiToken, Store
from tests.e2e.conftest import DISCORD_TOKEN
from tests.servers import serve_asgi

FIELDS = [
    "prompt",
    "channel",
    "maxJobs",
    "replyUrl",
    "replyRef",
    "jobid",
    "button",
    "mask",
    "blendUrls",
    "blendDimensions",
    "describeUrl",
    "discord",
    "server",
    "name",
]
POSTS = [
    "/v2/jobs/imagine",
    "/v2/jobs/button",
    "/v2/jobs/blend",
    "/v2/jobs/describe",
    "/v2/jobs/seed_async",
    "/v2/jobs/info",
    "/v2/jobs/remix",
    "/v2/account",
    "/v2/account/midjourney",
    "/v2/account/midjourney/123",
]
COMMON = ["channel", "maxJobs", "replyUrl", "replyRef"]
OWN_FIELDS = {
    "/v2/jobs/imagine": ["prompt"],
    "/v2/jobs/button": ["jobid", "button", "prompt", "mask"],
    "/v2/jobs/blend": ["blendUrls", "blendDimensions"],
    "/v2/jobs/describe": ["describeUrl"],
    "/v2/jobs/seed_async": ["jobid"],
    "/v2/account": ["name"],
    "/v2/account/midjourney": ["discord"],
    "/v2/account/midjourney/123": ["discord", "server"],
}
#: Values at the edges of what each field accepts, tried on every field of every endpoint.
BOUNDARY: list[Any] = [
    *("U1", "🔄", "Square", "Portrait", "0", "1", "15", "16", "-1", "", " ", "²", "1e309"),
    *(0, 1, 15, 16, -1, 2**63, 1.5, True, None, [], {}, ["a"], "x" * 1025, "a\x00b"),
    *("123456789012345678", "\ud800", "http://[::1", "http://127.0.0.1:99999/x"),
]
GETS = ["/v2/jobs/", "/v2/jobs", "/v2/jobs/cancel/", "/v2/account/midjourney/abc"]


class LiveServer:
    """mjapi and the simulator on loopback, in a background thread with its own event loop."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.base_url = ""
        self.token = ""
        self.simulator_url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),))

    def __enter__(self) -> LiveServer:
        self._thread.start()
        assert self._ready.wait(30), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        config = SimulatorConfig(step_delay=0.01, heartbeat_interval_ms=5000)
        async with running_simulator(config) as sim:
            settings_ = Settings(data_dir=self.data_dir, discord_url=sim.base_url, ack_timeout=5)
            app = create_app(settings_)
            async with serve_asgi(app) as base_url:
                store: Store = app.state.store
                owner = await store.next_user_id()
                self.token = new_token(owner)
                await store.add_token(ApiToken(hash_token(self.token), owner, SystemClock().now()))
                await app.state.engine.accounts.add(owner, DISCORD_TOKEN, 15)
                self.base_url, self.simulator_url = base_url, sim.base_url
                self._ready.set()
                await self._stop.wait()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


def safe_text() -> st.SearchStrategy[str]:
    return st.text(max_size=40).filter(lambda s: "://" not in s)


def values(live_url: str) -> st.SearchStrategy[Any]:
    loopback = st.sampled_from(
        [f"{live_url}/nothing.png", f"{live_url}/api/v9/gateway", "http://127.0.0.1:9/x.png"]
    )
    # Boundary values are drawn far more often than arbitrary ones: they are where bugs hide.
    boundary = st.sampled_from(BOUNDARY)
    scalars = st.one_of(
        boundary, boundary, boundary, st.none(), st.integers(), st.floats(), safe_text(), loopback
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(safe_text(), inner, max_size=4),
        max_leaves=12,
    )


def check(reply: httpx.Response) -> None:
    assert reply.status_code != 500, reply.text
    if reply.status_code >= 400:
        body = reply.json()
        assert body["code"] == reply.status_code and isinstance(body["error"], str)


SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("path", POSTS)
def test_post_bodies(live: LiveServer, path: str) -> None:
    field_values = values(live.simulator_url)

    @SETTINGS
    @given(body=st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, field_values)))
    def run(body: dict[str, Any]) -> None:
        raw = json.dumps(body, allow_nan=True)
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
            check(client.post(path, content=raw, headers=headers))

    run()


def base_bodies(live: LiveServer) -> dict[str, dict[str, Any]]:
    """A body per endpoint that passes validation, so that each field's own check is reached."""
    image = f"{live.simulator_url}/nothing.png"
    legacy = {"discord": "x" * 25, "server": "1", "channel": "123", "maxJobs": 1}
    return {
        "/v2/jobs/imagine": {"prompt": "fuzz"},
        "/v2/jobs/button": {"jobid": "job:none", "button": "U1"},
        "/v2/jobs/blend": {"blendUrls": [image, image]},
        "/v2/jobs/describe": {"describeUrl": image},
        "/v2/jobs/seed_async": {"jobid": "job:none"},
        "/v2/jobs/info": {},
        "/v2/jobs/remix": {},
        "/v2/account": {},
        "/v2/account/midjourney": {"discord": "short"},
        "/v2/account/midjourney/123": legacy,
    }


@pytest.mark.parametrize("path", POSTS)
def test_every_field_at_its_boundaries(live: LiveServer, path: str) -> None:
    base = base_bodies(live)[path]
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    # Only the fields the endpoint reads (plus one it ignores): the rest cannot reach any code.
    fields = [*COMMON, *OWN_FIELDS.get(path, ()), "unknownField"]
    with httpx.Client(base_url=live.base_url, timeout=30, headers=headers) as client:
        for field in fields:
            for value in BOUNDARY:
                body = json.dumps({**base, field: value})
                check(client.post(path, content=body))


@pytest.mark.parametrize("path", GETS)
def test_get_queries(live: LiveServer, path: str) -> None:
    @SETTINGS
    @given(params=st.dictionaries(st.sampled_from(["jobid", "x"]), safe_text(), max_size=2))
    def run(params: dict[str, str]) -> None:
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {live.token}"}
            check(client.get(path, params=params, headers=headers))

    run()
