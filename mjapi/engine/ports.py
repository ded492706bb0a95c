"""What the engine needs from its collaborators besides the store and the transport."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mjapi.domain.deliveries import Delivery
from mjapi.domain.jobs import Job
from mjapi.transports.base import Upload


class Callbacks(Protocol):
    """The webhook outbox: callbacks are stored with the job change, then delivered."""

    def prepare(self, job: Job, now: datetime) -> Delivery:
        """The callback reporting ``job`` as it is now (stored by ``Store.save_job``)."""
        ...

    def enqueue(self, delivery: Delivery) -> None:
        """Deliver a stored callback in the background, after the job's earlier ones."""
        ...


class Fetcher(Protocol):
    """Downloads the images a client names by URL (blend, describe)."""

    async def image(self, url: str) -> Upload:
        """The image at ``url``; raises ``BadRequest`` when it cannot be retrieved."""
        ...
