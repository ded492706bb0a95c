"""What the bot remembers of its finished messages, so their buttons can be played later.

A result is kept per message id (the message a button sits on) with the pictures it shows; the
registry is bounded like the CDN, the oldest results are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

from PIL import Image


class ResultKind(Enum):
    #: a 2×2 grid (imagine, variations, zoom, pan, blend, region)
    GRID = "grid"
    #: "Image #N": one image picked from a grid (U1-U4)
    SINGLE = "single"
    #: "Upscaled (...)": an upscaler's output
    UPSCALED = "upscaled"
    #: a batch of videos (imagine --video, Animate, Extend)
    VIDEO_BATCH = "video_batch"
    #: "Video #N": one video picked from a batch
    VIDEO_SINGLE = "video_single"
    #: a /describe answer (four prompts)
    DESCRIBE = "describe"


@dataclass
class JobResult:
    """One finished bot message and what its buttons act on."""

    message_id: str
    channel_id: str
    user_id: str
    job_hash: str
    #: the prompt as the message shows it between ``**``
    prompt: str
    kind: ResultKind
    #: the images the message shows: 4 (or the batch size) cells of a grid, else one
    cells: tuple[Image.Image, ...] = ()
    #: /describe: the four suggested prompts
    suggestions: tuple[str, ...] = ()
    #: "high" | "low" for videos
    motion: str = "low"
    #: custom_ids already clicked (U1-U4 picks are played once per grid, like Midjourney)
    clicked: set[str] = field(default_factory=set)

    @property
    def square(self) -> bool:
        width, height = self.cells[0].size
        return width == height


class ResultRegistry:
    """Results by message id, bounded."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._by_message: OrderedDict[str, JobResult] = OrderedDict()

    def add(self, result: JobResult) -> None:
        self._by_message[result.message_id] = result
        while len(self._by_message) > self._limit:
            self._by_message.popitem(last=False)

    def by_message(self, message_id: str) -> JobResult | None:
        return self._by_message.get(message_id)

    def by_hash(self, job_hash: str) -> JobResult | None:
        return next((r for r in self._by_message.values() if r.job_hash == job_hash), None)

    def __len__(self) -> int:
        return len(self._by_message)
