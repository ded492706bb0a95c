"""What mjapi needs from a store, whichever database is behind it.

Every implementation must pass ``tests/contract``. Job status changes are conditional: a store
writes a job only when its stored status may move to the new one (``domain.jobs.predecessors``),
in the UPDATE itself, so a late or duplicate event can never move a terminal job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mjapi.domain.accounts import Account
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

    async def save_job(self, job: Job) -> bool:
        """Write ``job`` if the stored status may move to ``job.status``; False otherwise."""
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


class Store(JobStore, AccountStore, TokenStore, Protocol):
    """One database holding everything."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""
        ...

    async def close(self) -> None: ...
