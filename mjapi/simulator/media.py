"""A job's pictures and files, made in one go in a worker thread.

A job shows a preview per progress update and a file at the end. Making them all at once, when
the job starts, costs one thread hop per job instead of one per message: at thousands of running
jobs the hops (thread-pool submit, future chaining, loop wake-up) cost more than the tiny
previews a load test draws. The bytes are the same as if each were made when shown.

With ``SimulatorConfig.image_variants`` jobs share their media: an /imagine shows one of N
variants, made once and then kept in a ``MediaCache``. Shared media are never changed (neither
are any job's pictures: follow-up operations make new images from them).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from PIL import Image

from mjapi.simulator.render import encode_png, render_preview


@dataclass(frozen=True)
class Rendered:
    """A job's output: the cells (for follow-up buttons), the whole picture, the video if any."""

    cells: list[Image.Image]
    picture: Image.Image
    video: bytes | None = None


@dataclass(frozen=True)
class ResultFile:
    """The file the result message attaches."""

    data: bytes
    extension: str
    content_type: str


@dataclass(frozen=True)
class JobMedia:
    """Everything a job will show."""

    rendered: Rendered
    #: progress percent -> the webp preview of that update
    previews: dict[int, bytes]
    #: None when the job was known not to deliver a result (a fault stops it before)
    result: ResultFile | None


def make_media(
    render: Callable[[], Rendered],
    points: Iterable[int],
    preview_side: int,
    *,
    with_result: bool,
) -> JobMedia:
    """Render the job, its previews at ``points`` (longer side ``preview_side``) and, if
    ``with_result``, its result file (the video, else the picture as PNG). Blocking: call it in
    a worker thread."""
    rendered = render()
    previews = {point: render_preview(rendered.picture, point, preview_side) for point in points}
    return JobMedia(rendered, previews, result_file(rendered) if with_result else None)


def result_file(rendered: Rendered) -> ResultFile:
    """The result's file: the batch's MP4 for a video, else the picture as PNG."""
    if rendered.video is not None:
        return ResultFile(rendered.video, "mp4", "video/mp4")
    return ResultFile(encode_png(rendered.picture), "png", "image/png")


def variant_seed(job_hash: str, variants: int) -> str:
    """The text a job's pictures are drawn from when they are one of ``variants`` (>= 1)."""
    number = int.from_bytes(hashlib.sha256(job_hash.encode()).digest()[:4], "big") % variants
    return f"variant {number}"


class MediaCache:
    """Media shared between jobs, by key; at most ``limit`` kept, the least recently used go."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a media cache keeps at least one entry")
        self._limit = limit
        self._entries: OrderedDict[Hashable, JobMedia] = OrderedDict()

    def get(self, key: Hashable) -> JobMedia | None:
        media = self._entries.get(key)
        if media is not None:
            self._entries.move_to_end(key)
        return media

    def put(self, key: Hashable, media: JobMedia) -> None:
        self._entries[key] = media
        self._entries.move_to_end(key)
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
