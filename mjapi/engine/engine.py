"""The engine: routes jobs to accounts, submits them, and applies what Midjourney reports.

Every change to a job goes through ``_mutate``: read the newest version, compute the next one with
a pure function, write it with the store's conditional update, then run the after-effects (wake a
waiting POST, free the slot, send the callback). Changes to one job are serialized by a lock, so the
event consumer, the watchdog and request handlers never overwrite each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime

from mjapi.clock import Clock
from mjapi.domain.accounts import DEFAULT_MAX_JOBS, Account
from mjapi.domain.events import JobEvent
from mjapi.domain.jobs import Job, JobStatus
from mjapi.domain.lifecycle import apply_event, expire
from mjapi.domain.model import JobIdFactory, job_model
from mjapi.domain.scheduling import pick_account
from mjapi.engine.ports import Callbacks
from mjapi.engine.requests import ImagineRequest, JobOptions
from mjapi.engine.slots import AccountSlots
from mjapi.engine.watchdog import STALE_ERROR, overdue
from mjapi.errors import Busy, Conflict, MjapiError, NotFound, PendingModeration
from mjapi.logs import register_secret
from mjapi.storage.base import Store
from mjapi.transports.base import Transport

log = logging.getLogger(__name__)

#: Pauses between attempts to apply an event while the store fails.
EVENT_RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0)
NO_CONFIGURATION = "Configuration not found. To create configuration use POST account/midjourney."


class Engine:
    """Accounts, slots and the life of every job."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        callbacks: Callbacks,
        clock: Clock,
        *,
        ack_timeout: float = 30.0,
        job_timeout: float = 900.0,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._callbacks = callbacks
        self._clock = clock
        self._ack_timeout = ack_timeout
        self._job_timeout = job_timeout
        self._rng = rng or random.Random()
        self._slots = AccountSlots()
        self._ids = JobIdFactory()
        self._live: dict[str, Job] = {}
        self._acks: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load unfinished jobs, connect every usable account, start the background loops."""
        for job in await self._store.unfinished_jobs():
            self._track(job)
        accounts = [a for a in await self._store.list_accounts() if a.eligible]
        await asyncio.gather(*(self._attach_quietly(a) for a in accounts))
        self._tasks = [
            asyncio.create_task(self._consume_events(), name="engine events"),
            asyncio.create_task(self._watch(), name="engine watchdog"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _attach_quietly(self, account: Account) -> None:
        register_secret(account.discord_token)
        try:
            await self._transport.attach(account)
        except MjapiError as exc:
            log.warning("account %s could not connect: %s", account.channel, exc.message)

    # -- accounts ---------------------------------------------------------------------------

    async def add_account(
        self, owner: int, token: str, max_jobs: int | None
    ) -> tuple[Account, bool]:
        """Discover the token's Midjourney channel, connect it, store it; True when new."""
        identity = await self._transport.identify(token)
        # Only tokens Discord accepted are remembered for redaction: the set stays bounded by
        # the number of real accounts, not by what clients post.
        register_secret(token)
        existing = await self._store.get_account(identity.dm_channel_id)
        if existing is not None and existing.owner != owner:
            raise Conflict(f"Channel {identity.dm_channel_id} is configured by another user")
        now = self._clock.now()
        account = Account(
            channel=identity.dm_channel_id,
            owner=owner,
            discord_token=token,
            discord_user_id=identity.user_id,
            max_jobs=max_jobs or (existing.max_jobs if existing else DEFAULT_MAX_JOBS),
            created=existing.created if existing else now,
            updated=now,
            pending_mod_message=existing.pending_mod_message if existing else None,
        )
        await self._transport.attach(account)
        try:
            created = await self._store.put_account(account)
        except BaseException:
            if existing is None:
                await self._transport.detach(account.channel)
            raise
        return account, created

    async def accounts(self, owner: int) -> list[Account]:
        return await self._store.list_accounts(owner)

    # -- jobs -------------------------------------------------------------------------------

    async def imagine(self, owner: int, request: ImagineRequest) -> Job:
        """Submit ``/imagine``; return the job once Midjourney acknowledged it (or time ran out)."""
        accounts = await self._candidates(owner, request.options)
        # From here to _track there is no await: choosing the account and taking its slot is
        # atomic with respect to other requests.
        account = self._choose(accounts, request.options)
        now = self._clock.now()
        job = Job(
            jobid=self._ids.make(now, owner, account.channel),
            owner=owner,
            verb="imagine",
            status=JobStatus.CREATED,
            created=now,
            updated=now,
            channel=account.channel,
            discord=account.masked_token,
            max_jobs=request.options.max_jobs or account.max_jobs,
            prompt=request.prompt,
            server=account.server,
            reply_url=request.options.reply_url,
            reply_ref=request.options.reply_ref,
        )
        self._track(job)
        await self._persist_new(job)
        try:
            nonce = await self._transport.imagine(account, job.jobid, request.prompt)
        except BaseException as exc:
            # Whatever went wrong (Discord refused, a bug, the request was cancelled), the job
            # must end and free its slot. The client gets the error, not a job, so no callback.
            refusal = exc
            now = self._clock.now()
            await asyncio.shield(
                self._mutate(job.jobid, lambda j: _failed(j, refusal, now), notify=False)
            )
            raise
        await self._mutate(job.jobid, lambda j: _with_nonce(j, nonce))
        return await self._acknowledged(job.jobid)

    async def job(self, owner: int, jobid: str) -> Job:
        job = self._live.get(jobid) or await self._store.get_job(jobid)
        if job is None or job.owner != owner:
            raise NotFound(f"Unable to locate job {jobid}")
        return job

    def running(self, owner: int) -> list[str]:
        """Ids of the caller's jobs that have not ended, oldest first."""
        return [j.jobid for j in sorted(self._live.values(), key=_age) if j.owner == owner]

    async def _candidates(self, owner: int, options: JobOptions) -> list[Account]:
        """The accounts a new job may use: the one named by ``channel``, else all of them."""
        accounts = await self._store.list_accounts(owner)
        if options.channel is not None:
            accounts = [a for a in accounts if a.channel == options.channel]
        if not accounts:
            raise NotFound(NO_CONFIGURATION)
        if options.channel is not None and accounts[0].pending_mod_message:
            raise PendingModeration()
        if all(a.pending_mod_message for a in accounts):
            raise PendingModeration()
        return accounts

    def _choose(self, accounts: list[Account], options: JobOptions) -> Account:
        account = pick_account(accounts, self._slots.counts(), self._rng, options.max_jobs)
        if account is None:
            raise Busy(sorted(j for a in accounts for j in self._slots.running(a.channel)))
        return account

    async def _persist_new(self, job: Job) -> None:
        try:
            await self._store.insert_job(job)
        except BaseException:
            self._forget(job.jobid)
            raise

    async def _acknowledged(self, jobid: str) -> Job:
        ack = self._acks.get(jobid)
        if ack is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ack.wait(), self._ack_timeout)
        return self._live.get(jobid) or await self._require(jobid)

    async def _require(self, jobid: str) -> Job:
        job = await self._store.get_job(jobid)
        if job is None:
            raise NotFound(f"Unable to locate job {jobid}")
        return job

    # -- changes ----------------------------------------------------------------------------

    def _track(self, job: Job) -> None:
        self._live[job.jobid] = job
        self._acks.setdefault(job.jobid, asyncio.Event())
        self._slots.occupy(job.channel, job.jobid)

    def _forget(self, jobid: str) -> None:
        self._live.pop(jobid, None)
        self._locks.pop(jobid, None)
        self._slots.release(jobid)
        ack = self._acks.pop(jobid, None)
        if ack is not None:
            ack.set()

    async def _mutate(
        self, jobid: str, change: Callable[[Job], Job | None], *, notify: bool = True
    ) -> Job | None:
        """Apply ``change`` to the newest version of the job; None when it did not apply.

        Jobs that have ended get a throw-away lock: nothing can move them any more (the store
        refuses), so serializing is pointless and a stored lock would leak. For the same reason
        dropping a live job's lock when it ends is safe even if others still wait on it.
        """
        lock = self._locks.setdefault(jobid, asyncio.Lock()) if jobid in self._live else None
        async with lock or asyncio.Lock():
            current = self._live.get(jobid) or await self._store.get_job(jobid)
            if current is None:
                return None
            updated = change(current)
            if updated is None or not await self._store.save_job(updated):
                return None
            self._after_change(current, updated, notify)
            return updated

    def _after_change(self, before: Job, after: Job, notify: bool) -> None:
        if after.terminal:
            self._forget(after.jobid)
            self._transport.forget(after.channel, after.jobid)
        else:
            self._live[after.jobid] = after
        if after.status is not JobStatus.CREATED:
            ack = self._acks.pop(after.jobid, None)
            if ack is not None:
                ack.set()
        if notify and after.reply_url and _news(before, after):
            self._callbacks.send(after.jobid, after.reply_url, job_model(after))

    # -- background loops -------------------------------------------------------------------

    async def _consume_events(self) -> None:
        async for event in self._transport.events():
            await self._apply_with_retries(event)

    async def _apply_with_retries(self, event: JobEvent) -> None:
        """Apply one event; a failing store is retried so that a result is not dropped."""
        for delay in (*EVENT_RETRY_DELAYS, None):
            try:
                await self._on_event(event)
                return
            except Exception:
                log.exception("event for %s could not be applied", event.jobid)
            if delay is None:
                log.error("event for %s dropped after repeated store failures", event.jobid)
                return
            await asyncio.sleep(delay)

    async def _on_event(self, event: JobEvent) -> None:
        now = self._clock.now()
        await self._mutate(event.jobid, lambda job: apply_event(job, event, now))

    async def _watch(self) -> None:
        interval = max(0.05, min(30.0, self._job_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            await self.expire_overdue()

    async def expire_overdue(self) -> None:
        """Fail every running job that has had no news for longer than the job timeout."""
        now = self._clock.now()
        for job in overdue(list(self._live.values()), now, self._job_timeout):
            log.warning("job %s timed out", job.jobid)
            await self._mutate(job.jobid, lambda j: expire(j, now, STALE_ERROR))


def _age(job: Job) -> datetime:
    return job.created


def _with_nonce(job: Job, nonce: str) -> Job | None:
    # The gateway may already have moved the job on; then the nonce is no longer needed.
    return job.evolve(nonce=nonce) if job.status is JobStatus.CREATED else None


def _failed(job: Job, exc: BaseException, now: datetime) -> Job:
    if isinstance(exc, MjapiError):
        error, details = exc.message, exc.details
    else:
        error, details = "The job could not be submitted", type(exc).__name__
    return job.evolve(status=JobStatus.FAILED, updated=now, error=error, error_details=details)


def _news(before: Job, after: Job) -> bool:
    """Does the change carry something a callback receiver has not seen yet?"""
    return (before.status, before.progress, before.content) != (
        after.status,
        after.progress,
        after.content,
    )
