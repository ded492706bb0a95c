from __future__ import annotations

import random

from mjapi.domain.scheduling import pick_account
from tests.factories import make_account


def test_picks_only_accounts_with_free_slots() -> None:
    full = make_account(channel="1", max_jobs=2)
    free = make_account(channel="2", max_jobs=2)
    for seed in range(20):
        chosen = pick_account([full, free], {"1": 2, "2": 1}, random.Random(seed))
        assert chosen is not None and chosen.channel == "2"


def test_none_when_every_account_is_full() -> None:
    accounts = [make_account(channel="1", max_jobs=1), make_account(channel="2", max_jobs=3)]
    assert pick_account(accounts, {"1": 1, "2": 3}, random.Random(0)) is None


def test_request_max_jobs_overrides_the_account_limit() -> None:
    account = make_account(max_jobs=3)
    assert pick_account([account], {"100": 1}, random.Random(0), max_jobs=1) is None
    assert pick_account([account], {"100": 4}, random.Random(0), max_jobs=5) is account


def test_accounts_waiting_for_moderation_or_disabled_are_skipped() -> None:
    flagged = make_account(channel="1", pending_mod_message="Action needed")
    disabled = make_account(channel="2", disabled_reason="token rejected")
    assert pick_account([flagged, disabled], {}, random.Random(0)) is None


def test_choice_is_spread_over_free_accounts() -> None:
    accounts = [make_account(channel=str(i)) for i in range(3)]
    rng = random.Random(7)
    picks = [pick_account(accounts, {}, rng) for _ in range(60)]
    assert {p.channel for p in picks if p is not None} == {"0", "1", "2"}
