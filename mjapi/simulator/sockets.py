"""A websocket's TCP transport within reach, so a gateway connection can be dropped like a network
would drop it.

ASGI hides the socket from the app on purpose. ``/_sim/gateway/drop`` must cut a connection
without a close frame (what a client sees when a NAT or a proxy forgets it), so the simulator
serves websockets with uvicorn's protocol extended to hand the transport to the app in the
scope's extensions. Served any other way, the transport is out of reach and a drop falls
back to a 1011 close (``GatewayConnection.abort``).

The same extension offers ``send_now``: a data message written at once, the very frames the ASGI
``websocket.send`` would write, without its awaits. At thousands of gateway dispatches a second
the ASGI path (a writer task woken per frame, Starlette's and uvicorn's wrappers) cost more than
the frames themselves. Like an unbounded send queue, it does not wait for the client to read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

#: the scope extension that carries ``{"transport": <asyncio.Transport>, "send_now": ...}``
TRANSPORT_EXTENSION = "mjapi.simulator.transport"

#: writes one text (str) or binary (bytes) message now; False, writing nothing, once closing
SendNow = Callable[[str | bytes], bool]


class TransportExposingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, with the TCP transport in the ASGI scope."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # ``scope`` exists once the handshake was accepted; the app task has not run yet
        scope = getattr(self, "scope", None)
        if scope is not None:
            extension = {"transport": self.transport, "send_now": self.send_now}
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = extension

    def send_now(self, data: str | bytes) -> bool:
        """Write a data message now, as ``websocket.send`` would; False once the handshake is not
        done, a close was sent or received, or the connection is gone (nothing is written)."""
        if not self.handshake_complete or self.close_sent or self.disconnected:
            return False
        if self.transport.is_closing():
            return False
        try:
            if isinstance(data, bytes):
                self.conn.send_binary(data)
            else:
                self.conn.send_text(data.encode())
        except InvalidState:  # the client's close frame arrived
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True


def tcp_transport(websocket: WebSocket) -> asyncio.WriteTransport | None:
    """The transport under ``websocket``, when the server exposes it."""
    extension = websocket.scope.get("extensions", {}).get(TRANSPORT_EXTENSION, {})
    transport = extension.get("transport")
    return transport if isinstance(transport, asyncio.WriteTransport) else None


def direct_sender(websocket: WebSocket) -> SendNow | None:
    """``send_now`` of the protocol under ``websocket``, when the server exposes it."""
    extension = websocket.scope.get("extensions", {}).get(TRANSPORT_EXTENSION, {})
    send_now = extension.get("send_now")
    return send_now if callable(send_now) else None
