"""The Gateway websocket (``/gateway``): HELLO, IDENTIFY -> READY, RESUME -> RESUMED, heartbeats.

Frames are encoded when sent, so a zlib stream stays in order, and written at once when the
server offers it (``sockets.direct_sender``); otherwise, and from the moment a close is asked,
one writer task per connection sends them in order. Sessions live in the hub, not here: a
connection only carries one for a while (reference §2.3).
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
    encode_json,
    frame,
)
from mjapi.simulator.gateway_session import GatewaySession, ready_payload
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.sockets import SendNow, direct_sender, tcp_transport
from mjapi.simulator.state import SimulatorState
from mjapi.simulator.stats import GatewayStats

log = logging.getLogger(__name__)

#: ops a client may send before IDENTIFY without being closed with 4003
_ALLOWED_BEFORE_IDENTIFY = frozenset({Opcode.HEARTBEAT, Opcode.IDENTIFY, Opcode.RESUME})
_KNOWN_CLIENT_OPS = frozenset(int(op) for op in Opcode)
#: the close code when a connection must be dropped but its TCP transport is out of reach
_DROP_FALLBACK = 1011
#: client close codes after which Discord does not keep the session (its docs, "Resuming")
_FINAL = frozenset({1000, 1001})


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
    """One client websocket, from HELLO to close (a ``GatewayLink`` for the hub)."""

    def __init__(
        self,
        websocket: WebSocket,
        options: ConnectOptions,
        state: SimulatorState,
        hub: GatewayHub,
        config: SimulatorConfig,
        stats: GatewayStats,
    ) -> None:
        self._ws = websocket
        self._options = options
        self._state = state
        self._hub = hub
        self._config = config
        self._stats = stats
        self._encoder = FrameEncoder(options.zlib_stream)
        self._outbox: asyncio.Queue[str | bytes | _Close] = asyncio.Queue()
        #: writes a frame now; None once frames must go through the outbox (they then stay
        #: behind what it holds: a close, or frames the direct path refused)
        self._send_now: SendNow | None = direct_sender(websocket)
        self.session: GatewaySession | None = None
        self.zombie = False

    # -- GatewayLink -------------------------------------------------------------------------

    def send(self, text: str) -> None:
        data = self._encoder.encode(text)
        if self._send_now is not None:
            if self._send_now(data):
                return
            self._send_now = None
        self._outbox.put_nowait(data)

    def close(self, code: int, reason: str) -> None:
        self._send_now = None
        self._outbox.put_nowait(_Close(code, reason))

    def abort(self) -> bool:
        transport = tcp_transport(self._ws)
        if transport is None:
            self.close(_DROP_FALLBACK, "mjapi simulator: connection dropped")
            return False
        transport.abort()
        return True

    # -- the connection's life ---------------------------------------------------------------

    async def run(self) -> None:
        self._hub.connected(self)
        writer = asyncio.create_task(self._write_loop())
        try:
            hello = {"heartbeat_interval": self._config.heartbeat_interval_ms}
            self._send(frame(Opcode.HELLO, hello))
            close = await self._read_loop()
            if close is not None:
                self.close(close.code, close.reason)
                await asyncio.wait([writer])
        finally:
            self._hub.disconnected(self)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _send(self, payload: JsonObject) -> None:
        self.send(encode_json(payload))

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
                if self._config.client_close_ends_session and message.get("code") in _FINAL:
                    self._hub.discard(self)
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
        if self.session is None and op not in _ALLOWED_BEFORE_IDENTIFY:
            return CloseCode.NOT_AUTHENTICATED
        if op == Opcode.HEARTBEAT:
            if not self.zombie:
                self._send(frame(Opcode.HEARTBEAT_ACK, None))
        elif op == Opcode.IDENTIFY:
            self._stats.identifies += 1
            return self._identify(payload.get("d"))
        elif op == Opcode.RESUME:
            self._stats.resumes += 1
            return self._resume(payload.get("d"))
        return None

    def _identify(self, data: Any) -> CloseCode | None:
        if self.session is not None:
            return CloseCode.ALREADY_AUTHENTICATED
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            return CloseCode.DECODE_ERROR
        token: str = data["token"]
        user = self._state.user_for_token(token)
        if user is None:
            return CloseCode.AUTHENTICATION_FAILED
        session = self._hub.identify(user, token, self)
        ready = ready_payload(session, self._state, self._gateway_url(), self._options.version)
        self._hub.deliver(session, "READY", ready)
        return None

    def _resume(self, data: Any) -> CloseCode | None:
        """Op 6: replay what the session missed, or op 9 ``false`` (identify anew)."""
        if self.session is not None:
            return CloseCode.ALREADY_AUTHENTICATED
        if not _is_resume(data):
            return CloseCode.DECODE_ERROR
        if self._state.user_for_token(data["token"]) is None:
            return CloseCode.AUTHENTICATION_FAILED
        seq = data.get("seq") or 0
        if not self._hub.resume(data["session_id"], data["token"], seq, self):
            self._hub.invalidate(self, resumable=False)
        return None

    def _gateway_url(self) -> str:
        """This server's gateway: READY's ``resume_gateway_url`` (clients append the query)."""
        return f"{self._ws.url.scheme}://{self._ws.url.netloc}/gateway"


def _is_resume(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("token"), str)
        and isinstance(data.get("session_id"), str)
        and (data.get("seq") is None or _is_int(data.get("seq")))
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def gateway_endpoint(
    websocket: WebSocket,
    state: SimulatorState,
    hub: GatewayHub,
    config: SimulatorConfig,
    stats: GatewayStats,
) -> None:
    """Accept the websocket like Discord (always), then play the protocol."""
    await websocket.accept()
    options = connect_options(websocket)
    if isinstance(options, _Close):
        await websocket.close(options.code, options.reason)
        return
    await GatewayConnection(websocket, options, state, hub, config, stats).run()
