"""Job responses, encoded once per job version instead of on every read.

A job is polled far more often than it changes: the same version is read many times, and the
useapi job model plus its JSON encoding are a sizeable share of a ``GET /v2/jobs/?jobid=``.
``JobBodies`` remembers the encoded body of the last version of each recently read job. A cached
body is used only for the very job it was made from: the same object (the engine hands out the
object it holds until the job changes) or an equal one (a fresh store read of an unchanged job).
Any change (status, progress, a new child, ...) makes the job unequal, so a stale body is never
served. That makes the cache a memo of a pure function: sharing it between apps is harmless.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fastapi.responses import Response

from mjapi import jsontext
from mjapi.domain.jobs import Job
from mjapi.domain.model import job_model

#: Jobs whose body is kept (about 1.2 KB each besides the job, which the engine holds anyway
#: while it is running or recent): the jobs read in the last seconds to minutes at the scale
#: issue 6 targets (3,000 concurrent jobs), near 6 MB of bodies.
CACHED_BODIES = 5_000


def encode(content: Any) -> bytes:
    """``content`` as JSONResponse encodes it (compact, UTF-8), through orjson (``jsontext``)."""
    return jsontext.dumps_bytes(content)


def json_response(body: bytes, status: int = 200) -> Response:
    """An already encoded JSON body with the headers JSONResponse gives it."""
    return Response(body, status_code=status, media_type="application/json")


def json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    """The ASGI headers of ``json_response(body)``, without making a Response."""
    return [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]


class JobBodies:
    """The encoded useapi job model of recently read jobs, at most ``capacity`` of them."""

    def __init__(self, capacity: int = CACHED_BODIES) -> None:
        self._capacity = max(1, capacity)
        self._entries: OrderedDict[str, tuple[Job, int, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def body(self, job: Job, code: int = 200) -> bytes:
        """``encode(job_model(job, code))``, from the cache when this version was encoded."""
        entry = self._entries.get(job.jobid)
        # Identity first: the common case, and far cheaper than comparing every field.
        if entry is not None and entry[1] == code and (entry[0] is job or entry[0] == job):
            self._entries.move_to_end(job.jobid)
            return entry[2]
        body = encode(job_model(job, code))
        self._entries[job.jobid] = (job, code, body)
        self._entries.move_to_end(job.jobid)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return body
