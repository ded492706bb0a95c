"""Recently read or finished jobs, kept in memory so that reading them costs no store round trip.

The engine serves running jobs from memory; a finished job lives only in the store, and clients
read it again and again (the poll that sees ``completed``, the result fetch, the parent of every
button click). ``RecentJobs`` is a least-recently-used map of such jobs, by id.

A finished job still changes in one way: ``add_child`` appends to its children in the store. The
engine then discards the entry. A store read that was in flight during that change carries the
old children; ``put(job, read_at=stamp)`` with the ``stamp`` taken before the read refuses it,
so a discarded version is never cached again. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict

from mjapi.domain.jobs import Job

#: Jobs kept. A cached finished job costs about 5 KB (measured with tracemalloc on an upscalable
#: imagine job), so this bounds the cache near 25 MB. It covers the jobs that ended in the last
#: minute or two at 3,000 concurrent jobs, the reads that repeat; older reads go to the store.
RECENT_JOBS = 5_000


class RecentJobs:
    """A least-recently-used map of jobs by id, at most ``capacity`` of them."""

    def __init__(self, capacity: int = RECENT_JOBS) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._discards = 0

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def stamp(self) -> int:
        """Changes with every ``discard``: take it before a store read, pass it to ``put``."""
        return self._discards

    def get(self, jobid: str) -> Job | None:
        """The cached job (now the most recently used), or None."""
        job = self._jobs.get(jobid)
        if job is not None:
            self._jobs.move_to_end(jobid)
        return job

    def put(self, job: Job, *, read_at: int | None = None) -> None:
        """Cache ``job``, replacing any version of it; the least recently used beyond capacity go.

        ``read_at``: the ``stamp`` taken before the store read that produced ``job``. If a job
        was discarded since, the read may predate that change and is not cached (cheap to miss,
        wrong to keep). Without it, ``job`` is known to be the newest version.
        """
        if read_at is not None and read_at != self._discards:
            return
        self._jobs[job.jobid] = job
        self._jobs.move_to_end(job.jobid)
        while len(self._jobs) > self._capacity:
            self._jobs.popitem(last=False)

    def discard(self, jobid: str) -> None:
        """Forget the job (its stored version changed); reads in flight will not be cached."""
        self._jobs.pop(jobid, None)
        self._discards += 1
