"""Discord REST rate limits: pure bookkeeping, and the limiter against a fake Discord.

The fake Discord (an httpx.MockTransport handler) keeps Discord's per-route windows on a fake
clock that only moves when the limiter sleeps, announces them in ``X-RateLimit-*`` headers and
counts every request that arrives before the moment it announced: none may.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from mjapi.errors import DiscordHTTPError, RateLimited, TransportError
from mjapi.transports.discord.ratelimit import (
    DEFAULT_RETRY_AFTER,
    BucketState,
    RateLimiter,
    RateLimiterPool,
    RateLimits,
    Refusal,
    RetryRules,
    read_headers,
    read_refusal,
    route_key,
)
from mjapi.transports.discord.rest import DiscordRest

TOKEN = "MTA4MzgxMTczNzIxNzUzMTkwNA.GxYz12.abcdefghijklmnopqrstuvwxyz0123456789"
BASE = "https://discord.test"


class FakeTime:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other requests run, as a real sleep would


class FakeDiscord:
    """Per-path windows of ``limit`` requests per ``window`` seconds, plus scripted answers."""

    def __init__(self, time: FakeTime, *, limit: int = 50, window: float = 10.0) -> None:
        self.time = time
        self.limit = limit
        self.window = window
        #: answers given before any window logic, in order (429s among them are enforced)
        self.script: list[httpx.Response | Exception] = []
        self.requests: list[tuple[float, str]] = []
        self.bodies: list[bytes] = []
        self.early = 0
        self._windows: dict[str, tuple[float, int]] = {}
        self._not_before: dict[str, float] = {}
        self._global_not_before = -math.inf

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self._answer(request)
        # The answer travels back while other requests may already be on their way.
        await asyncio.sleep(0)
        return answer

    def _answer(self, request: httpx.Request) -> httpx.Response:
        now, path = self.time.now, request.url.path
        self.requests.append((now, f"{request.method} {path}"))
        self.bodies.append(request.content)
        wait = max(self._global_not_before, self._not_before.get(path, -math.inf)) - now
        if wait > 1e-9:
            self.early += 1
            return httpx.Response(429, json={"retry_after": wait, "global": False})
        if self.script:
            return self._scripted(path, self.script.pop(0))
        return self._windowed(path, now)

    def _scripted(self, path: str, answer: httpx.Response | Exception) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        if answer.status_code == 429:
            refusal = read_refusal(answer.headers, answer.json())
            until = self.time.now + refusal.retry_after
            if refusal.is_global:
                self._global_not_before = until
            else:
                self._not_before[path] = until
        return answer

    def _windowed(self, path: str, now: float) -> httpx.Response:
        end, count = self._windows.get(path, (-math.inf, 0))
        if now >= end:
            end, count = now + self.window, 0
        count += 1
        self._windows[path] = (end, count)
        if count == self.limit:
            self._not_before[path] = end
        headers = {
            "X-RateLimit-Bucket": hashlib.sha256(path.encode()).hexdigest()[:16],
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - count),
            "X-RateLimit-Reset-After": f"{end - now:.3f}",
        }
        return httpx.Response(200, json={"id": "1"}, headers=headers)


def too_many(
    retry_after: float | None, *, is_global: bool = False, headers: dict[str, str] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"message": "You are being rate limited.", "global": is_global}
    if retry_after is not None:
        body["retry_after"] = retry_after
    return httpx.Response(429, json=body, headers=headers)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def rest_for(time: FakeTime) -> AsyncIterator[Callable[..., DiscordRest]]:
    clients: list[httpx.AsyncClient] = []

    def make(discord: FakeDiscord, rules: RetryRules | None = None) -> DiscordRest:
        http = httpx.AsyncClient(transport=httpx.MockTransport(discord))
        clients.append(http)
        limiter = RateLimiter(clock=time.clock, sleep=time.sleep, rng=random.Random(5), rules=rules)
        return DiscordRest(http, BASE, TOKEN, limiter=limiter)

    yield make
    for http in clients:
        await http.aclose()


# -- route keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("post", "/interactions", "POST /interactions"),
        ("GET", "/channels/123/messages", "GET /channels/123/messages"),
        ("GET", "/guilds/9/application-command-index", "GET /guilds/9/application-command-index"),
        (
            "PUT",
            "/channels/1/messages/22/reactions/%E2%9C%89%EF%B8%8F/%40me",
            "PUT /channels/1/messages/{id}/reactions/{emoji}/%40me",
        ),
        ("GET", "/users/@me/channels", "GET /users/@me/channels"),
        ("GET", "/channels/5/messages?limit=50", "GET /channels/5/messages"),
    ],
)
def test_route_keys_keep_major_parameters_only(method: str, path: str, key: str) -> None:
    assert route_key(method, path) == key


def test_two_messages_of_one_channel_share_a_route_two_channels_do_not() -> None:
    first = route_key("PUT", "/channels/1/messages/10/reactions/x/%40me")
    assert first == route_key("PUT", "/channels/1/messages/11/reactions/y/%40me")
    assert first != route_key("PUT", "/channels/2/messages/10/reactions/x/%40me")


# -- reading answers --------------------------------------------------------------------------


def test_headers_are_read_and_bad_values_ignored() -> None:
    state = read_headers(
        httpx.Headers(
            {
                "X-RateLimit-Bucket": "abc",
                "X-RateLimit-Remaining": "4",
                "X-RateLimit-Reset-After": "1.25",
            }
        )
    )
    assert state == BucketState("abc", 4, 1.25)
    assert read_headers(httpx.Headers({"X-RateLimit-Remaining": "lots"})) == BucketState(
        None, None, None
    )


def test_refusal_prefers_the_body_then_the_header_then_a_default() -> None:
    assert read_refusal(httpx.Headers({"Retry-After": "3"}), {"retry_after": 2.06}) == Refusal(
        2.06, False
    )
    assert read_refusal(httpx.Headers({"Retry-After": "3"}), {}) == Refusal(3.0, False)
    assert read_refusal(httpx.Headers(), {"retry_after": "nan"}) == Refusal(
        DEFAULT_RETRY_AFTER, False
    )


def test_global_comes_from_the_body_or_the_header() -> None:
    assert read_refusal(httpx.Headers(), {"retry_after": 1, "global": True}).is_global
    assert read_refusal(httpx.Headers({"X-RateLimit-Global": "true"}), {"retry_after": 1}).is_global


# -- pure bookkeeping -------------------------------------------------------------------------


def test_a_used_up_bucket_holds_every_route_in_it_until_reset() -> None:
    now = [0.0]
    limits = RateLimits(lambda: now[0])
    limits.learn("GET /a", BucketState("shared", 1, 5.0))
    limits.learn("GET /b", BucketState("shared", 0, 5.0))

    assert limits.wait_before("GET /a") == 5.0  # /b's answer said the shared bucket is empty
    assert limits.wait_before("GET /c") == 0.0
    now[0] = 5.0
    assert limits.wait_before("GET /a") == 0.0


def test_sending_uses_up_the_remaining_requests() -> None:
    now = [0.0]
    limits = RateLimits(lambda: now[0])
    limits.learn("POST /interactions", BucketState("b", 1, 2.0))

    limits.sent("POST /interactions")

    assert limits.wait_before("POST /interactions") == 2.0
    now[0] = 2.0
    limits.sent("POST /interactions")  # the window refilled: the count is unknown again
    assert limits.wait_before("POST /interactions") == 0.0


def test_a_429_before_the_bucket_is_known_blocks_its_route() -> None:
    limits = RateLimits(lambda: 0.0)
    limits.refused("GET /a", Refusal(3.0, is_global=False))
    assert limits.wait_before("GET /a") == 3.0
    # The bucket id learned afterwards keeps the block.
    limits.learn("GET /a", BucketState("bucket-a", None, None))
    assert limits.wait_before("GET /a") == 3.0
    assert limits.wait_before("GET /b") == 0.0


def test_a_global_429_holds_every_route() -> None:
    limits = RateLimits(lambda: 0.0)
    limits.refused("GET /a", Refusal(4.0, is_global=True))
    assert limits.wait_before("GET /a") == limits.wait_before("POST /b") == 4.0


# -- the limiter against the fake Discord -----------------------------------------------------


async def test_a_used_up_bucket_is_waited_for_never_hit(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time, limit=2, window=10.0)
    rest = rest_for(discord)

    for _ in range(5):
        await rest.channel_messages("77")

    assert discord.early == 0
    assert [round(at - 1000.0, 3) for at, _ in discord.requests] == [0, 0, 10, 10, 20]
    assert time.sleeps == pytest.approx([10.0, 10.0])


async def test_concurrent_requests_on_one_route_never_come_early(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time, limit=2, window=5.0)
    rest = rest_for(discord)

    await asyncio.gather(*(rest.post_interaction({"n": n}) for n in range(7)))

    assert discord.early == 0
    assert len(discord.requests) == 7
    assert time.sleeps == [5.0, 5.0, 5.0]  # 2 + 2 + 2 + 1


async def test_a_used_up_bucket_does_not_hold_other_channels(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time, limit=1, window=30.0)
    rest = rest_for(discord)

    await rest.channel_messages("1")
    await rest.channel_messages("2")  # another major parameter: another bucket

    assert time.sleeps == []
    assert discord.early == 0


async def test_a_429_is_waited_out_then_retried(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [too_many(1.5)]
    rest = rest_for(discord)

    await rest.post_interaction({"type": 2})

    assert discord.early == 0
    assert [round(at - 1000.0, 3) for at, _ in discord.requests] == [0, 1.5]


async def test_a_global_429_holds_every_route_of_the_token(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [too_many(3.0, is_global=True)]
    rest = rest_for(discord, RetryRules(rate_limit_retries=0))

    with pytest.raises(RateLimited):
        await rest.post_interaction({"type": 2})
    await rest.me()  # another route: it must wait for the global block too

    assert discord.early == 0
    assert discord.requests[-1] == (1003.0, "GET /api/v9/users/@me")


async def test_a_global_429_in_transit_holds_requests_of_other_routes(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    # Only one request of the token is on the wire at a time: the other route's request must
    # not leave while the answer announcing the global limit is still on its way.
    discord = FakeDiscord(time)
    discord.script = [too_many(1.0, is_global=True)]
    rest = rest_for(discord)

    await asyncio.gather(rest.post_interaction({"type": 2}), rest.me())

    assert discord.early == 0
    assert sorted(at for at, _ in discord.requests) == [1000.0, 1001.0, 1001.0]


async def test_the_global_flag_may_come_as_a_header(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [too_many(2.0, headers={"X-RateLimit-Global": "true"})]
    rest = rest_for(discord, RetryRules(rate_limit_retries=0))

    with pytest.raises(RateLimited):
        await rest.me()
    await rest.channel_messages("5")

    assert time.sleeps == [2.0]
    assert discord.early == 0


async def test_a_route_429_holds_only_its_route(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [too_many(4.0)]
    rest = rest_for(discord, RetryRules(rate_limit_retries=0))

    with pytest.raises(RateLimited) as caught:
        await rest.post_interaction({"type": 2})
    await rest.me()
    assert time.sleeps == []  # /users/@me went at once
    await rest.post_interaction({"type": 2})  # the refused route waits for its moment

    assert caught.value.retry_after == 4.0
    assert time.sleeps == [4.0]
    assert discord.early == 0


async def test_gives_up_after_three_retries(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [too_many(1.0) for _ in range(10)]
    rest = rest_for(discord)

    with pytest.raises(RateLimited) as caught:
        await rest.post_interaction({"type": 2})

    assert len(discord.requests) == 4
    assert caught.value.retry_after == 1.0
    assert discord.early == 0
    assert TOKEN not in str(caught.value)


async def test_gives_up_at_once_when_the_wait_exceeds_the_budget(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [too_many(12.0), too_many(25.0)]
    rest = rest_for(discord)

    with pytest.raises(RateLimited) as caught:
        await rest.post_interaction({"type": 2})

    # 12 s were waited; 12 + 25 would pass the 30 s budget.
    assert len(discord.requests) == 2
    assert time.sleeps == [12.0]
    assert caught.value.retry_after == 25.0


async def test_a_long_bucket_reset_is_refused_without_sending(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time, limit=1, window=120.0)
    rest = rest_for(discord)
    await rest.channel_messages("1")

    with pytest.raises(RateLimited) as caught:
        await rest.channel_messages("1")

    assert len(discord.requests) == 1
    assert caught.value.retry_after == pytest.approx(120.0)
    assert time.sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_with_backoff(
    rest_for: Callable[..., DiscordRest], time: FakeTime, status: int
) -> None:
    discord = FakeDiscord(time)
    discord.script = [httpx.Response(status, text="oops"), httpx.Response(status, text="oops")]
    rest = rest_for(discord)

    assert (await rest.me())["id"] == "1"

    assert len(discord.requests) == 3
    first, second = time.sleeps
    assert 0 <= first <= 0.5 and 0 <= second <= 1.0  # full jitter under 0.5 * 2**n


async def test_server_errors_give_up_after_three_attempts(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [httpx.Response(502, text="bad gateway") for _ in range(5)]
    rest = rest_for(discord)

    with pytest.raises(DiscordHTTPError) as caught:
        await rest.post_interaction({"type": 2})

    assert caught.value.http_status == 502
    assert len(discord.requests) == 3
    assert len(time.sleeps) == 2


async def test_backoff_is_capped(rest_for: Callable[..., DiscordRest], time: FakeTime) -> None:
    discord = FakeDiscord(time)
    discord.script = [httpx.Response(503) for _ in range(9)]
    rules = RetryRules(attempts=8, backoff_base=0.5, backoff_cap=8.0)
    rest = rest_for(discord, rules)

    with pytest.raises(DiscordHTTPError):
        await rest.me()

    assert len(time.sleeps) == 7
    assert all(0 <= s <= 8.0 for s in time.sleeps)


async def test_a_connect_error_is_retried_then_succeeds(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [httpx.ConnectError("refused")]
    rest = rest_for(discord)

    await rest.post_interaction({"type": 2})

    assert len(discord.requests) == 2


async def test_connect_errors_give_up_as_a_transport_error(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [httpx.ConnectError("refused") for _ in range(5)]
    rest = rest_for(discord)

    with pytest.raises(TransportError) as caught:
        await rest.me()

    assert not isinstance(caught.value, DiscordHTTPError)
    assert len(discord.requests) == 3


async def test_a_read_timeout_is_retried_only_for_idempotent_requests(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    discord = FakeDiscord(time)
    discord.script = [httpx.ReadTimeout("slow")]
    rest = rest_for(discord)
    assert (await rest.me())["id"] == "1"  # a GET: repeated

    discord.script = [httpx.ReadTimeout("slow")]
    with pytest.raises(TransportError):
        await rest.post_interaction({"type": 2})  # may have started a job: not repeated
    assert len(discord.requests) == 3


async def test_every_attempt_of_an_interaction_names_the_session_of_its_moment(
    rest_for: Callable[..., DiscordRest], time: FakeTime
) -> None:
    # The gateway may lose its session while a 429 is waited out: the retry must name the
    # session Midjourney will answer, and the gate runs before the limits are checked.
    discord = FakeDiscord(time)
    discord.script = [too_many(1.0)]
    sessions = iter(["session-1", "session-2"])
    gate_times: list[float] = []

    async def session() -> str:
        gate_times.append(time.now)
        return next(sessions)

    await rest_for(discord).post_interaction({"type": 2, "session_id": "old"}, session=session)

    assert [json.loads(b)["session_id"] for b in discord.bodies] == ["session-1", "session-2"]
    assert gate_times == [1000.0, 1000.0]  # before the wait for the refused bucket
    assert discord.early == 0


# -- one limiter per token --------------------------------------------------------------------


def test_the_pool_shares_a_limiter_per_token_and_forgets_the_oldest() -> None:
    pool = RateLimiterPool(size=2)
    first = pool.for_token("token-a")
    second = pool.for_token("token-b")

    assert pool.for_token("token-a") is first  # used again: now the newest
    assert second is not first
    pool.for_token("token-c")  # evicts token-b, the least recently used
    assert pool.for_token("token-a") is first
    assert pool.for_token("token-b") is not second
    assert "token-a" not in repr(vars(pool))  # kept by digest
