"""The callbacks' HTTP exchanges in a process of their own.

One Python process runs one thread of Python at a time. At 3,000 concurrent jobs with a
callback per job change, the callbacks' exchanges (socket writes, reading and parsing answers,
their timers; ``h1.KeepAliveClient``) were about a tenth of the server's CPU, on the same core as
the gateway, the engine and the API (py-spy, ``bench.scale``). ``ProcessPoster`` keeps the
callbacks' client (``KeepAliveClient``, with the same URL guard rules) in a child process and
hands it the POSTs over a pipe:

- **Frames**: one JSON array per line (orjson), written at most once per event-loop turn each
  way, so that a busy server sends many POSTs with one pipe write. Parent to child:
  ``[id, url, body, headers, limit]`` (a POST; ``body`` text, or ``[base64]`` for bytes that are
  not UTF-8) and ``[id]`` (forget that POST: its caller stopped waiting). Child to parent:
  ``[id, status]``, ``[id, "refused", why]``, ``[id, "timeout"]``, ``[id, "connect", text]``
  or ``[id, "failed", text]``: what ``KeepAliveClient.post`` answered or raised.
- **Failures**: the child enforces each POST's ``limit`` itself; the parent waits
  ``limit + GRACE`` at most and then answers ``TimeoutError``. A child that ends (crash, killed)
  fails its POSTs in flight with ``CallFailed`` (the outbox tries them again later, as for any
  network failure: nothing is lost) and the next POST starts a new child. The child ends when
  its input closes (signals to the process group do not end it: the server may still be
  sending the callbacks due at shut-down), so it never outlives the server, even one killed
  with SIGKILL.
- **What stays in process**: the guard decides addresses by resolving names; a child can only
  reproduce the system's resolver and plain TCP dialling, so ``Outbound.poster`` keeps the
  in-process client when either was replaced (tests route names to loopback servers that way).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from mjapi.net.guard import Refused, UrlGuard
from mjapi.net.h1 import CallFailed, ConnectFailed, KeepAliveClient

#: Seconds the parent waits beyond a POST's own limit before it stops waiting for the child.
GRACE = 2.0
#: Seconds a closing poster gives its child to end by itself before killing it.
EXIT_WAIT = 5.0
#: Least seconds between the starts of two children (a child that cannot start must not make
#: every POST start one).
RESTART_SPACING = 1.0

Answer = list[Any]

_CHILD_MAIN = "from mjapi.net.post_process import main; main()"


class ProcessPoster:
    """``CallbackClient`` (webhooks.post) whose exchanges run in a child process."""

    def __init__(self, *, allow_private: bool, max_idle: int) -> None:
        self._command = child_command(allow_private=allow_private, max_idle=max_idle)
        self._ids = itertools.count(1)
        self._child: _Child | None = None
        self._starting: asyncio.Lock | None = None
        self._closed = False
        #: children started so far (a gauge for tests)
        self.started = 0

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], limit: float) -> int:
        """The answer's status; raises ``Refused``, ``TimeoutError`` or ``CallFailed``."""
        child = await self._running_child()
        post_id = next(self._ids)
        answer = child.expect(post_id)
        child.send([post_id, url, _body_text(body), dict(headers), limit])
        try:
            async with asyncio.timeout(limit + GRACE):
                return _outcome(await answer)
        finally:
            # Still listed unless answered (cancelling this task cancels ``answer`` too).
            child.forget(post_id)

    @property
    def child_pid(self) -> int | None:
        """The running child's process id (None before the first POST and after the end)."""
        child = self._child
        return child.pid if child is not None and child.alive else None

    async def aclose(self) -> None:
        self._closed = True
        if self._child is not None:
            await self._child.close()
            self._child = None

    async def _running_child(self) -> _Child:
        if self._closed:
            raise CallFailed("the callbacks' client is closed")
        if self._child is not None and self._child.alive:
            return self._child
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:  # many POSTs at once start one child
            if self._child is None or not self._child.alive:
                if self._child is not None:
                    await asyncio.sleep(self._child.started + RESTART_SPACING - _now())
                self._child = await _Child.start(self._command)
                self.started += 1
            return self._child


def child_command(*, allow_private: bool, max_idle: int) -> list[str]:
    # -c, not -m: mjapi.net imports this module, and -m would run a second copy of it.
    command = [sys.executable, "-c", _CHILD_MAIN, "--max-idle", str(max_idle)]
    return [*command, "--allow-private"] if allow_private else command


class _Child:
    """One child process, the POSTs sent to it, and the frames waiting for the next write."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._frames = _Frames(self._write)
        self._reader = asyncio.create_task(self._read_answers())
        self.alive = True
        self.started = _now()

    @classmethod
    async def start(cls, command: list[str]) -> _Child:
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    def expect(self, post_id: int) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if self.alive:
            self._waiting[post_id] = future
        else:
            future.set_exception(CallFailed("the callbacks' process ended"))
        return future

    def send(self, frame: list[Any]) -> None:
        self._frames.add(frame)

    def forget(self, post_id: int) -> None:
        """Tell the child to drop a POST no one waits for any more (if it is still running)."""
        if self._waiting.pop(post_id, None) is not None and self.alive:
            self._frames.add([post_id])

    def _write(self, data: bytes) -> None:
        stdin = self._process.stdin
        if not self.alive or stdin is None or stdin.is_closing():
            return
        stdin.write(data)

    async def _read_answers(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while line := await stdout.readline():
                answer: Answer = orjson.loads(line)
                future = self._waiting.pop(answer[0], None)
                if future is not None and not future.done():
                    future.set_result(answer)
        finally:
            self._ended("the callbacks' process ended")
            await self._reap()

    async def _reap(self) -> None:
        """Wait for the process to end (killing it if it does not) and close its input."""
        try:
            async with asyncio.timeout(EXIT_WAIT):
                await self._process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()

    def _ended(self, why: str) -> None:
        self.alive = False
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(CallFailed(why))

    async def close(self) -> None:
        """Close the child's input (it ends by itself) and wait for it; kill it if it lingers."""
        self._ended("the callbacks' client is closed")
        stdin = self._process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            async with asyncio.timeout(EXIT_WAIT):
                await asyncio.shield(self._reader)  # ends with the child's output, then reaps it
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._reader


class _Frames:
    """Frames added during one event-loop turn, written together at its end."""

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._lines: list[bytes] = []

    def add(self, frame: list[Any]) -> None:
        if not self._lines:
            asyncio.get_running_loop().call_soon(self._flush)
        self._lines.append(orjson.dumps(frame) + b"\n")

    def _flush(self) -> None:
        lines, self._lines = self._lines, []
        self._write(b"".join(lines))


def _now() -> float:
    return asyncio.get_running_loop().time()


def _body_text(body: bytes) -> str | list[str]:
    try:
        return body.decode()
    except UnicodeDecodeError:
        return [base64.b64encode(body).decode()]


def _body_bytes(text: str | list[str]) -> bytes:
    return text.encode() if isinstance(text, str) else base64.b64decode(text[0])


def _outcome(answer: Answer) -> int:
    """The status of a child's answer, or what ``KeepAliveClient.post`` raised."""
    if len(answer) == 2 and isinstance(answer[1], int):
        status: int = answer[1]
        return status
    kind = answer[1]
    if kind == "refused":
        raise Refused(answer[2])
    if kind == "timeout":
        raise TimeoutError()
    if kind == "connect":
        raise ConnectFailed(answer[2])
    raise CallFailed(answer[2])


# The child.


async def serve(client: KeepAliveClient) -> None:
    """Run the POSTs read from stdin with ``client``, answering on stdout, until stdin ends."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    answers = _Frames(transport.write)
    running: dict[int, asyncio.Task[None]] = {}

    async def run(frame: list[Any]) -> None:
        post_id = frame[0]
        try:
            answers.add([post_id, *await _attempt(client, frame)])
        finally:
            running.pop(post_id, None)

    try:
        while line := await reader.readline():
            frame = orjson.loads(line)
            if len(frame) == 1:
                task = running.pop(frame[0], None)
                if task is not None:
                    task.cancel()
            else:
                running[frame[0]] = asyncio.create_task(run(frame))
    finally:
        for task in list(running.values()):
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
        await client.aclose()
        transport.close()


async def _attempt(client: KeepAliveClient, frame: list[Any]) -> list[Any]:
    """The answer to one POST frame, without its id."""
    _, url, body, headers, limit = frame
    try:
        return [await client.post(url, _body_bytes(body), headers, limit)]
    except Refused as refusal:
        return ["refused", refusal.why]
    except TimeoutError:
        return ["timeout"]
    except ConnectFailed as exc:
        return ["connect", str(exc)]
    except CallFailed as exc:
        return ["failed", str(exc)]
    except Exception as exc:  # a fault of the client itself: the attempt fails, the child lives
        return ["failed", f"unexpected error: {exc!r}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="mjapi's callbacks' client (a child process)")
    parser.add_argument("--max-idle", type=int, required=True)
    parser.add_argument("--allow-private", action="store_true")
    args = parser.parse_args(argv)
    guard = UrlGuard(allow_private=args.allow_private)
    # Ctrl-C, and a service manager's SIGTERM, reach the whole process group; the server then
    # still sends the callbacks due (``MJAPI_SHUTDOWN_GRACE``) through this process, and closes
    # its input when done: that, not a signal, ends it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # as the server runs: the exchanges are this process's whole work

        runner = uvloop.run
    runner(serve(KeepAliveClient(guard, max_idle=args.max_idle)))
