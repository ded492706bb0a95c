"""The Gateway websocket (``/gateway``): HELLO, IDENTIFY -> READY, heartbeats, dispatches.

One writer task per connection sends frames in the order they were queued; frames are encoded
when queued, so a zlib stream stays in order and later changes to an event's dict cannot leak.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.gateway_protocol import (
    CLOSE_REASONS,
    SUPPORTED_VERSIONS,
    CloseCode,
    FrameEncoder,
    Opcode,
    decode_client_frame,
    frame,
)
from mjapi.simulator.gateway_session import GatewaySession, new_session_id, ready_payload
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.state import SimulatorState

log = logging.getLogger(__name__)

#: ops a client may send before IDENTIFY without being closed with 4003
_ALLOWED_BEFORE_IDENTIFY = frozenset({Opcode.HEARTBEAT, Opcode.IDENTIFY, Opcode.RESUME})
_KNOWN_CLIENT_OPS = frozenset(int(op) for op in Opcode)


@dataclass(frozen=True)
class _Close:
    """Outbox marker: close the socket once everything before it was sent."""

    code: int
    reason: str


@dataclass(frozen=True)
class ConnectOptions:
    """What the client asked for in the gateway URL's query string."""

    version: int
    zlib_stream: bool


def connect_options(websocket: WebSocket) -> ConnectOptions | _Close:
    """Parse ``?v=9&encoding=json[&compress=zlib-stream]``, or say why the connection must close."""
    query = websocket.query_params
    version = query.get("v", "9")
    if version not in SUPPORTED_VERSIONS:
        return _Close(CloseCode.INVALID_API_VERSION, CLOSE_REASONS[CloseCode.INVALID_API_VERSION])
    if query.get("encoding", "json") != "json":
        return _Close(CloseCode.DECODE_ERROR, "mjapi simulator: only encoding=json is supported")
    compress = query.get("compress")
    if compress not in (None, "zlib-stream"):
        return _Close(CloseCode.UNKNOWN_ERROR, f"mjapi simulator: compress={compress} unsupported")
    return ConnectOptions(version=int(version), zlib_stream=compress == "zlib-stream")


class GatewayConnection:
    """One client websocket, from HELLO to close."""

    def __init__(
        self,
        websocket: WebSocket,
        options: ConnectOptions,
        state: SimulatorState,
        hub: GatewayHub,
        config: SimulatorConfig,
    ) -> None:
        self._ws = websocket
        self._options = options
        self._state = state
        self._hub = hub
        self._config = config
        self._encoder = FrameEncoder(options.zlib_stream)
        self._outbox: asyncio.Queue[str | bytes | _Close] = asyncio.Queue()
        self._session: GatewaySession | None = None

    @property
    def session(self) -> GatewaySession | None:
        return self._session

    def dispatch(self, event: str, data: Any) -> None:
        """Queue an op 0 dispatch (called by the hub for READY sessions only)."""
        if self._session is not None:
            self._send(self._session.dispatch_frame(event, data))

    async def run(self) -> None:
        writer = asyncio.create_task(self._write_loop())
        try:
            hello = {"heartbeat_interval": self._config.heartbeat_interval_ms}
            self._send(frame(Opcode.HELLO, hello))
            close = await self._read_loop()
            if close is not None:
                self._outbox.put_nowait(close)
                await asyncio.wait([writer])
        finally:
            if self._session is not None:
                self._hub.remove(self._session.user.id, self)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _send(self, payload: JsonObject) -> None:
        self._outbox.put_nowait(self._encoder.encode(payload))

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, _Close):
                await self._ws.close(item.code, item.reason)
                return
            if isinstance(item, bytes):
                await self._ws.send_bytes(item)
            else:
                await self._ws.send_text(item)

    async def _read_loop(self) -> _Close | None:
        """Handle client frames until the client leaves (None) or must be closed."""
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return None
            raw = message.get("text") or message.get("bytes") or ""
            payload = decode_client_frame(raw)
            code = CloseCode.DECODE_ERROR if payload is None else self._handle(payload)
            if code is not None:
                return _Close(code, CLOSE_REASONS[code])

    def _handle(self, payload: JsonObject) -> CloseCode | None:
        op = payload["op"]
        if op not in _KNOWN_CLIENT_OPS:
            log.debug("ignoring unknown gateway opcode %s", op)
            return None
        if self._session is None and op not in _ALLOWED_BEFORE_IDENTIFY:
            return CloseCode.NOT_AUTHENTICATED
        if op == Opcode.HEARTBEAT:
            self._send(frame(Opcode.HEARTBEAT_ACK, None))
        elif op == Opcode.IDENTIFY:
            return self._identify(payload.get("d"))
        elif op == Opcode.RESUME:
            # Sessions cannot be resumed yet: Discord's answer is op 9 with d=false (identify anew).
            self._send(frame(Opcode.INVALID_SESSION, False))
        return None

    def _identify(self, data: Any) -> CloseCode | None:
        if self._session is not None:
            return CloseCode.ALREADY_AUTHENTICATED
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            return CloseCode.DECODE_ERROR
        user = self._state.user_for_token(data["token"])
        if user is None:
            return CloseCode.AUTHENTICATION_FAILED
        self._session = GatewaySession(new_session_id(), user)
        gateway_url = f"{self._ws.url.scheme}://{self._ws.url.netloc}/gateway"
        ready = ready_payload(self._session, self._state, gateway_url, self._options.version)
        self.dispatch("READY", ready)
        self._hub.add(user.id, self)
        return None


async def gateway_endpoint(
    websocket: WebSocket, state: SimulatorState, hub: GatewayHub, config: SimulatorConfig
) -> None:
    """Accept the websocket like Discord (always), then play the protocol."""
    await websocket.accept()
    options = connect_options(websocket)
    if isinstance(options, _Close):
        await websocket.close(options.code, options.reason)
        return
    await GatewayConnection(websocket, options, state, hub, config).run()
