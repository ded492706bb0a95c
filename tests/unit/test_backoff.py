"""Backoff: exponential ceiling, full jitter from the injected RNG, cap, reset."""

from __future__ import annotations

import random

import pytest

from mjapi.transports.discord.backoff import Backoff, ReconnectPolicy


class FixedRandom(random.Random):
    """uniform(a, b) always picks the same fraction of the range."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def test_ceiling_doubles_until_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=10.0, rng=FixedRandom(1.0))
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_full_jitter_uses_the_whole_range() -> None:
    backoff = Backoff(base=2.0, cap=60.0, rng=FixedRandom(0.5))
    assert [backoff.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]


def test_delays_stay_within_zero_and_the_ceiling() -> None:
    backoff = Backoff(base=0.5, cap=30.0, rng=random.Random(7))
    for _ in range(200):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert 0.0 <= delay <= ceiling <= 30.0


def test_reset_starts_again_from_base() -> None:
    backoff = Backoff(base=1.0, cap=60.0, rng=FixedRandom(1.0))
    for _ in range(5):
        backoff.next_delay()
    assert backoff.attempt == 5

    backoff.reset()

    assert backoff.attempt == 0
    assert backoff.next_delay() == 1.0


def test_a_long_outage_does_not_overflow() -> None:
    backoff = Backoff(base=1.0, cap=60.0, rng=FixedRandom(1.0))
    for _ in range(5000):
        backoff.next_delay()
    assert backoff.next_delay() == 60.0


def test_same_seed_same_delays() -> None:
    first = Backoff(rng=random.Random(3))
    second = Backoff(rng=random.Random(3))
    assert [first.next_delay() for _ in range(8)] == [second.next_delay() for _ in range(8)]


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (5.0, 1.0)])
def test_nonsense_parameters_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        Backoff(base=base, cap=cap)


# -- ReconnectPolicy: the runner's pause between connections ----------------------------------


def policy(fraction: float = 1.0) -> ReconnectPolicy:
    return ReconnectPolicy(Backoff(base=1.0, cap=60.0, rng=FixedRandom(fraction)))


def test_failed_connections_back_off_exponentially_up_to_the_cap() -> None:
    p = policy()
    delays = [p.delay(asked=0.0, ready=False) for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_a_connection_that_got_ready_starts_the_backoff_over() -> None:
    # Routine drops (op 7, a lost socket) after a working session reconnect within a second,
    # however often they come: the account's running jobs are waiting for their events.
    p = policy()
    for _ in range(5):
        p.delay(asked=0.0, ready=False)
    assert [p.delay(asked=0.0, ready=True) for _ in range(3)] == [1.0, 1.0, 1.0]
    assert p.delay(asked=0.0, ready=False) == 2.0


def test_the_protocol_may_ask_for_a_longer_pause() -> None:
    p = policy(fraction=0.0)  # backoff alone would reconnect at once
    assert p.delay(asked=0.7, ready=True) == 0.7  # op 9's random pause, a 429's retry_after
    assert p.delay(asked=0.0, ready=False) == 0.0
