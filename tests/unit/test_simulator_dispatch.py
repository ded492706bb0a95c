"""How the simulator turns dispatches into frames: pre-encoded edits, the hub's index, observers."""

from __future__ import annotations

import json
import zlib
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mjapi.clock import FakeClock
from mjapi.simulator import components, messages
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.gateway_protocol import (
    EditTemplate,
    FrameEncoder,
    Opcode,
    dispatch_text,
    encode_json,
    frame,
)
from mjapi.simulator.gateway_session import GatewaySession
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.state import SimChannel
from mjapi.simulator.stats import GatewayStats
from mjapi.simulator.users import derive_user

TOKEN = "token-alpha-0123456789"
OTHER = "token-bravo-0123456789"
HASH = "a03e625f-383b-4592-8121-77f87ded20d4"


def _reference(payload: Any) -> str:
    """How frames were encoded before: ``json.dumps`` with Discord's compact separators."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


# -- encoding ---------------------------------------------------------------------------------


def test_dispatch_text_is_the_frame_encoded_whole() -> None:
    d = {"content": "**ü** — <@1> (15%)", "n": [1, None, True]}
    expected = _reference(frame(Opcode.DISPATCH, d, 42, "MESSAGE_UPDATE"))
    assert dispatch_text("MESSAGE_UPDATE", 42, encode_json(d)) == expected


def _progress_edits() -> list[dict[str, Any]]:
    user = derive_user(TOKEN, "Standard")
    channel = SimChannel(user.guild_channel_id, user.id, user.guild_id)
    ctx = InteractionContext(user, channel, "imagine", "1234567890123456789", "99")
    waiting = messages.waiting_message(ctx, "1234567890123456790", "un château « bj7x »")
    cancel = components.cancel_row(HASH)
    edits = []
    for n, percent in enumerate((0, 46, 93)):
        preview = {"id": str(n), "filename": f"{HASH}_grid_0.webp", "size": 100 + n}
        content = f"**un château** - <@{user.id}> ({percent}%) (fast)"
        edits.append(messages.progress_edit(waiting, content, preview, f"T{n}", cancel))
    return edits


def test_a_template_encodes_progress_edits_exactly() -> None:
    edits = _progress_edits()
    template = EditTemplate(edits[0], {"content", "attachments", "edited_timestamp"})
    for edit in edits:
        assert template.encode(edit) == _reference(edit)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@given(
    model=st.dictionaries(st.text(max_size=6), _VALUES, max_size=6),
    data=st.data(),
)
def test_a_template_matches_json_dumps_for_any_edit(model: dict[str, Any], data: Any) -> None:
    changing = data.draw(st.sets(st.sampled_from(sorted(model)))) if model else set()
    edit = {key: data.draw(_VALUES) if key in changing else value for key, value in model.items()}
    assert EditTemplate(model, changing).encode(edit) == _reference(edit)


def test_zlib_stream_frames_inflate_to_the_text_sent() -> None:
    encoder, inflate = FrameEncoder(zlib_stream=True), zlib.decompressobj()
    texts = [_reference(edit) for edit in _progress_edits()]
    chunks = [encoder.encode(text) for text in texts]
    for text, chunk in zip(texts, chunks, strict=True):
        assert isinstance(chunk, bytes) and chunk.endswith(b"\x00\x00\xff\xff")
        assert inflate.decompress(chunk).decode() == text


# -- the hub ----------------------------------------------------------------------------------


class Link:
    """A connection that keeps the frames it was given."""

    def __init__(self) -> None:
        self.session: GatewaySession | None = None
        self.zombie = False
        self.sent: list[str] = []

    def send(self, text: str) -> None:
        self.sent.append(text)

    def close(self, code: int, reason: str) -> None:
        pass

    def abort(self) -> bool:
        return True


def _hub(window: float = 60.0) -> tuple[GatewayHub, FakeClock]:
    clock = FakeClock()
    return GatewayHub(clock, GatewayStats(), resume_window=window, replay_limit=100), clock


def test_a_dispatch_reaches_only_its_users_sessions() -> None:
    hub, _ = _hub()
    alpha, bravo = derive_user(TOKEN, "Standard"), derive_user(OTHER, "Standard")
    first, second, stranger = Link(), Link(), Link()
    hub.identify(alpha, TOKEN, first)
    hub.identify(alpha, TOKEN, second)
    hub.identify(bravo, OTHER, stranger)
    hub.dispatch(alpha.id, "MESSAGE_CREATE", {"n": 1})
    expected = _reference(frame(Opcode.DISPATCH, {"n": 1}, 1, "MESSAGE_CREATE"))
    assert first.sent == second.sent == [expected]
    assert stranger.sent == []
    assert len(hub.sessions(alpha.id)) == 2 and len(hub.sessions(bravo.id)) == 1


def test_a_dispatch_may_bring_its_json() -> None:
    hub, _ = _hub()
    user = derive_user(TOKEN, "Standard")
    link = Link()
    hub.identify(user, TOKEN, link)
    hub.dispatch(user.id, "MESSAGE_UPDATE", {"ignored": True}, d_json='{"n":2}')
    assert link.sent == ['{"t":"MESSAGE_UPDATE","s":1,"op":0,"d":{"n":2}}']


def test_expired_and_discarded_sessions_leave_the_index() -> None:
    hub, clock = _hub(window=10)
    user = derive_user(TOKEN, "Standard")
    gone, kept, dropped = Link(), Link(), Link()
    expiring = hub.identify(user, TOKEN, gone)
    hub.identify(user, TOKEN, kept)
    discarded = hub.identify(user, TOKEN, dropped)
    hub.disconnected(gone)
    hub.discard(dropped)
    clock.advance(10)
    hub.dispatch(user.id, "MESSAGE_CREATE", {"n": 1})
    assert hub.session(expiring.session_id) is None and hub.session(discarded.session_id) is None
    assert len(kept.sent) == 1 and gone.sent == dropped.sent == []
    hub.discard(kept)
    hub.dispatch(user.id, "MESSAGE_CREATE", {"n": 2})  # no session left: nothing to do
    assert hub.sessions(user.id) == [] and len(kept.sent) == 1


def test_a_detached_session_within_its_window_still_numbers_dispatches() -> None:
    hub, clock = _hub(window=10)
    user = derive_user(TOKEN, "Standard")
    link = Link()
    session = hub.identify(user, TOKEN, link)
    hub.disconnected(link)
    clock.advance(9)
    hub.dispatch(user.id, "MESSAGE_CREATE", {"n": 1})
    assert session.seq == 1 and hub.session(session.session_id) is session


def test_observers_see_every_dispatch_after_it_was_sent() -> None:
    hub, _ = _hub()
    user = derive_user(TOKEN, "Standard")
    link = Link()
    hub.identify(user, TOKEN, link)
    seen: list[tuple[str, str, Any, int]] = []
    hub.observe(lambda user_id, event, d: seen.append((user_id, event, d, len(link.sent))))
    hub.dispatch(user.id, "INTERACTION_CREATE", {"id": "1"})
    hub.dispatch("someone-without-sessions", "MESSAGE_CREATE", {"id": "2"})
    assert seen == [
        (user.id, "INTERACTION_CREATE", {"id": "1"}, 1),
        ("someone-without-sessions", "MESSAGE_CREATE", {"id": "2"}, 1),
    ]
