"""``tune_for_server`` sets the collector and the GIL switch interval of the process it runs in.

It changes process-wide state, so it runs in a child process rather than in the test's.
"""

from __future__ import annotations

import json
import subprocess
import sys

from mjapi import gc_tuning

PROBE = """
import gc, json, sys
from mjapi import gc_tuning
before = sys.getswitchinterval()
gc_tuning.tune_for_server()
print(json.dumps({
    "before": before,
    "switch": sys.getswitchinterval(),
    "threshold": gc.get_threshold(),
    "frozen": gc.get_freeze_count(),
}))
"""


def test_tune_for_server_sets_thresholds_freezes_the_heap_and_shortens_the_switch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    seen = json.loads(done.stdout)
    assert seen["before"] == 0.005  # CPython's default: the probe starts untuned
    assert seen["switch"] == gc_tuning.SWITCH_INTERVAL < seen["before"]
    assert tuple(seen["threshold"]) == (gc_tuning.YOUNG, gc_tuning.MIDDLE, gc_tuning.OLD)
    assert seen["frozen"] > 0
