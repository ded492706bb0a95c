"""Midjourney's error embeds and what each one means for the job and the account (pure).

Reference §4 lists the embed titles Midjourney answers with; this module is the one place that
decides, for each, whether the prompt was refused (``moderated``, useapi 422), the job simply failed
(Midjourney's text in ``errorDetails``), Midjourney's own queue is full (429), or the *account*
needs its owner (moderation notice, CAPTCHA: ``pendingModMessage``, 596) or is unusable (blocked,
no subscription, credits exhausted: disabled).

"Job queued" is not here: it is not an error (the job starts later) and has its own message kind.
"""

from __future__ import annotations

from mjapi.domain.events import FailReason

#: Midjourney refused the prompt or the image.
MODERATION_TITLES = frozenset(
    {
        "Banned prompt detected",
        "Banned prompt",
        "Banned image prompt",
        "Request cancelled due to output filters",
    }
)

#: The job cannot run as asked; nothing is wrong with the account.
JOB_ERROR_TITLES = frozenset(
    {
        "Invalid parameter",
        "Invalid prompt",
        "Invalid link",
        "Invalid image",
        "Empty prompt",
        "Invalid request",
        "Duplicate images detected",
        "Job action restricted",
    }
)

QUEUE_FULL_TITLE = "Queue full"

#: Midjourney wants a human on the account before it takes more work (useapi: pendingModMessage).
FLAGGING_TITLES = frozenset(
    {
        "Action needed to continue",
        "Pending mod message",
        "Action required to continue",
        "Please complete the task",
        "Tos not accepted",
    }
)

#: The account cannot be used until its owner changes something outside mjapi.
DISABLING_TITLES = frozenset(
    {
        "Blocked",
        "Subscription required",
        "Plan Cancelled",
        "Subscription paused",
        "Credits exhausted",
    }
)

#: Every title that ends a job (a red embed with another title is an error too, see interpret).
ERROR_TITLES = (
    MODERATION_TITLES
    | JOB_ERROR_TITLES
    | FLAGGING_TITLES
    | DISABLING_TITLES
    | frozenset({QUEUE_FULL_TITLE})
)

#: The CAPTCHA challenge: a title mentioning "continue" and this phrase in the description (§4).
_CAPTCHA_PHRASE = "verify you're human"


def is_captcha(title: str | None, description: str | None) -> bool:
    """True for Midjourney's "are you human" challenge, whatever its exact title."""
    return "continue" in (title or "").lower() and _CAPTCHA_PHRASE in _plain(description)


def classify(title: str | None, description: str | None) -> FailReason:
    """What an error embed with this title and description means (unknown titles: ERROR)."""
    if title in MODERATION_TITLES:
        return FailReason.MODERATED
    if title == QUEUE_FULL_TITLE:
        return FailReason.QUEUE_FULL
    if title in FLAGGING_TITLES or is_captcha(title, description):
        return FailReason.ACCOUNT_FLAGGED
    if title in DISABLING_TITLES:
        return FailReason.ACCOUNT_DISABLED
    return FailReason.ERROR


def account_notice(title: str | None, description: str | None) -> str:
    """The text an account-level embed leaves for its owner (``pendingModMessage``, reason)."""
    parts = [p.strip() for p in (title, description) if p and p.strip()]
    return ": ".join(parts) or "Midjourney asked for the account owner's attention"


def _plain(text: str | None) -> str:
    # Midjourney writes a typographic apostrophe in some versions of the CAPTCHA text.
    return (text or "").lower().replace("\u2019", "'")
