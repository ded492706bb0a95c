"""What the engine needs from its collaborators besides the store and the transport."""

from __future__ import annotations

from typing import Any, Protocol

from mjapi.transports.base import Upload


class Callbacks(Protocol):
    """Delivers job callbacks to ``replyUrl`` in the background, in order per job."""

    def send(self, jobid: str, url: str, body: dict[str, Any]) -> None: ...


class Fetcher(Protocol):
    """Downloads the images a client names by URL (blend, describe)."""

    async def image(self, url: str) -> Upload:
        """The image at ``url``; raises ``BadRequest`` when it cannot be retrieved."""
        ...
