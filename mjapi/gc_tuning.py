"""Garbage-collector and GIL settings for a server process (``mjapi serve``).

CPython frees almost everything by reference counting; its cyclic collector only finds cycles.
With the default thresholds (a collection of the youngest objects every 700 allocations, older
generations every 10 of those) a busy server spent a third of its time collecting: measured
with ``bench.scale`` at 3,000 concurrent jobs, 36 % of wall time in the collector, 14 % at 1,000
(``server GC % of wall``). Every Discord event allocates a few hundred objects, jobs live for
tens of seconds, so each young collection promoted live jobs, and the full collections that
followed walked the whole heap, modules and all.

``tune_for_server`` (called once, before serving):

- ``gc.freeze()`` moves everything that exists at start (modules, classes, settings: most of
  the heap of a fresh process) out of the collector's sight for good;
- young collections every ``YOUNG`` allocations instead of 700. Garbage without cycles is freed
  at once as before; cyclic garbage waits longer (tens of MB at most, and the server makes
  little: at 3,000 jobs no young collection found any). A young collection stops the whole
  process for as long as it takes to walk the young objects still alive, and at 3,000 jobs
  that is most of the jobs' state (each event replaces a job's Job object, its buttons, its
  attachments): measured 70-140 ms whether the threshold was 50,000 or 200,000, because the
  count is of allocations minus deallocations. So a higher threshold makes the same pauses
  rarer (at 3,000 jobs every ~50 s instead of every 6-10 s) -- and a lower one more frequent
  without making them much shorter (5,000: 9 % of the time in the collector, pauses still up
  to 76 ms). Those pauses were what set the event lag's p99 (bench/README.md, sixth pass).

- the GIL's switch interval, ``SWITCH_INTERVAL`` instead of 5 ms. The SQLite store's thread
  gives the GIL up for every step of every statement and must take it back from the event
  loop's thread. While the loop is busy, each take waits for the switch interval; with 5 ms a
  batch of 500 writes (a few thousand steps) spent most of its time waiting, and at 3,000
  concurrent jobs the store's writes took 300+ ms on average. At 0.5 ms they took 35-45 ms,
  with the server using less CPU (``bench.scale``, see bench/README.md); a shorter interval
  interrupts the loop more often for no measured gain. Nothing changes while only one thread
  has work: the interval only matters when a second thread asks for the GIL.

It changes the whole process, so it belongs to the process that owns it (the CLI), not to the
app: an application that embeds mjapi keeps its own settings.
"""

from __future__ import annotations

import gc
import sys

#: allocations (minus deallocations) between two collections of the youngest generation
YOUNG = 200_000
#: young collections between two collections of the middle generation
MIDDLE = 20
#: middle collections between two full ones (CPython adds its own 25 %-growth condition)
OLD = 100
#: seconds a thread waiting for the GIL lets the holder run before asking it to switch
SWITCH_INTERVAL = 0.0005


def tune_for_server() -> None:
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
    sys.setswitchinterval(SWITCH_INTERVAL)
