"""The simulator's fault-injection parts, pure: rule matching, rate-limit bookkeeping, the replay
buffer, the session hub, the fault messages. Time is a FakeClock; no sockets, no sleeps.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from mjapi.clock import FakeClock
from mjapi.simulator import SimulatorConfig, custom_ids
from mjapi.simulator.control import check_close_code
from mjapi.simulator.custom_ids import Kind
from mjapi.simulator.fault_replies import captcha_picture, refusal_message, unrecognized_message
from mjapi.simulator.faults import JOB_FAULTS, FaultControl, FaultError
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.gateway_session import GatewaySession
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.ratelimits import (
    TOLERANCE,
    Allowed,
    RateLimiter,
    Refused,
    bucket_id,
    check_limits,
    headers,
    refusal_body,
)
from mjapi.simulator.replay import ReplayBuffer
from mjapi.simulator.scheduler import Admission, JobQueue
from mjapi.simulator.state import SimChannel
from mjapi.simulator.stats import GatewayStats, SimStats
from mjapi.simulator.users import derive_user, user_id_of

TOKEN = "sim-test-token-alpha-0123456789"
OTHER = "sim-test-token-bravo-0123456789"

# -- fault rules ------------------------------------------------------------------------------


def test_a_rule_is_stored_with_its_defaults() -> None:
    faults = FaultControl()
    rule = faults.add_json({"fault": "banned_prompt", "token": TOKEN})
    assert rule.to_json() == {
        "id": rule.id,
        "fault": "banned_prompt",
        "token": TOKEN,
        "prompt_contains": None,
        "times": 1,
        "remaining": 1,
    }
    limited = faults.add("rate_limit", route="interactions", retry_after=0.25, is_global=True)
    assert limited.to_json() == {
        "id": limited.id,
        "fault": "rate_limit",
        "token": None,
        "route": "interactions",
        "retry_after": 0.25,
        "global": True,
        "times": 1,
        "remaining": 1,
    }
    assert faults.add("server_error").to_json()["status"] == 502
    assert faults.add("job_queued", delay=0.5).to_json()["delay"] == 0.5
    assert len({r.id for r in faults.rules()}) == 4


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"fault": "nope"}, "unknown fault"),
        ({}, "unknown fault"),
        ([], "JSON object"),
        ({"fault": "banned_prompt", "route": "messages"}, "do not apply"),
        ({"fault": "rate_limit", "prompt_contains": "x"}, "do not apply"),
        ({"fault": "server_error", "retry_after": 1}, "do not apply"),
        ({"fault": "stall", "delay": 1}, "do not apply"),
        ({"fault": "stall", "colour": "red"}, "do not apply"),
        ({"fault": "stall", "times": 0}, "times"),
        ({"fault": "stall", "times": 1.5}, "times"),
        ({"fault": "stall", "times": True}, "times"),
        ({"fault": "stall", "token": 12}, "token"),
        ({"fault": "stall", "token": ""}, "token"),
        ({"fault": "rate_limit", "route": "somewhere"}, "unknown route"),
        ({"fault": "rate_limit", "retry_after": -1}, "retry_after"),
        ({"fault": "rate_limit", "retry_after": "1"}, "retry_after"),
        ({"fault": "rate_limit", "global": "yes"}, "global"),
        ({"fault": "server_error", "status": 404}, "status"),
        ({"fault": "job_queued", "delay": -0.1}, "delay"),
    ],
)
def test_invalid_rules_are_refused(body: Any, complaint: str) -> None:
    with pytest.raises(FaultError, match=complaint):
        FaultControl().add_json(body)


def test_every_job_fault_is_accepted() -> None:
    faults = FaultControl()
    for name in sorted(JOB_FAULTS):
        assert faults.add_json({"fault": name, "prompt_contains": "x"}).fault == name


def test_job_rules_match_account_and_prompt() -> None:
    faults = FaultControl()
    mine = faults.add("silent", token=TOKEN, prompt_contains="castle")
    me, other = user_id_of(TOKEN), user_id_of(OTHER)
    assert faults.take_job(other, "a castle") is None  # another account
    assert faults.take_job(me, "a tower") is None  # another prompt
    assert faults.take_request(TOKEN, "interactions") is None  # not a REST fault
    assert faults.take_job(me, "a castle at dusk") is mine
    assert faults.take_job(me, "a castle at dusk") is None  # used up and forgotten
    assert faults.rules() == []


def test_user_id_of_agrees_with_derive_user() -> None:
    assert user_id_of(TOKEN) == derive_user(TOKEN, "Standard").id


def test_rules_apply_in_order_and_count_down() -> None:
    faults = FaultControl()
    first = faults.add("banned_prompt", times=2)
    second = faults.add("blocked", times=None)
    user = user_id_of(TOKEN)
    assert [faults.take_job(user, "p") for _ in range(2)] == [first, first]
    assert [faults.take_job(user, "p") for _ in range(3)] == [second, second, second]
    assert second.to_json()["remaining"] is None
    assert faults.rules() == [second]


def test_rest_rules_match_token_and_route() -> None:
    faults = FaultControl()
    rule = faults.add("server_error", token=TOKEN, route="messages", status=503, times=None)
    assert faults.take_request(OTHER, "messages") is None
    assert faults.take_request(None, "messages") is None
    assert faults.take_request(TOKEN, "interactions") is None
    assert faults.take_request(TOKEN, "messages") is rule
    anywhere = FaultControl()
    any_rule = anywhere.add("rate_limit")
    assert anywhere.take_request(None, "users_me") is any_rule


def test_rules_can_be_deleted() -> None:
    faults = FaultControl()
    one, two = faults.add("stall"), faults.add("silent")
    assert faults.remove(one.id) and not faults.remove(one.id)
    assert faults.rules() == [two]
    faults.clear()
    assert faults.rules() == []


# -- rate limits ------------------------------------------------------------------------------


def limiter(limits: dict[str, tuple[int, float]]) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(limits, clock), clock


def test_a_window_counts_down_then_the_next_request_is_early() -> None:
    rates, clock = limiter({"interactions": (2, 1.0)})
    first = rates.admit(TOKEN, "interactions")
    assert first == Allowed(bucket_id("interactions"), 2, 1, 1.0)
    clock.advance(0.25)
    second = rates.admit(TOKEN, "interactions")
    assert isinstance(second, Allowed) and (second.remaining, second.reset_after) == (0, 0.75)
    clock.advance(0.5)
    early = rates.early(TOKEN, "interactions")
    assert early == Refused(bucket_id("interactions"), 2, 0.25, is_global=False, early=True)
    clock.advance(0.25 - TOLERANCE / 2)  # inside the tolerance: on time
    assert rates.early(TOKEN, "interactions") is None
    again = rates.admit(TOKEN, "interactions")
    assert isinstance(again, Allowed) and again.remaining == 1


def test_buckets_are_per_token_route_and_major_parameter() -> None:
    rates, _ = limiter({"interactions": (1, 1.0), "messages": (1, 1.0)})
    assert isinstance(rates.admit(TOKEN, "interactions"), Allowed)
    assert rates.early(TOKEN, "interactions") is not None
    assert rates.early(OTHER, "interactions") is None
    assert rates.early(TOKEN, "messages") is None
    assert isinstance(rates.admit(TOKEN, "messages", "channel-a"), Allowed)
    assert rates.early(TOKEN, "messages", "channel-a") is not None
    assert rates.early(TOKEN, "messages", "channel-b") is None
    other_route = rates.admit(TOKEN, "users_me")
    assert isinstance(other_route, Allowed) and other_route.limit == 50  # the default


def test_an_over_full_window_refuses_when_early_was_not_asked() -> None:
    rates, _ = limiter({"default": (1, 2.0)})
    rates.admit(TOKEN, "users_me")
    refused = rates.admit(TOKEN, "users_me")
    assert isinstance(refused, Refused) and not refused.early and refused.retry_after == 2.0


def test_an_injected_429_sets_the_moment_to_wait_for() -> None:
    rates, clock = limiter({})
    refused = rates.penalize(TOKEN, "interactions", 0.5, is_global=False)
    assert (refused.retry_after, refused.is_global, refused.early) == (0.5, False, False)
    clock.advance(0.2)
    early = rates.early(TOKEN, "interactions")
    assert early is not None and early.early and early.retry_after == 0.3
    assert rates.early(TOKEN, "messages") is None  # only that bucket
    clock.advance(0.3)
    assert rates.early(TOKEN, "interactions") is None


def test_a_global_429_holds_every_route_of_the_token() -> None:
    rates, clock = limiter({})
    rates.penalize(TOKEN, "messages", 1.0, is_global=True)
    clock.advance(0.5)
    early = rates.early(TOKEN, "interactions")
    assert early is not None and early.is_global and early.retry_after == 0.5
    assert rates.early(OTHER, "interactions") is None
    clock.advance(0.5)
    assert rates.early(TOKEN, "interactions") is None


def test_rate_limit_headers() -> None:
    allowed = Allowed("b1", 5, 4, 0.75)
    assert headers(allowed, 1000.0) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": "1000.750",
        "X-RateLimit-Reset-After": "0.750",
        "X-RateLimit-Bucket": "b1",
    }
    refused = Refused("b1", 5, 1.2, is_global=True, early=False)
    limited = headers(refused, 1000.0)
    assert limited["Retry-After"] == "2" and limited["X-RateLimit-Remaining"] == "0"
    assert (limited["X-RateLimit-Global"], limited["X-RateLimit-Scope"]) == ("true", "user")
    assert "X-RateLimit-Global" not in headers(Refused("b1", 5, 1, False, False), 0.0)
    assert refusal_body(refused) == {
        "message": "You are being rate limited.",
        "retry_after": 1.2,
        "global": True,
    }


def test_bucket_ids_are_stable_opaque_and_distinct() -> None:
    assert bucket_id("messages") == bucket_id("messages") != bucket_id("interactions")
    assert len(bucket_id("messages")) == 32 and "messages" not in bucket_id("messages")


@pytest.mark.parametrize(
    "limits",
    [{"nowhere": (1, 1.0)}, {"messages": (0, 1.0)}, {"messages": (1, 0.0)}],
)
def test_bad_rate_limits_are_refused(limits: dict[str, tuple[int, float]]) -> None:
    with pytest.raises(ValueError):
        check_limits(limits)
    with pytest.raises(ValueError):
        SimulatorConfig(rate_limits=limits)


def test_config_checks_resume_settings() -> None:
    with pytest.raises(ValueError):
        SimulatorConfig(resume_window=-1)
    with pytest.raises(ValueError):
        SimulatorConfig(replay_limit=0)


# -- replay buffer ----------------------------------------------------------------------------


def test_replay_buffer_gives_what_came_after_a_seq() -> None:
    buffer = ReplayBuffer(3)
    assert buffer.after(0) == []
    for seq in range(1, 6):
        buffer.append(seq, f"frame {seq}")
    assert buffer.last_seq == 5
    assert buffer.after(2) == ["frame 3", "frame 4", "frame 5"]
    assert buffer.after(4) == ["frame 5"]
    assert buffer.after(5) == []
    assert buffer.after(1) is None  # frame 2 was forgotten
    assert buffer.after(6) is None  # the session never got there
    assert buffer.after(-1) is None


def test_replay_buffer_insists_on_consecutive_numbers() -> None:
    buffer = ReplayBuffer(2)
    with pytest.raises(ValueError):
        buffer.append(2, "skipped one")
    with pytest.raises(ValueError):
        ReplayBuffer(0)


# -- the session hub --------------------------------------------------------------------------


class FakeLink:
    """A gateway connection that records what it was asked to do."""

    def __init__(self) -> None:
        self.session: GatewaySession | None = None
        self.zombie = False
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> bool:
        return True

    def events(self) -> list[tuple[int | None, str | None]]:
        return [(f["s"], f["t"]) for f in self.sent]


def hub(window: float = 60.0, limit: int = 100) -> tuple[GatewayHub, FakeClock, GatewayStats]:
    clock, stats = FakeClock(), GatewayStats()
    return GatewayHub(clock, stats, resume_window=window, replay_limit=limit), clock, stats


def test_a_detached_session_keeps_numbering_and_a_resume_replays() -> None:
    gateway, clock, stats = hub()
    user = derive_user(TOKEN, "Standard")
    first = FakeLink()
    session = gateway.identify(user, TOKEN, first)
    gateway.deliver(session, "READY", {})
    gateway.dispatch(user.id, "MESSAGE_CREATE", {"n": 1})
    gateway.disconnected(first)
    assert gateway.sessions(user.id) == []
    gateway.dispatch(user.id, "MESSAGE_CREATE", {"n": 2})
    gateway.dispatch(user.id, "MESSAGE_UPDATE", {"n": 3})
    clock.advance(59)

    second = FakeLink()
    assert gateway.resume(session.session_id, TOKEN, 2, second)
    assert second.events() == [(3, "MESSAGE_CREATE"), (4, "MESSAGE_UPDATE"), (5, "RESUMED")]
    assert [f["d"].get("n") for f in second.sent[:2]] == [2, 3]
    assert second.session is session and gateway.sessions(user.id) == [session]
    assert (stats.resumed, stats.replayed_events) == (1, 2)


def test_a_session_expires_after_the_resume_window() -> None:
    gateway, clock, _ = hub(window=10)
    link = FakeLink()
    session = gateway.identify(derive_user(TOKEN, "Standard"), TOKEN, link)
    gateway.disconnected(link)
    clock.advance(10)
    assert gateway.session(session.session_id) is None
    assert not gateway.resume(session.session_id, TOKEN, 0, FakeLink())


def test_a_resume_with_a_forgotten_seq_or_another_token_fails() -> None:
    gateway, _, _ = hub(limit=2)
    user = derive_user(TOKEN, "Standard")
    link = FakeLink()
    session = gateway.identify(user, TOKEN, link)
    for n in range(4):
        gateway.dispatch(user.id, "MESSAGE_CREATE", {"n": n})
    gateway.disconnected(link)
    assert not gateway.resume(session.session_id, OTHER, 3, FakeLink())
    assert gateway.session(session.session_id) is session  # a stranger cannot end it
    assert not gateway.resume(session.session_id, TOKEN, 1, FakeLink())
    assert gateway.session(session.session_id) is None  # op 9 false: it is gone


def test_a_resume_takes_the_session_from_a_connection_still_open() -> None:
    gateway, _, _ = hub()
    old, new = FakeLink(), FakeLink()
    session = gateway.identify(derive_user(TOKEN, "Standard"), TOKEN, old)
    assert gateway.resume(session.session_id, TOKEN, 0, new)
    assert old.session is None and old.closed is not None and old.closed[0] == 4000
    gateway.disconnected(old)  # the old socket going away later does not detach it
    assert session.link is new


def test_invalidate_keeps_or_ends_the_session() -> None:
    gateway, _, stats = hub()
    user = derive_user(TOKEN, "Standard")
    keep, lose = FakeLink(), FakeLink()
    kept = gateway.identify(user, TOKEN, keep)
    lost = gateway.identify(user, TOKEN, lose)
    gateway.invalidate(keep, resumable=True)
    gateway.invalidate(lose, resumable=False)
    assert keep.sent[-1] == {"t": None, "s": None, "op": 9, "d": True}
    assert lose.sent[-1]["d"] is False and stats.invalid_sessions == 2
    assert keep.session is None and lose.session is None
    assert gateway.session(kept.session_id) is kept
    assert gateway.session(lost.session_id) is None


def test_links_by_token_and_revocation() -> None:
    gateway, _, stats = hub()
    mine, theirs, anonymous = FakeLink(), FakeLink(), FakeLink()
    for link in (mine, theirs, anonymous):
        gateway.connected(link)
    gateway.identify(derive_user(TOKEN, "Standard"), TOKEN, mine)
    gateway.identify(derive_user(OTHER, "Standard"), OTHER, theirs)
    assert gateway.links(TOKEN) == [mine]
    assert gateway.links() == [mine, theirs, anonymous]
    assert stats.connections == 3
    gateway.discard_token(TOKEN)
    assert mine.session is None and gateway.links(TOKEN) == []


# -- plans ------------------------------------------------------------------------------------


def test_a_bigger_plan_starts_waiting_jobs_and_a_smaller_one_holds_them() -> None:
    queue: JobQueue[str] = JobQueue(concurrency=1, wait_limit=5)
    assert [queue.admit(job) for job in "abc"] == [
        Admission.START,
        Admission.QUEUE,
        Admission.QUEUE,
    ]
    assert queue.resize(3) == ["b", "c"] and queue.running == 3
    assert queue.admit("d") is Admission.QUEUE
    queue.resize(1)
    # three run where one may: the first two to finish hand their slot on to nobody
    assert [queue.finish(), queue.finish(), queue.finish()] == [None, None, "d"]
    assert queue.running == 1


# -- fault messages ---------------------------------------------------------------------------


def context(nonce: str | None = "42") -> InteractionContext:
    user = derive_user(TOKEN, "Standard")
    channel = SimChannel(user.dm_channel_id, user.id, None)
    return InteractionContext(user, channel, "imagine", "111", nonce)


@pytest.mark.parametrize(
    ("fault", "title", "footer"),
    [
        ("banned_prompt", "Banned prompt detected", True),
        ("invalid_parameter", "Invalid parameter", True),
        ("invalid_link", "Invalid link", True),
        ("output_filter", "Request cancelled due to output filters", True),
        ("action_needed", "Action needed to continue", True),
        ("pending_mod_message", "Pending mod message", False),
        ("captcha", "Action required to continue", False),
        ("blocked", "Blocked", False),
        ("subscription_required", "Subscription required", False),
        ("credits_exhausted", "Credits exhausted", False),
        ("queue_full", "Queue full", True),
    ],
)
def test_refusals_are_ephemeral_red_embeds_with_the_nonce(
    fault: str, title: str, footer: bool
) -> None:
    message = refusal_message(context(), "222", fault, "a cat --foo", job_hash=HASH)
    assert (message["type"], message["flags"], message["nonce"]) == (20, 64, "42")
    assert message["interaction_metadata"]["id"] == "111"
    [embed] = message["embeds"]
    assert (embed["title"], embed["color"]) == (title, 16711680)
    assert ("footer" in embed) is footer
    if footer:
        assert embed["footer"]["text"] == "/imagine a cat --foo"


HASH = "a03e625f-383b-4592-8121-77f87ded20d4"


@pytest.mark.parametrize(
    ("fault", "label", "kind"),
    [
        ("action_needed", "Appeal", Kind.APPEAL),
        ("pending_mod_message", "Acknowledged", Kind.ACKNOWLEDGE),
        ("captcha", "A red circle", Kind.CAPTCHA),
    ],
)
def test_moderation_buttons_are_parseable(fault: str, label: str, kind: Kind) -> None:
    message = refusal_message(context(), "222", fault, "p", job_hash=HASH)
    buttons = [b for row in message["components"] for b in row["components"]]
    button = next(b for b in buttons if b["label"] == label)
    action = custom_ids.parse(button["custom_id"])
    assert action is not None and (action.kind, action.job_hash) == (kind, HASH)
    if fault == "action_needed":
        assert button["custom_id"] == f"MJ::Prompts::Appeal::{HASH}"
    if fault == "captcha":
        assert [b["custom_id"].split("::")[:2] for b in buttons] == [["MJ", "Captcha"]] * 4


def test_descriptions_name_the_offending_part() -> None:
    def description(fault: str, prompt: str, hint: str | None = None) -> str:
        embed = refusal_message(context(), "1", fault, prompt, hint=hint)["embeds"][0]
        return str(embed["description"])

    assert "`gore`" in description("banned_prompt", "some gore here", "gore")
    assert "`some`" in description("banned_prompt", "some gore here")
    assert "`--foo`" in description("invalid_parameter", "a cat --ar 1:1 --foo", "--foo")
    assert "`--ar`" in description("invalid_parameter", "a cat --ar 1:1")
    assert "`https://e.com/x.png`" in description("invalid_link", "<https://e.com/x.png> cat")
    assert "verify you're human" in description("captcha", "p")


def test_captcha_picture_is_a_png() -> None:
    image = Image.open(io.BytesIO(captcha_picture(HASH)))
    assert (image.format, image.size) == ("PNG", (256, 256))


def test_unrecognized_message_carries_nothing_to_classify() -> None:
    message = unrecognized_message(context(), "5")
    assert (message["type"], message["flags"]) == (0, 0)
    assert not {"nonce", "interaction", "interaction_metadata"} & set(message)
    assert message["content"] == "Something unexpected happened, please try again later."
    assert message["embeds"] == message["components"] == message["attachments"] == []


def test_refusal_without_nonce_has_none() -> None:
    assert "nonce" not in refusal_message(context(None), "1", "blocked", "p")


# -- the rest ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [999, 1005, 1006, 1015, 5000])
def test_unsendable_close_codes_are_refused(code: int) -> None:
    with pytest.raises(ValueError):
        check_close_code(code)


def test_stats_snapshot_shape() -> None:
    stats = SimStats()
    stats.gateway.resumes += 1
    stats.jobs.faulted += 2
    assert stats.snapshot() == {
        "rest_requests": 0,
        "rate_limited": 0,
        "early_requests": 0,
        "server_errors": 0,
        "gateway": {
            "connections": 0,
            "identifies": 0,
            "resumes": 1,
            "resumed": 0,
            "replayed_events": 0,
            "invalid_sessions": 0,
            "zombies": 0,
        },
        "jobs": {"started": 0, "completed": 0, "faulted": 2},
    }
