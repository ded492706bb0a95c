"""Real loopback servers for integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp


@asynccontextmanager
async def serve_asgi(app: ASGIApp) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port, lifespan on); yields its base URL.

    The socket names IPPROTO_TCP: asyncio's own loop sets TCP_NODELAY only on sockets whose
    protocol says TCP (uvloop, as in production, on all). Without it a kept-alive client waited
    ~40 ms for each answer's body (uvicorn writes head and body apart; Nagle held the body until
    the client's delayed ACK).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", log_config=None)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("server stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


class CallbackSink:
    """A webhook receiver: records every POSTed JSON body (and its headers) in arrival order.

    While ``down`` is set it answers 503 and records nothing (a receiver that is unavailable).
    ``peers`` holds the client address of every request, so ``connections`` tells how many TCP
    connections the requests came over.
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.raw: list[str] = []
        self.down = False
        self.refused = 0
        self.peers: list[tuple[str, int]] = []
        self._changed = asyncio.Condition()
        self.app = Starlette(routes=[Route("/hook", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> PlainTextResponse:
        if request.client is not None:
            self.peers.append((request.client.host, request.client.port))
        if self.down:
            self.refused += 1
            return PlainTextResponse("down", status_code=503)
        raw = (await request.body()).decode()
        async with self._changed:
            self.bodies.append(json.loads(raw))
            self.headers.append(dict(request.headers))
            self.raw.append(raw)
            self._changed.notify_all()
        return PlainTextResponse("ok")

    def statuses(self, jobid: str) -> list[str]:
        return [b["status"] for b in self.bodies if b.get("jobid") == jobid]

    @property
    def connections(self) -> int:
        """TCP connections the requests so far came over (distinct client address and port)."""
        return len(set(self.peers))

    async def wait_for_status(self, jobid: str, status: str, seconds: float = 10) -> None:
        """Wait (at most ``seconds``) until a callback with ``status`` arrived for the job."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: status in self.statuses(jobid)), seconds
            )
