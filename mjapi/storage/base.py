"""What mjapi needs from a store, whichever database is behind it.

Every implementation must pass ``tests/contract``. Job status changes are conditional: a store
writes a job only when its stored status may move to the new one (``domain.jobs.predecessors``),
in the UPDATE itself, so a late or duplicate event can never move a terminal job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.domain.jobs import Child, Job


@dataclass(frozen=True)
class ApiToken:
    """A stored API token: only its hash is kept."""

    token_hash: str
    user_id: int
    created: datetime
    label: str | None = None


@dataclass(frozen=True)
class UserProfile:
    """Account-wide settings of one API user (``GET``/``POST /v2/account``)."""

    user_id: int
    created: datetime
    name: str | None = None
    #: the default callback for calls that do not pass their own ``replyUrl``
    reply_url: str | None = None


class JobStore(Protocol):
    """Jobs, keyed by jobid."""

    async def insert_job(self, job: Job) -> None:
        """Store a new job (raises ``mjapi.errors.DuplicateKey`` when the jobid exists)."""
        ...

    async def get_job(self, jobid: str) -> Job | None: ...

    async def save_job(self, job: Job, delivery: Delivery | None = None) -> bool:
        """Write ``job`` if the stored status may move to ``job.status``; False otherwise.

        ``delivery`` (the callback reporting this change) is inserted in the same transaction,
        only when the job was written: a change and its callback are stored together or not at
        all (the outbox).
        """
        ...

    async def unfinished_jobs(self, owner: int | None = None) -> list[Job]:
        """Jobs not yet terminal (all owners when ``owner`` is None), oldest first."""
        ...

    async def add_child(self, parent_jobid: str, child: Child) -> bool:
        """Append ``child`` to the parent's children whatever the parent's status.

        Atomic: concurrent calls never lose a child. False when the parent does not exist.
        """
        ...


class AccountStore(Protocol):
    """Midjourney accounts, keyed by channel."""

    async def put_account(self, account: Account) -> bool:
        """Insert or replace; True when it was new."""
        ...

    async def get_account(self, channel: str) -> Account | None: ...

    async def list_accounts(self, owner: int | None = None) -> list[Account]:
        """All accounts (of ``owner`` when given), ordered by channel."""
        ...

    async def delete_account(self, channel: str) -> bool: ...


class TokenStore(Protocol):
    """API tokens (hashed) and the users they identify."""

    async def add_token(self, token: ApiToken) -> None: ...

    async def token_owner(self, token_hash: str) -> int | None: ...

    async def next_user_id(self) -> int:
        """A user id never handed out before."""
        ...

    async def get_profile(self, user_id: int) -> UserProfile | None: ...

    async def put_profile(self, profile: UserProfile) -> None:
        """Insert or replace the user's profile."""
        ...


class DeliveryStore(Protocol):
    """The webhook outbox: deliveries, their attempts, and each user's signing secret."""

    async def pending_deliveries(self) -> list[Delivery]:
        """Every ``pending`` delivery with its attempts, in creation order (``seq``)."""
        ...

    async def record_attempt(
        self,
        event_id: str,
        attempt: Attempt,
        status: DeliveryStatus,
        next_attempt: datetime,
        superseded: Sequence[str] = (),
    ) -> None:
        """Store one attempt and the delivery's resulting status and next due time.

        ``superseded``: deliveries of the same job that newer ones made pointless (``Outbox``),
        deleted with the attempt, atomically (kept when the call fails) -- each only while it
        is ``pending`` and has no recorded attempt: one a receiver has seen stays. One gone
        already, or attempted meanwhile, does not change the call's outcome.
        """
        ...

    async def get_delivery(self, event_id: str) -> Delivery | None:
        """The delivery with its attempts (oldest first)."""
        ...

    async def list_deliveries(
        self,
        owner: int,
        *,
        jobid: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """The owner's deliveries, newest first (``seq`` descending), with their attempts."""
        ...

    async def replay_delivery(
        self, event_id: str, next_attempt: datetime, expires: datetime
    ) -> Delivery | None:
        """Make a delivery ``pending`` again (same event id, attempts kept); None if unknown."""
        ...

    async def prune_deliveries(self, before: datetime) -> int:
        """Delete delivered and failed deliveries created before ``before``; how many went."""
        ...

    async def webhook_secret(self, user_id: int) -> str | None:
        """The user's callback signing secret (stored encrypted), None before the first."""
        ...

    async def put_webhook_secret(self, user_id: int, secret: str) -> None:
        """Set (or replace) the user's signing secret."""
        ...


class Store(JobStore, AccountStore, TokenStore, DeliveryStore, Protocol):
    """One database holding everything."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""
        ...

    async def close(self) -> None: ...
