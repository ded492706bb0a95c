"""Which gateway connections are READY, per user, and fan-out of dispatches to them."""

from __future__ import annotations

from typing import Any, Protocol

from mjapi.simulator.gateway_session import GatewaySession


class DispatchTarget(Protocol):
    """A READY connection that can be sent a dispatch."""

    @property
    def session(self) -> GatewaySession | None: ...

    def dispatch(self, event: str, data: Any) -> None: ...


class GatewayHub:
    """Sends each event to every READY session of the user it concerns."""

    def __init__(self) -> None:
        self._by_user: dict[str, list[DispatchTarget]] = {}

    def add(self, user_id: str, target: DispatchTarget) -> None:
        self._by_user.setdefault(user_id, []).append(target)

    def remove(self, user_id: str, target: DispatchTarget) -> None:
        targets = self._by_user.get(user_id, [])
        if target in targets:
            targets.remove(target)

    def dispatch(self, user_id: str, event: str, data: Any) -> None:
        """Queue ``event`` on every READY connection of the user (none: the event is lost)."""
        for target in list(self._by_user.get(user_id, [])):
            target.dispatch(event, data)

    def sessions(self, user_id: str) -> list[GatewaySession]:
        """The user's live sessions."""
        targets = self._by_user.get(user_id, [])
        return [t.session for t in targets if t.session is not None]
