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
  at once as before; cyclic garbage waits a little longer (a few MB at most).

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
YOUNG = 50_000
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
