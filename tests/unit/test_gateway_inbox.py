"""The gateway inbox: dispatches run as messages arrive, everything else waits for the runner,
and arrival order holds across both (mjapi/transports/discord/inbox.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from mjapi.transports.discord.gateway import Action, Dispatch, Fatal, Reconnect, Send
from mjapi.transports.discord.inbox import PAUSE_AT, Inbox, InboxConnection

pytestmark = pytest.mark.both_loops


def actions_of(message: str | bytes) -> list[Action]:
    """A tiny script: "d:NAME" dispatches NAME, "s" sends, "s+d:NAME" both, "r" reconnects,
    "f" is fatal, "-" is part of a message (no action), "boom" breaks the reader."""
    text = message.decode() if isinstance(message, bytes) else message
    if text == "boom":
        raise RuntimeError("reader broke")
    actions: list[Action] = []
    for part in text.split("+"):
        if part.startswith("d:"):
            actions.append(Dispatch(part[2:], None))
        elif part == "s":
            actions.append(Send({"op": 1}))
        elif part == "r":
            actions.append(Reconnect(resume=True))
        elif part == "f":
            actions.append(Fatal(4004, "rejected"))
    return actions


async def next_entry(inbox: Inbox) -> list[Action] | None:
    """``inbox.next()`` where it must answer without waiting: a defect fails, not hangs."""
    return await asyncio.wait_for(inbox.next(), 10)


class Harness:
    def __init__(self) -> None:
        self.read: list[str | bytes] = []
        self.dispatched: list[str] = []
        #: "pause" / "resume" of the socket's reading, in order
        self.reading: list[str] = []
        self.inbox = Inbox(
            self._read,
            lambda action: self.dispatched.append(action.name),
            pause=lambda: self.reading.append("pause"),
            resume=lambda: self.reading.append("resume"),
        )

    def _read(self, message: str | bytes) -> list[Action]:
        self.read.append(message)
        return actions_of(message)

    async def queued(self) -> list[list[Action]]:
        """Everything queued for the runner (the connection is declared closed to stop)."""
        self.inbox.lost()
        entries: list[list[Action]] = []
        while (entry := await next_entry(self.inbox)) is not None:
            entries.append(entry)
        return entries


async def test_dispatch_only_messages_run_at_once_in_order() -> None:
    harness = Harness()
    for message in ("d:A", "-", "d:B", "d:C"):
        harness.inbox.deliver(message)
    assert harness.dispatched == ["A", "B", "C"]
    assert await harness.queued() == []


async def test_a_message_for_the_runner_holds_later_dispatches_behind_it() -> None:
    harness = Harness()
    for message in ("d:A", "s", "d:B", "s+d:C", "d:D"):
        harness.inbox.deliver(message)
    assert harness.dispatched == ["A"]  # B and D wait: the send before them is not done
    assert await harness.queued() == [
        [Send({"op": 1})],
        [Dispatch("B", None)],
        [Send({"op": 1}), Dispatch("C", None)],
        [Dispatch("D", None)],
    ]


async def test_while_the_runner_performs_an_entry_dispatches_queue_behind_it() -> None:
    harness = Harness()
    harness.inbox.deliver("s")
    assert await next_entry(harness.inbox) == [Send({"op": 1})]
    harness.inbox.busy = True  # the runner is sending
    harness.inbox.deliver("d:A")
    assert harness.dispatched == []
    harness.inbox.busy = False
    assert await next_entry(harness.inbox) == [Dispatch("A", None)]
    harness.inbox.deliver("d:B")  # nothing queued, runner idle: at once again
    assert harness.dispatched == ["B"]


@pytest.mark.parametrize("ending", ["r", "f"])
async def test_nothing_is_read_after_a_message_that_ends_the_connection(ending: str) -> None:
    harness = Harness()
    for message in ("d:A", ending, "d:B", "s"):
        harness.inbox.deliver(message)
    assert harness.read == ["d:A", ending]
    assert harness.dispatched == ["A"]
    assert await harness.queued() == [actions_of(ending)]


async def test_nothing_is_read_once_the_runner_stops_the_inbox() -> None:
    harness = Harness()
    harness.inbox.stop()
    harness.inbox.deliver("d:A")
    assert harness.read == []
    assert harness.dispatched == []


async def test_a_broken_reader_is_raised_in_the_runner_and_reading_stops() -> None:
    harness = Harness()
    harness.inbox.deliver("boom")
    harness.inbox.deliver("d:A")
    assert harness.read == ["boom"]
    with pytest.raises(RuntimeError, match="reader broke"):
        await next_entry(harness.inbox)


async def test_a_broken_reader_is_raised_after_the_entries_read_before_it() -> None:
    harness = Harness()
    harness.inbox.deliver("s")
    harness.inbox.deliver("boom")
    assert await next_entry(harness.inbox) == [Send({"op": 1})]
    with pytest.raises(RuntimeError, match="reader broke"):
        await next_entry(harness.inbox)


async def test_stop_hands_back_what_was_read_but_not_performed() -> None:
    harness = Harness()
    for message in ("s", "d:A", "s+d:B", "boom"):
        harness.inbox.deliver(message)
    assert harness.inbox.stop() == [
        [Send({"op": 1})],
        [Dispatch("A", None)],
        [Send({"op": 1}), Dispatch("B", None)],
    ]
    harness.inbox.deliver("d:C")
    assert harness.read == ["s", "d:A", "s+d:B", "boom"]
    assert harness.dispatched == []  # handing them on is the runner's decision
    assert await harness.queued() == []


async def test_a_reading_failure_dropped_by_stop_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()
    harness.inbox.deliver("s")
    harness.inbox.deliver("boom")
    with caplog.at_level(logging.ERROR, logger="mjapi.transports.discord.inbox"):
        assert harness.inbox.stop() == [[Send({"op": 1})]]
    assert "reading a gateway message failed" in caplog.text
    assert "reader broke" in caplog.text


async def test_reading_pauses_while_the_queue_is_full_and_resumes_once_it_is_empty() -> None:
    harness = Harness()
    harness.inbox.deliver("s")
    for _ in range(PAUSE_AT - 2):
        harness.inbox.deliver("d:A")
    assert harness.reading == []
    harness.inbox.deliver("d:A")
    harness.inbox.deliver("d:A")  # bytes already read still arrive: one pause is enough
    assert harness.reading == ["pause"]
    for _ in range(PAUSE_AT):
        await next_entry(harness.inbox)
    assert harness.reading == ["pause"]
    await next_entry(harness.inbox)
    assert harness.reading == ["pause", "resume"]


async def test_stopping_a_paused_inbox_reads_on_for_the_closing_handshake() -> None:
    harness = Harness()
    for _ in range(PAUSE_AT):
        harness.inbox.deliver("s")
    assert harness.reading == ["pause"]
    assert len(harness.inbox.stop()) == PAUSE_AT
    assert harness.reading == ["pause", "resume"]


async def test_the_runner_learns_of_the_closed_connection_after_what_was_queued() -> None:
    harness = Harness()
    harness.inbox.deliver("s")
    harness.inbox.lost()
    assert await next_entry(harness.inbox) == [Send({"op": 1})]
    assert await next_entry(harness.inbox) is None
    assert await next_entry(harness.inbox) is None


async def test_the_runner_waits_until_a_message_needs_it() -> None:
    harness = Harness()
    waiting = asyncio.ensure_future(harness.inbox.next())
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    harness.inbox.deliver("d:A")  # handled at once: the runner stays asleep
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    harness.inbox.deliver("s")
    assert await waiting == [Send({"op": 1})]


# -- the connection's side ------------------------------------------------------------------


def open_connection() -> InboxConnection:
    """A connection past its handshake, without a socket: frames are fed to it directly."""
    connection = InboxConnection(ClientProtocol(parse_uri("ws://127.0.0.1/")))
    connection.response = Response(101, "Switching Protocols", Headers())
    return connection


def frame(opcode: Opcode, data: bytes, fin: bool = True) -> Frame:
    return Frame(opcode, data, fin)


async def test_messages_before_attach_are_handed_over_in_order() -> None:
    connection, harness = open_connection(), Harness()
    connection.process_event(frame(Opcode.BINARY, b"d:A"))
    connection.process_event(frame(Opcode.TEXT, b"d:B"))
    assert harness.read == []
    connection.attach(harness.inbox)
    connection.process_event(frame(Opcode.BINARY, b"d:C"))
    assert harness.read == [b"d:A", "d:B", b"d:C"]
    assert harness.dispatched == ["A", "B", "C"]


@pytest.mark.parametrize(("first", "expected"), [(Opcode.BINARY, b"d:ABC"), (Opcode.TEXT, "d:ABC")])
async def test_a_fragmented_message_is_handed_over_whole(
    first: Opcode, expected: str | bytes
) -> None:
    connection, harness = open_connection(), Harness()
    connection.attach(harness.inbox)
    connection.process_event(frame(first, b"d:A", fin=False))
    connection.process_event(frame(Opcode.PING, b""))  # control frames may come in between
    connection.process_event(frame(Opcode.CONT, b"B", fin=False))
    assert harness.read == []
    connection.process_event(frame(Opcode.CONT, b"C"))
    assert harness.read == [expected]
    assert harness.dispatched == ["ABC"]


async def test_control_frames_are_not_messages() -> None:
    connection, harness = open_connection(), Harness()
    connection.attach(harness.inbox)
    connection.process_event(frame(Opcode.PING, b"d:A"))
    connection.process_event(frame(Opcode.PONG, b"d:B"))
    assert harness.read == []


async def test_a_text_message_that_is_not_utf8_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connection, harness = open_connection(), Harness()
    connection.attach(harness.inbox)
    with caplog.at_level(logging.WARNING, logger="mjapi.transports.discord.inbox"):
        connection.process_event(frame(Opcode.TEXT, b"d:\xff"))
    connection.process_event(frame(Opcode.TEXT, b"d:A"))
    assert harness.read == ["d:A"]
    assert "not UTF-8" in caplog.text
