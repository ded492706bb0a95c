"""What the engine needs from its collaborators besides the store and the transport."""

from __future__ import annotations

from typing import Any, Protocol


class Callbacks(Protocol):
    """Delivers job callbacks to ``replyUrl`` in the background, in order per job."""

    def send(self, jobid: str, url: str, body: dict[str, Any]) -> None: ...
