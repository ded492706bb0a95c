"""Which of a caller's accounts a job may use, and the error when none may (useapi §8)."""

from __future__ import annotations

from collections.abc import Sequence

from mjapi.domain.accounts import Account
from mjapi.errors import AccountDisabled, MjapiError, PendingModeration


def require_usable(accounts: Sequence[Account]) -> list[Account]:
    """The accounts in rotation; 596 when there are accounts but none of them is usable."""
    usable = [a for a in accounts if a.eligible]
    if accounts and not usable:
        raise unusable_error(accounts)
    return usable


def unusable_error(accounts: Sequence[Account]) -> MjapiError:
    """Why no account can take the call: a pending moderation message wins (useapi's 596)."""
    if any(a.pending_mod_message for a in accounts):
        return PendingModeration()
    reasons = "; ".join(f"{a.channel}: {a.disabled_reason}" for a in accounts if a.disabled_reason)
    return AccountDisabled(
        f"Midjourney account disabled ({reasons}). Fix it, then POST "
        "/v2/account/midjourney/{channel}/reset or update the discord token"
    )
