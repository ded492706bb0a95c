"""GatewaySession: frames and time in, actions out. No sockets, no sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from mjapi.transports.discord.gateway import (
    Dispatch,
    Fatal,
    GatewaySession,
    Reconnect,
    Send,
    SessionUser,
)
from mjapi.transports.discord.protocol import CAPABILITIES, RECONNECTABLE_CLOSE_CODES, Opcode

TOKEN = "MTA5.user-token.for-tests-only"
HELLO = {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}
ACK = {"op": 11, "d": None, "s": None, "t": None}
READY = {
    "op": 0,
    "s": 1,
    "t": "READY",
    "d": {
        "session_id": "7687ebdc6846e1f686f02b14c4f150d1",
        "resume_gateway_url": "wss://gateway-us-east1-b.discord.gg",
        "user": {"id": "439110225975443468", "username": "user"},
    },
}


def session(jitter: float = 0.5) -> GatewaySession:
    return GatewaySession(TOKEN, jitter=lambda: jitter)


def sent(actions: list[Any]) -> list[dict[str, Any]]:
    return [a.payload for a in actions if isinstance(a, Send)]


def dispatch(seq: int, name: str = "MESSAGE_CREATE", data: Any = None) -> dict[str, Any]:
    return {"op": 0, "s": seq, "t": name, "d": data if data is not None else {"id": str(seq)}}


def ready_session(now: float = 0.0) -> GatewaySession:
    gw = session()
    gw.on_frame(HELLO, now)
    gw.on_frame(READY, now)
    return gw


# -- HELLO and IDENTIFY -----------------------------------------------------------------------


def test_hello_answers_with_a_user_identify_without_intents() -> None:
    actions = session().on_frame(HELLO, now=100.0)

    [payload] = sent(actions)
    assert payload["op"] == Opcode.IDENTIFY
    data = payload["d"]
    assert data["token"] == TOKEN
    assert "intents" not in data and "shard" not in data
    assert data["capabilities"] == CAPABILITIES
    assert data["compress"] is False
    assert data["properties"]["browser"] == "Chrome"
    assert data["properties"]["os"] == "Mac OS X"
    assert data["properties"]["browser_user_agent"].startswith("Mozilla/5.0")


def test_hello_schedules_the_first_beat_after_interval_times_jitter() -> None:
    gw = session(jitter=0.25)
    gw.on_frame(HELLO, now=100.0)

    assert gw.heartbeat_interval == pytest.approx(41.25)
    assert gw.next_deadline() == pytest.approx(100.0 + 41.25 * 0.25)


def test_a_hello_without_an_interval_reconnects() -> None:
    assert session().on_frame({"op": 10, "d": {}}, 0.0) == [Reconnect(resume=False)]


def test_no_timer_before_hello() -> None:
    gw = session()
    assert gw.next_deadline() is None
    assert gw.on_tick(1e9) == []


# -- heartbeats -------------------------------------------------------------------------------


def test_tick_before_the_deadline_does_nothing() -> None:
    gw = session(jitter=0.5)
    gw.on_frame(HELLO, now=0.0)
    assert gw.on_tick(20.0) == []


def test_beat_when_due_then_every_interval() -> None:
    gw = session(jitter=0.5)
    gw.on_frame(HELLO, now=0.0)
    gw.on_frame(dispatch(5), now=1.0)

    first = gw.on_tick(20.625)
    assert sent(first) == [{"op": 1, "d": 5}]
    assert gw.next_deadline() == pytest.approx(20.625 + 41.25)

    gw.on_frame(ACK, now=20.7)
    assert gw.last_ack_at == 20.7
    assert gw.on_tick(61.0) == []
    assert sent(gw.on_tick(61.875)) == [{"op": 1, "d": 5}]


def test_first_beat_before_any_dispatch_carries_null() -> None:
    gw = session(jitter=0.0)
    gw.on_frame(HELLO, now=0.0)
    assert sent(gw.on_tick(0.0)) == [{"op": 1, "d": None}]


def test_a_beat_due_while_the_previous_one_is_unacknowledged_is_a_zombie() -> None:
    gw = session(jitter=0.0)
    gw.on_frame(HELLO, now=0.0)
    gw.on_frame(READY, now=0.1)
    gw.on_tick(0.0)  # beat 1, never acknowledged

    assert gw.on_tick(41.25) == [Reconnect(resume=True)]
    # The dead connection's timer is gone; the next HELLO starts a new one.
    assert gw.next_deadline() is None


def test_zombie_before_ready_cannot_resume() -> None:
    gw = session(jitter=0.0)
    gw.on_frame(HELLO, now=0.0)
    gw.on_tick(0.0)
    assert gw.on_tick(41.25) == [Reconnect(resume=False)]


def test_server_heartbeat_request_is_answered_at_once_without_moving_the_schedule() -> None:
    gw = ready_session(now=0.0)
    deadline = gw.next_deadline()

    actions = gw.on_frame({"op": 1, "d": None}, now=3.0)

    assert sent(actions) == [{"op": 1, "d": 1}]
    assert gw.next_deadline() == deadline


# -- READY, sequence, dispatches --------------------------------------------------------------


def test_ready_stores_session_resume_url_and_user_and_is_dispatched() -> None:
    gw = session()
    gw.on_frame(HELLO, 0.0)

    actions = gw.on_frame(READY, 1.0)

    assert actions == [Dispatch("READY", READY["d"])]
    assert gw.session_id == "7687ebdc6846e1f686f02b14c4f150d1"
    assert gw.resume_gateway_url == "wss://gateway-us-east1-b.discord.gg"
    assert gw.user == SessionUser(id="439110225975443468", username="user")
    assert gw.seq == 1
    assert gw.can_resume


def test_seq_follows_every_dispatch() -> None:
    gw = ready_session()
    for seq in (2, 3, 7):
        assert gw.on_frame(dispatch(seq), 1.0) == [Dispatch("MESSAGE_CREATE", {"id": str(seq)})]
        assert gw.seq == seq


def test_non_dispatch_frames_do_not_touch_seq_or_dispatch() -> None:
    gw = ready_session()
    assert gw.on_frame(ACK, 1.0) == []
    assert gw.on_frame({"op": 42, "d": None}, 1.0) == []
    assert gw.seq == 1


def test_resumed_is_passed_on() -> None:
    gw = ready_session()
    assert gw.on_frame(dispatch(9, "RESUMED", {}), 2.0) == [Dispatch("RESUMED", {})]


# -- reconnect requests -----------------------------------------------------------------------


def test_op7_reconnect_asks_for_a_resume() -> None:
    gw = ready_session()
    assert gw.on_frame({"op": 7, "d": None}, 1.0) == [Reconnect(resume=True)]
    assert gw.next_deadline() is None


def test_op9_resumable_keeps_the_session_and_resumes_at_once() -> None:
    gw = ready_session()
    assert gw.on_frame({"op": 9, "d": True}, 1.0) == [Reconnect(resume=True, delay=0.0)]
    assert gw.session_id is not None


def test_op9_not_resumable_forgets_the_session_and_identifies_next() -> None:
    gw = ready_session()  # jitter 0.5: halfway through the 0.2-1.0 s spread
    [action] = gw.on_frame({"op": 9, "d": False}, 1.0)
    assert isinstance(action, Reconnect) and not action.resume
    assert action.delay == pytest.approx(0.6)
    assert gw.session_id is None and gw.seq is None and gw.resume_gateway_url is None

    [payload] = sent(gw.on_frame(HELLO, 2.0))
    assert payload["op"] == Opcode.IDENTIFY


def test_op9_not_resumable_waits_a_short_random_while_before_identifying() -> None:
    for jitter, delay in ((0.0, 0.2), (1.0, 1.0)):
        gw = session(jitter)
        gw.on_frame(HELLO, 0.0)
        gw.on_frame(READY, 0.0)
        [action] = gw.on_frame({"op": 9, "d": False}, 1.0)
        assert action == Reconnect(resume=False, delay=delay)
        assert gw.next_deadline() is None  # no beats on the dead connection


def test_the_reidentify_wait_is_configurable() -> None:
    gw = GatewaySession(TOKEN, jitter=lambda: 0.5, reidentify_wait=(0.0, 0.2))
    gw.on_frame(HELLO, 0.0)
    assert gw.on_frame({"op": 9, "d": False}, 1.0) == [Reconnect(resume=False, delay=0.1)]


def test_after_a_zombie_the_next_hello_resumes() -> None:
    gw = session(jitter=0.0)
    gw.on_frame(HELLO, 0.0)
    gw.on_frame(READY, 0.1)
    gw.on_tick(0.0)
    assert gw.on_tick(41.25) == [Reconnect(resume=True)]

    [payload] = sent(gw.on_frame(HELLO, 50.0))

    assert payload["op"] == Opcode.RESUME
    assert payload["d"]["seq"] == 1


def test_hello_on_a_resumable_session_sends_resume() -> None:
    gw = ready_session()
    gw.on_frame(dispatch(42), 1.0)
    gw.on_closed(1006)

    [payload] = sent(gw.on_frame(HELLO, 5.0))

    assert payload == {
        "op": Opcode.RESUME,
        "d": {"token": TOKEN, "session_id": "7687ebdc6846e1f686f02b14c4f150d1", "seq": 42},
    }


# -- close codes ------------------------------------------------------------------------------


def test_close_4004_is_fatal() -> None:
    gw = ready_session()
    [action] = gw.on_closed(4004)
    assert isinstance(action, Fatal)
    assert action.code == 4004
    assert "token" in action.reason
    assert TOKEN not in action.reason


@pytest.mark.parametrize("code", [4010, 4011, 4012, 4013, 4014])
def test_other_non_reconnectable_4xxx_are_fatal(code: int) -> None:
    [action] = ready_session().on_closed(code)
    assert isinstance(action, Fatal) and action.code == code


@pytest.mark.parametrize("code", [1000, 1001, 1006, None, 4000, 4001, 4002, 4008])
def test_other_closes_reconnect_with_resume(code: int | None) -> None:
    gw = ready_session()
    assert gw.on_closed(code) == [Reconnect(resume=True)]
    assert gw.next_deadline() is None


def test_close_before_ready_reconnects_without_resume() -> None:
    gw = session()
    gw.on_frame(HELLO, 0.0)
    assert gw.on_closed(4000) == [Reconnect(resume=False)]


@pytest.mark.parametrize("code", [4007, 4009])
def test_invalid_seq_and_session_timeout_reconnect_with_a_new_session(code: int) -> None:
    gw = ready_session()
    assert gw.on_closed(code) == [Reconnect(resume=False)]
    assert gw.session_id is None
    assert code in RECONNECTABLE_CLOSE_CODES


def test_repr_hides_the_token() -> None:
    assert TOKEN not in repr(ready_session())
