"""ProcessPoster: the callbacks' POSTs run by a child process, answered as in process.

Real child processes and real loopback receivers; each answer (status, refusal, timeout,
failure) is compared with what the in-process client (``KeepAliveClient``) answers for the same
POST.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from mjapi.net import Outbound, Refused, UrlGuard
from mjapi.net.dial import open_tcp
from mjapi.net.h1 import CallFailed, KeepAliveClient
from mjapi.net.post_process import ProcessPoster

HEADERS = {"content-type": "application/json", "webhook-id": "evt_1"}


@dataclass
class RawReceiver:
    """An HTTP/1.1 receiver on loopback: answers ``status`` to each POST, or nothing when
    ``stall``; keeps each request's bytes and notes connections the client closed."""

    status: int = 200
    stall: bool = False
    requests: list[bytes] = field(default_factory=list)
    closed_by_client: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = int(_header(head, b"content-length") or 0)
                self.requests.append(head + await reader.readexactly(length))
                if self.stall:
                    await reader.read()  # until the client gives up
                    self.closed_by_client += 1
                    return
                writer.write(b"HTTP/1.1 %d X\r\ncontent-length: 2\r\n\r\nok" % self.status)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


@pytest.fixture
async def receiver() -> AsyncIterator[RawReceiver]:
    receiver = RawReceiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


@pytest.fixture
async def poster() -> AsyncIterator[ProcessPoster]:
    poster = ProcessPoster(allow_private=True, max_idle=4)
    yield poster
    await poster.aclose()


async def in_process(url: str, body: bytes, limit: float, allow_private: bool) -> object:
    """What the in-process client answers: the status or the exception's type and text."""
    client = KeepAliveClient(UrlGuard(allow_private=allow_private), max_idle=4)
    try:
        return await client.post(url, body, HEADERS, limit)
    except (Refused, CallFailed, TimeoutError) as exc:
        return outcome(exc)
    finally:
        await client.aclose()


async def by_child(poster: ProcessPoster, url: str, body: bytes, limit: float) -> object:
    try:
        return await poster.post(url, body, HEADERS, limit)
    except (Refused, CallFailed, TimeoutError) as exc:
        return outcome(exc)


def outcome(exc: Exception) -> tuple[type[Exception], str]:
    """The exception's type and text; of an OSError's text only the errno (the child runs on
    uvloop, as the server does, whose texts differ from asyncio's)."""
    text, errno, _ = str(exc).partition("[Errno ")
    return type(exc), text + errno + _.partition("]")[0]


async def test_statuses_and_the_exact_request_are_those_of_the_in_process_client(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    for status in (200, 204, 410, 503):
        receiver.status = status
        for body in (
            b'{"status":"completed","prompt":"caf\xc3\xa9 \xf0\x9f\x8c\x99"}',
            b"\xff\x00",
        ):
            assert await by_child(poster, receiver.url, body, 2) == status
            assert await in_process(receiver.url, body, 2, True) == status
            assert receiver.requests[-2] == receiver.requests[-1]
            assert receiver.requests[-1].endswith(b"\r\n\r\n" + body)


async def test_many_posts_at_once_share_one_child(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    bodies = [b'{"n":%d}' % n for n in range(200)]
    statuses = await asyncio.gather(*(poster.post(receiver.url, b, HEADERS, 5) for b in bodies))
    assert statuses == [200] * len(bodies)
    assert sorted(r.rpartition(b"\r\n\r\n")[2] for r in receiver.requests) == sorted(bodies)
    assert poster.started == 1


async def test_refusals_and_failures_are_those_of_the_in_process_client(
    receiver: RawReceiver,
) -> None:
    guarded = ProcessPoster(allow_private=False, max_idle=4)
    open_poster = ProcessPoster(allow_private=True, max_idle=4)
    unused = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = unused.sockets[0].getsockname()[1]
    unused.close()
    await unused.wait_closed()
    try:
        cases = [
            (guarded, receiver.url, False),  # loopback: refused by the guard
            (guarded, "ftp://example.invalid/hook", False),  # scheme
            (open_poster, f"http://127.0.0.1:{closed_port}/hook", True),  # nothing listens
        ]
        for poster, url, allow_private in cases:
            answer = await by_child(poster, url, b"{}", 2)
            assert isinstance(answer, tuple), answer
            assert answer == await in_process(url, b"{}", 2, allow_private)
        assert receiver.requests == []
    finally:
        await guarded.aclose()
        await open_poster.aclose()


async def test_a_receiver_that_does_not_answer_times_out_and_its_connection_is_dropped(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    receiver.stall = True
    assert await by_child(poster, receiver.url, b"{}", 0.3) == (TimeoutError, "")
    await _eventually(lambda: receiver.closed_by_client == 1)


async def test_a_caller_that_stops_waiting_makes_the_child_drop_its_post(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    receiver.stall = True
    waiting = asyncio.create_task(poster.post(receiver.url, b"{}", HEADERS, 30))
    await _eventually(lambda: len(receiver.requests) == 1)
    waiting.cancel()
    await _eventually(lambda: receiver.closed_by_client == 1)  # long before its 30 s


async def test_a_killed_child_fails_its_posts_and_the_next_post_starts_another(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    receiver.stall = True
    waiting = asyncio.create_task(by_child(poster, receiver.url, b"{}", 30))
    await _eventually(lambda: len(receiver.requests) == 1)
    first = poster.child_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert await waiting == (CallFailed, "the callbacks' process ended")
    receiver.stall = False
    assert await poster.post(receiver.url, b"{}", HEADERS, 5) == 200
    assert poster.started == 2
    assert poster.child_pid not in (None, first)
    assert _reaped(first)


async def test_signals_to_the_process_group_do_not_end_the_child(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    """Ctrl-C or a service manager's SIGTERM reach the child too, while the server still sends
    the callbacks due at shut-down through it."""
    assert await poster.post(receiver.url, b"{}", HEADERS, 5) == 200
    pid = poster.child_pid
    assert pid is not None
    for each in (signal.SIGINT, signal.SIGTERM):
        os.kill(pid, each)
        assert await poster.post(receiver.url, b"{}", HEADERS, 5) == 200
    assert poster.child_pid == pid
    assert poster.started == 1


async def test_closing_ends_the_child_and_refuses_later_posts(
    receiver: RawReceiver, poster: ProcessPoster
) -> None:
    assert await poster.post(receiver.url, b"{}", HEADERS, 5) == 200
    pid = poster.child_pid
    assert pid is not None
    await poster.aclose()
    assert poster.child_pid is None
    assert _reaped(pid)
    with pytest.raises(CallFailed):
        await poster.post(receiver.url, b"{}", HEADERS, 5)


def test_the_child_runs_the_posts_only_where_it_can_guard_and_dial_alike() -> None:
    async def resolver(host: str, port: int) -> list[object]:
        return []

    async def dial(*args: object, **kwargs: object) -> object:
        raise AssertionError("not dialled here")

    assert isinstance(Outbound(UrlGuard()).poster(4), ProcessPoster)
    assert isinstance(Outbound(UrlGuard(), open_tcp).poster(4), ProcessPoster)
    assert isinstance(Outbound(UrlGuard(resolver=resolver)).poster(4), KeepAliveClient)  # type: ignore[arg-type]
    assert isinstance(Outbound(UrlGuard(), dial).poster(4), KeepAliveClient)  # type: ignore[arg-type]


def _reaped(pid: int) -> bool:
    """Whether process ``pid`` is gone, not left a zombie (its parent waited for it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _eventually(condition: object, seconds: float = 5.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the receiver has no event to wait on)
            await asyncio.sleep(0.01)
