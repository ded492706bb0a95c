"""Which account runs a new job: useapi's rule, as a pure function."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from mjapi.domain.accounts import Account


def free_slots(account: Account, running: int, max_jobs: int | None = None) -> int:
    return max(0, (max_jobs or account.max_jobs) - running)


def pick_account(
    accounts: Sequence[Account],
    running: Mapping[str, int],
    rng: random.Random,
    max_jobs: int | None = None,
) -> Account | None:
    """A random eligible account with a free slot, or None when every one is full.

    ``max_jobs`` is the request's override of each account's own limit (useapi's per-call
    ``maxJobs``).
    """
    candidates = [
        a for a in accounts if a.eligible and free_slots(a, running.get(a.channel, 0), max_jobs)
    ]
    return rng.choice(candidates) if candidates else None
