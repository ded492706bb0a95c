"""A websocket's TCP transport within reach, so a gateway connection can be dropped like a network
would drop it.

ASGI hides the socket from the app on purpose. ``/_sim/gateway/drop`` must cut a connection
without a close frame (what a client sees when a NAT or a proxy forgets it), so the simulator
serves websockets with uvicorn's protocol extended by one line: it hands the transport to the app
in the scope's extensions. Served any other way, the transport is out of reach and a drop falls
back to a 1011 close (``GatewayConnection.abort``).
"""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

#: the scope extension that carries ``{"transport": <asyncio.Transport>}``
TRANSPORT_EXTENSION = "mjapi.simulator.transport"


class TransportExposingProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, with the TCP transport in the ASGI scope."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # ``scope`` exists once the handshake was accepted; the app task has not run yet
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = {"transport": self.transport}


def tcp_transport(websocket: WebSocket) -> asyncio.WriteTransport | None:
    """The transport under ``websocket``, when the server exposes it."""
    extension = websocket.scope.get("extensions", {}).get(TRANSPORT_EXTENSION, {})
    transport = extension.get("transport")
    return transport if isinstance(transport, asyncio.WriteTransport) else None
