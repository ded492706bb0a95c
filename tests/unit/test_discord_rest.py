"""DiscordRest against httpx.MockTransport: requests, error mapping, and no token leaks."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from mjapi.errors import (
    DiscordAuthError,
    DiscordHTTPError,
    MjapiError,
    RateLimited,
    TransportError,
)
from mjapi.transports.discord.commands import (
    CommandCatalog,
    CommandNotFound,
    CommandRef,
    find_command,
    is_stale_version,
)
from mjapi.transports.discord.interactions import imagine_payload
from mjapi.transports.discord.ratelimit import RateLimiter
from mjapi.transports.discord.rest import DiscordRest, InvalidFormBody
from mjapi.transports.discord.snowflake import SnowflakeFactory, snowflake_time_ms
from tests.conftest import load_capture

TOKEN = "MTA4MzgxMTczNzIxNzUzMTkwNA.GxYz12.abcdefghijklmnopqrstuvwxyz0123456789"
BASE = "https://discord.test"


class Recorder:
    """A MockTransport handler that answers from a script and records requests.

    The last answer repeats once the script is used up (retries see the same failure again).
    """

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def client(time: FakeTime) -> AsyncIterator[Callable[[Recorder], DiscordRest]]:
    clients: list[httpx.AsyncClient] = []

    def make(recorder: Recorder) -> DiscordRest:
        http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
        clients.append(http)
        limiter = RateLimiter(clock=time.clock, sleep=time.sleep, rng=random.Random(1))
        return DiscordRest(http, BASE, TOKEN, limiter=limiter)

    yield make
    for http in clients:
        await http.aclose()


def assert_no_token(exc: BaseException) -> None:
    texts = [str(exc), repr(exc), str(getattr(exc, "message", "")), str(exc.__cause__ or "")]
    for text in texts:
        assert TOKEN not in text
        assert TOKEN[:20] not in text


# -- requests ---------------------------------------------------------------------------------


async def test_requests_carry_the_raw_token_and_a_browser_user_agent(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    recorder = Recorder(httpx.Response(200, json={"url": "wss://gateway.discord.gg"}))

    assert await client(recorder).gateway_url() == "wss://gateway.discord.gg"

    [request] = recorder.requests
    assert str(request.url) == f"{BASE}/api/v9/gateway"
    assert request.headers["Authorization"] == TOKEN  # no "Bot "/"Bearer " prefix
    assert request.headers["User-Agent"].startswith("Mozilla/5.0")


async def test_post_interaction_sends_json_and_accepts_204(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    recorder = Recorder(httpx.Response(204))
    payload = load_capture("36-req-interaction-type2-imagine-payload-json.json")

    await client(recorder).post_interaction(payload)

    [request] = recorder.requests
    assert request.method == "POST"
    assert request.url.path == "/api/v9/interactions"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == payload


async def test_endpoints_and_shapes(client: Callable[[Recorder], DiscordRest]) -> None:
    recorder = Recorder(
        httpx.Response(200, json={"id": "1", "username": "user"}),
        httpx.Response(200, json=[{"id": "5", "type": 1}, "junk"]),
        httpx.Response(200, json={"id": "6", "type": 1}),
        httpx.Response(200, json=load_capture("31-rest-application-command-index-2024-08.json")),
        httpx.Response(200, json={"application_commands": []}),
        httpx.Response(200, json=load_capture("18-rest-channel-messages-grids-relaxed-niji.json")),
    )
    rest = client(recorder)

    assert (await rest.me())["id"] == "1"
    assert await rest.dm_channels() == [{"id": "5", "type": 1}]
    assert (await rest.open_dm("936929561302675456"))["id"] == "6"
    assert "application_commands" in await rest.command_index("77")
    await rest.command_index("77", guild_id="88")
    assert len(await rest.channel_messages("77", limit=10)) == 10

    paths = [(r.method, r.url.path, r.url.query.decode()) for r in recorder.requests]
    assert paths == [
        ("GET", "/api/v9/users/@me", ""),
        ("GET", "/api/v9/users/@me/channels", ""),
        ("POST", "/api/v9/users/@me/channels", ""),
        ("GET", "/api/v9/channels/77/application-command-index", ""),
        ("GET", "/api/v9/guilds/88/application-command-index", ""),
        ("GET", "/api/v9/channels/77/messages", "limit=10"),
    ]
    assert json.loads(recorder.requests[2].content) == {"recipients": ["936929561302675456"]}


# -- error mapping ----------------------------------------------------------------------------


async def test_401_is_an_auth_error(client: Callable[[Recorder], DiscordRest]) -> None:
    recorder = Recorder(httpx.Response(401, json={"message": "401: Unauthorized", "code": 0}))
    with pytest.raises(DiscordAuthError) as caught:
        await client(recorder).me()
    assert_no_token(caught.value)


async def test_429_reads_retry_after_from_the_body(
    client: Callable[[Recorder], DiscordRest], time: FakeTime
) -> None:
    body = load_capture("34-rest-error-429-rate-limited.json")
    recorder = Recorder(httpx.Response(429, json=body, headers={"Retry-After": "3"}))

    with pytest.raises(RateLimited) as caught:
        await client(recorder).post_interaction({"type": 2})

    # Waited as told and tried again, three times, before giving up.
    assert len(recorder.requests) == 4
    assert time.sleeps == pytest.approx([2.06] * 3)
    assert caught.value.retry_after == pytest.approx(2.06)
    assert "The resource is being rate limited." in caught.value.message
    assert_no_token(caught.value)


async def test_429_falls_back_to_the_retry_after_header(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    recorder = Recorder(httpx.Response(429, text="slow down", headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        await client(recorder).post_interaction({"type": 2})
    assert caught.value.retry_after == 7.0


async def test_400_stale_command_version_is_recognised(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    body = load_capture("33-rest-error-400-command-outdated.json")
    recorder = Recorder(httpx.Response(400, json=body))

    with pytest.raises(InvalidFormBody) as caught:
        await client(recorder).post_interaction({"type": 2})

    exc = caught.value
    assert isinstance(exc, DiscordHTTPError)
    assert (exc.http_status, exc.code, exc.discord_message) == (400, 50035, "Invalid Form Body")
    assert exc.error_codes == frozenset({"INTERACTION_APPLICATION_COMMAND_INVALID_VERSION"})
    assert is_stale_version(exc)
    assert_no_token(exc)


async def test_other_50035_is_not_a_stale_version(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    body = {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {"nonce": {"_errors": [{"code": "BASE_TYPE_BAD", "message": "bad"}]}},
    }
    with pytest.raises(InvalidFormBody) as caught:
        await client(Recorder(httpx.Response(400, json=body))).post_interaction({})
    assert not is_stale_version(caught.value)


async def test_500_is_a_discord_http_error(client: Callable[[Recorder], DiscordRest]) -> None:
    recorder = Recorder(httpx.Response(500, text="<html>oops</html>"))
    with pytest.raises(DiscordHTTPError) as caught:
        await client(recorder).me()
    assert len(recorder.requests) == 3  # retried with backoff first
    assert caught.value.http_status == 500
    assert caught.value.code is None
    assert not isinstance(caught.value, DiscordAuthError)
    assert_no_token(caught.value)


async def test_404_carries_discord_code_and_message(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    recorder = Recorder(httpx.Response(404, json={"message": "Unknown Message", "code": 10008}))
    with pytest.raises(DiscordHTTPError) as caught:
        await client(recorder).channel_messages("1")
    assert (caught.value.http_status, caught.value.code) == (404, 10008)
    assert "Unknown Message" in str(caught.value)


@pytest.mark.parametrize(
    ("failure", "tries"),
    [
        (httpx.ConnectError("connection refused"), 3),  # never sent: retried
        (httpx.ReadTimeout("timed out"), 1),  # a POST that may have arrived: not repeated
        (httpx.RemoteProtocolError("server hung up"), 1),
    ],
)
async def test_network_errors_are_transport_errors(
    client: Callable[[Recorder], DiscordRest], failure: Exception, tries: int
) -> None:
    recorder = Recorder(failure)
    with pytest.raises(TransportError) as caught:
        await client(recorder).post_interaction({"type": 2})
    assert len(recorder.requests) == tries
    assert not isinstance(caught.value, DiscordHTTPError)
    assert_no_token(caught.value)


async def test_a_non_json_success_is_a_transport_error(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    with pytest.raises(TransportError):
        await client(Recorder(httpx.Response(200, text="not json"))).me()


async def test_no_exception_or_log_line_contains_the_token(
    client: Callable[[Recorder], DiscordRest], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    answers: list[httpx.Response | Exception] = [
        httpx.Response(401, json={"message": "401: Unauthorized"}),
        httpx.Response(429, json={"retry_after": 1}),
        httpx.Response(400, json=load_capture("33-rest-error-400-command-outdated.json")),
        httpx.Response(503, text="unavailable"),
        httpx.ConnectError("refused"),
    ]
    for answer in answers:
        rest = client(Recorder(answer))
        with pytest.raises(MjapiError) as caught:
            await rest.post_interaction({"type": 2})
        assert_no_token(caught.value)
        assert TOKEN not in repr(rest)
    assert TOKEN not in caplog.text


# -- stale command version: refresh the index and retry once ----------------------------------


def index_with_version(version: str) -> dict[str, Any]:
    index: dict[str, Any] = load_capture("31-rest-application-command-index-2024-08.json")
    for command in index["application_commands"]:
        if command["name"] == "imagine":
            command["version"] = version
    return index


async def test_catalog_refreshes_a_stale_version_and_retries_once(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    stale = load_capture("33-rest-error-400-command-outdated.json")
    recorder = Recorder(
        httpx.Response(200, json=index_with_version("1")),
        httpx.Response(400, json=stale),
        httpx.Response(200, json=index_with_version("2")),
        httpx.Response(204),
    )
    rest = client(recorder)
    sent: list[str] = []

    async def send(command: CommandRef) -> str:
        sent.append(command.version)
        await rest.post_interaction({"version": command.version})
        return command.version

    result = await CommandCatalog().invoke(rest, "77", None, "imagine", send)

    assert result == "2"
    assert sent == ["1", "2"]
    assert [r.url.path for r in recorder.requests] == [
        "/api/v9/channels/77/application-command-index",
        "/api/v9/interactions",
        "/api/v9/channels/77/application-command-index",
        "/api/v9/interactions",
    ]


async def test_catalog_gives_up_after_one_retry(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    stale = load_capture("33-rest-error-400-command-outdated.json")
    recorder = Recorder(
        httpx.Response(200, json=index_with_version("1")),
        httpx.Response(400, json=stale),
        httpx.Response(200, json=index_with_version("1")),
        httpx.Response(400, json=stale),
    )
    rest = client(recorder)

    async def send(command: CommandRef) -> None:
        await rest.post_interaction({"version": command.version})

    with pytest.raises(InvalidFormBody):
        await CommandCatalog().invoke(rest, "77", None, "imagine", send)
    assert len(recorder.requests) == 4


async def test_catalog_caches_the_index_per_channel(
    client: Callable[[Recorder], DiscordRest],
) -> None:
    index = load_capture("30-rest-application-command-index-guild-2024-05.json")
    recorder = Recorder(httpx.Response(200, json=index))
    catalog = CommandCatalog()
    rest = client(recorder)

    first = await catalog.lookup(rest, "77", "662267976984297473", "imagine")
    second = await catalog.lookup(rest, "77", "662267976984297473", "imagine")

    assert (
        first
        == second
        == CommandRef(
            id="938956540159881230",
            version="1237876415471554623",
            application_id="936929561302675456",
            name="imagine",
        )
    )
    assert len(recorder.requests) == 1


def test_capture_32_search_response_has_the_same_shape() -> None:
    search = load_capture("32-rest-application-commands-search-imagine-2023-09.json")
    found = find_command(search, "imagine")
    assert (found.id, found.version) == ("938956540159881230", "1118961510123847772")


# -- the /imagine body (reference §1.4, capture 36) -------------------------------------------

IMAGINE = CommandRef(
    id="938956540159881230",
    version="1237876415471554623",
    application_id="936929561302675456",
    name="imagine",
)


def test_imagine_payload_in_a_dm_has_no_guild_id() -> None:
    payload = imagine_payload(
        IMAGINE,
        channel_id="1069126859100524575",
        guild_id=None,
        session_id="7687ebdc6846e1f686f02b14c4f150d1",
        nonce="1083811737217531904",
        prompt="one more",
    )
    captured = load_capture("36-req-interaction-type2-imagine-payload-json.json")

    assert "guild_id" not in payload
    assert payload["type"] == captured["type"] == 2
    assert payload["application_id"] == captured["application_id"]
    assert payload["data"]["options"] == captured["data"]["options"]
    assert payload == {
        "type": 2,
        "application_id": "936929561302675456",
        "channel_id": "1069126859100524575",
        "session_id": "7687ebdc6846e1f686f02b14c4f150d1",
        "nonce": "1083811737217531904",
        "data": {
            "version": "1237876415471554623",
            "id": "938956540159881230",
            "name": "imagine",
            "type": 1,
            "options": [{"type": 3, "name": "prompt", "value": "one more"}],
            "attachments": [],
        },
    }


def test_imagine_payload_in_a_guild_names_it() -> None:
    payload = imagine_payload(
        IMAGINE, channel_id="1", guild_id="2", session_id="s", nonce="3", prompt="cat"
    )
    assert payload["guild_id"] == "2"


def test_an_index_without_imagine_is_a_transport_error() -> None:
    with pytest.raises(CommandNotFound):
        find_command({"application_commands": [{"name": "info", "id": "1"}]}, "imagine")


def test_nonces_are_increasing_snowflakes_of_the_clock_time() -> None:
    factory = SnowflakeFactory()
    now = datetime(2023, 3, 10, 16, 29, 14, 383000, tzinfo=UTC)

    first, second, third = (factory.make(now) for _ in range(3))

    assert int(first) < int(second) < int(third)
    assert snowflake_time_ms(first) == int(now.timestamp() * 1000)
    # Capture 01: the nonce a real client made 2.5 s before this time has the same magnitude.
    assert len(first) == len("1083788665919897600")
    assert int(factory.make(datetime(2020, 1, 1, tzinfo=UTC))) > int(third)  # clock went back
