"""The engine: routes jobs to accounts, submits them, and applies what Midjourney reports.

Every change to a job goes through ``_mutate``: read the newest version, compute the next one with
a pure function, write it with the store's conditional update, then run the after-effects (wake a
waiting POST, free the slot, send the callback). Changes to one job are serialized by a lock, so the
event consumer, the watchdog and request handlers never overwrite each other.

Transport events are applied per job in arrival order, different jobs concurrently
(event_lanes.py); under load a job's intermediate progress reports (and their callbacks) may be
coalesced into the newest one. The accounts are served from memory (accounts.py), so a job POST
reads nothing from the store to choose its account.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime

from mjapi.clock import Clock
from mjapi.domain.accounts import Account
from mjapi.domain.deliveries import Delivery
from mjapi.domain.events import AccountDisabled, AccountFlagged, BackendEvent, JobEvent
from mjapi.domain.jobs import Child, Job, JobStatus
from mjapi.domain.lifecycle import apply_event, cancel, expire
from mjapi.domain.model import JobIdFactory
from mjapi.domain.scheduling import pick_account
from mjapi.engine import plans
from mjapi.engine.accounts import NO_CONFIGURATION, Accounts
from mjapi.engine.dispatch import Dispatcher
from mjapi.engine.event_lanes import EventLanes
from mjapi.engine.plans import Plan
from mjapi.engine.ports import Callbacks, Fetcher
from mjapi.engine.recent import RecentJobs
from mjapi.engine.recovery import LOST_ERROR, plan_recovery
from mjapi.engine.requests import (
    BlendRequest,
    ButtonRequest,
    DescribeRequest,
    ImagineRequest,
    JobOptions,
    SeedRequest,
    SettingRequest,
)
from mjapi.engine.resubmit import QUEUEABLE, Resubmitter
from mjapi.engine.routing import require_usable, unusable_error
from mjapi.engine.rules import button_to_click, require_seedable
from mjapi.engine.slots import AccountSlots
from mjapi.engine.verdicts import JobAnswered, Verdict, verdict_for
from mjapi.engine.watchdog import STALE_ERROR, overdue
from mjapi.errors import BadRequest, Busy, DiscordAuthError, MjapiError, NotFound
from mjapi.logs import register_secret
from mjapi.storage.base import Store
from mjapi.transports.base import Resumable, Setting, Transport, Upload

log = logging.getLogger(__name__)

#: Pauses between attempts to apply an event while the store fails.
EVENT_RETRY_DELAYS = (0.1, 0.5, 2.0, 5.0)
#: Verbs of the synchronous settings commands: they take no slot.
SETTING_VERBS = frozenset(s.value for s in Setting)
#: Seconds a client is told to wait after a 429 Busy (useapi: "wait at least 10..30 seconds").
BUSY_RETRY_AFTER = 10.0


class Engine:
    """Accounts, slots and the life of every job."""

    def __init__(
        self,
        store: Store,
        transport: Transport,
        callbacks: Callbacks,
        clock: Clock,
        *,
        fetcher: Fetcher | None = None,
        ack_timeout: float = 30.0,
        job_timeout: float = 900.0,
        rng: random.Random | None = None,
        queue_by_default: bool = False,
        queue_limit: int = 1000,
    ) -> None:
        self._store = store
        self._transport = transport
        self._callbacks = callbacks
        self._fetcher: Fetcher = fetcher or _NoFetcher()
        self._clock = clock
        self._ack_timeout = ack_timeout
        self._job_timeout = job_timeout
        self._rng = rng or random.Random()
        self._slots = AccountSlots()
        self._ids = JobIdFactory()
        self._live: dict[str, Job] = {}
        #: finished jobs recently read or ended, so that reading them again costs no store read
        self._recent = RecentJobs()
        #: set when a job leaves ``created`` (a POST may answer) and when it ends
        self._acks: dict[str, asyncio.Event] = {}
        self._ends: dict[str, asyncio.Event] = {}
        #: non-200 answers waiting POSTs collect (verdicts.py); only kept while one waits
        self._verdicts: dict[str, Verdict] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: account configuration (``/v2/account...``), kept in memory
        self.accounts = Accounts(store, transport, clock)
        #: the durable queue (its jobs are ``created`` rows in the store)
        self._dispatch = Dispatcher(
            self.accounts.find,
            self._slots,
            self._take_waiting,
            self._submit_waiting,
            self._fail_waiting,
        )
        self._room = self._dispatch.room
        self._queue_by_default = queue_by_default
        self._queue_limit = queue_limit
        self._resubmitter = Resubmitter(store, transport, self._fetcher)
        #: when the watchdog's count started afresh (left the queue, or resumed after a restart)
        self._restarted: dict[str, datetime] = {}
        self._recovered: set[str] = set()
        self._events = EventLanes(self._apply_with_retries)

    # -- life cycle -------------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The Midjourney backend the engine drives."""
        return self._transport

    async def start(self) -> None:
        """Resume what the last run left unfinished, connect the accounts, start the loops.

        Queued jobs wait for a slot again; submitted ones are handed to the transport, which
        finds them in their channel's history (recovery.py).
        """
        jobs = await self._store.unfinished_jobs()
        plan = plan_recovery(jobs, await self._parents_of(jobs))
        now = self._clock.now()
        for job in plan.to_dispatch:
            self._track(job, occupy=False)
            self._room.add(job.channel, job.owner, job.jobid)
            self._acks.pop(job.jobid, None)  # no POST waits for it any more
        by_id = {job.jobid: job for job in jobs}
        for resumables in plan.to_resume.values():
            for resumable in resumables:
                job = by_id[resumable.jobid]
                self._track(job, occupy=job.verb not in SETTING_VERBS)
                self._restarted[job.jobid] = now
                self._recovered.add(job.jobid)
                self._acks.pop(job.jobid, None)
        # Flagged accounts connect too: their running jobs must still end, only new work is
        # kept away. Disabled ones stay off until reset.
        accounts = [a for a in await self.accounts.load() if a.disabled_reason is None]
        await asyncio.gather(
            *(self._attach_quietly(a, plan.to_resume.get(a.channel, [])) for a in accounts)
        )
        self._tasks = [
            asyncio.create_task(self._consume_events(), name="engine events"),
            asyncio.create_task(self._watch(), name="engine watchdog"),
        ]
        for channel in self._room.channels():
            self._dispatch.soon(channel)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._events.close()
        await self._dispatch.stop()

    async def _parents_of(self, jobs: list[Job]) -> dict[str, Job]:
        ids = {j.parent_job_id for j in jobs if j.parent_job_id and j.nonce is not None}
        found = await asyncio.gather(*(self._store.get_job(i) for i in ids))
        return {p.jobid: p for p in found if p is not None}

    async def _attach_quietly(self, account: Account, resumables: list[Resumable]) -> None:
        register_secret(account.discord_token)
        try:
            if resumables:
                await self._transport.resume(account, resumables)
            await self._transport.attach(account)
        except DiscordAuthError as exc:
            await self.accounts.disable(account.channel, exc.message)
        except MjapiError as exc:
            log.warning("account %s could not connect: %s", account.channel, exc.message)

    # -- jobs -----------------------------------------------------------------------------------

    async def imagine(self, owner: int, request: ImagineRequest) -> Job:
        """Submit ``/imagine``; return the job once Midjourney acknowledged it (or time ran out)."""
        return await self._run(owner, request.options, plans.imagine(self._transport, request))

    async def button(self, owner: int, request: ButtonRequest) -> Job:
        """Click a button of a finished job; the new job runs on the parent's account."""
        parent = await self.job(owner, request.jobid)
        clicked = button_to_click(parent, request.button, request.prompt, request.mask)
        account = self._account_of(parent)
        plan = plans.button(self._transport, parent, clicked, request)
        return await self._run(owner, request.options, plan, pinned=account)

    async def blend(self, owner: int, request: BlendRequest) -> Job:
        """Download the images, upload them to Discord and run ``/blend``."""
        images = await asyncio.gather(*(self._fetcher.image(url) for url in request.urls))
        plan = plans.blend(self._transport, request, images)
        return await self._run(owner, request.options, plan)

    async def describe(self, owner: int, request: DescribeRequest) -> Job:
        """Download the image, upload it to Discord and run ``/describe``."""
        image = await self._fetcher.image(request.url)
        plan = plans.describe(self._transport, request, image)
        return await self._run(owner, request.options, plan)

    async def seed(self, owner: int, request: SeedRequest) -> Job:
        """Ask Midjourney for the seed (and the four images) of a finished image job."""
        parent = await self.job(owner, request.jobid)
        require_seedable(parent)
        account = self._account_of(parent)
        plan = plans.seed(self._transport, parent)
        return await self._run(owner, request.options, plan, pinned=account)

    async def setting(self, owner: int, request: SettingRequest) -> Job:
        """Run a settings command and answer with Midjourney's reply (synchronous)."""
        return await self._run(owner, request.options, plans.setting(self._transport, request))

    async def cancel(self, owner: int, jobid: str) -> Job:
        """Cancel a job that has not ended; an ended job is returned as it is."""
        await self.job(owner, jobid)  # 404 for unknown jobs and other users' jobs
        now = self._clock.now()
        cancelled = await self._mutate(jobid, lambda j: cancel(j, now))
        return cancelled or await self.job(owner, jobid)

    async def job(self, owner: int, jobid: str) -> Job:
        job = self._live.get(jobid) or self._recent.get(jobid)
        if job is None:
            stamp = self._recent.stamp
            job = await self._store.get_job(jobid)
            if job is not None and job.terminal:
                self._recent.put(job, read_at=stamp)
        if job is None or job.owner != owner:
            raise NotFound(f"Unable to locate job {jobid}")
        return job

    @property
    def pending_verdicts(self) -> int:
        """Answers kept for POSTs still waiting (a gauge: it must not grow)."""
        return len(self._verdicts)

    def running(self, owner: int) -> list[str]:
        """Ids of the caller's jobs that have not ended, oldest first."""
        return [j.jobid for j in sorted(self._live.values(), key=_age) if j.owner == owner]

    async def _run(
        self, owner: int, options: JobOptions, plan: Plan, *, pinned: Account | None = None
    ) -> Job:
        reply_url = options.reply_url or await self.accounts.default_reply_url(owner)
        accounts = [pinned] if pinned else self._candidates(owner, options)
        # From here to _track (or the queue's reserve) there is no await: choosing the account
        # and taking its slot, or its place in its queue, is atomic with respect to other
        # requests, so concurrent requests spread over the accounts.
        waits = False
        if not plan.takes_slot:
            account = self._only(accounts)
        else:
            try:
                account = self._choose(accounts, options)
            except Busy:
                if not self._may_wait(owner, options, plan):
                    raise
                account, waits = self._shortest_wait(accounts), True
        job = self._new_job(owner, options, plan, account, reply_url)
        if waits:
            self._room.reserve(account.channel, owner)
            return await self._enqueue(job, plan)
        self._track(job, occupy=plan.takes_slot)
        await self._store_new(job, plan)
        await self._submit(job, account, plan)
        return await self._answer(job.jobid, until_done=plan.until_done)

    def _new_job(
        self,
        owner: int,
        options: JobOptions,
        plan: Plan,
        account: Account,
        reply_url: str | None,
    ) -> Job:
        now = self._clock.now()
        return Job(
            jobid=self._ids.make(now, owner, account.channel),
            owner=owner,
            verb=plan.verb,
            status=JobStatus.CREATED,
            created=now,
            updated=now,
            channel=account.channel,
            discord=account.masked_token,
            max_jobs=options.max_jobs or account.max_jobs,
            server=account.server,
            reply_url=reply_url,
            reply_ref=options.reply_ref,
            **plan.fields,
        )

    async def _store_new(self, job: Job, plan: Plan) -> None:
        await self._persist_new(job)
        if plan.parent is not None:
            child = Child(plan.child_button or job.button or plan.verb, job.jobid)
            try:
                await self._store.add_child(plan.parent.jobid, child)
            finally:
                # Even when this request is cancelled: a write already in a batch still lands.
                self._recent.discard(plan.parent.jobid)  # its children changed in the store

    async def _submit(self, job: Job, account: Account, plan: Plan) -> None:
        try:
            nonce = await plan.submit(account, job.jobid)
        except BaseException as exc:
            # Whatever went wrong (Discord refused, a bug, the request was cancelled), the job
            # must end and free its slot. The client gets the error, not a job, so no callback.
            refusal = exc
            now = self._clock.now()
            await asyncio.shield(
                self._mutate(job.jobid, lambda j: _failed(j, refusal, now), notify=False)
            )
            if isinstance(exc, DiscordAuthError):
                # The token no longer works: take the account out of rotation for good.
                disabled = await self.accounts.disable(account.channel, exc.message)
                if disabled is not None:
                    raise unusable_error([disabled]) from exc
            raise
        await self._mutate(job.jobid, lambda j: _with_nonce(j, nonce))

    def _account_of(self, parent: Job) -> Account:
        """The account a follow-up of ``parent`` must run on (useapi: the parent's channel)."""
        account = self.accounts.find(parent.channel)
        if account is None or account.owner != parent.owner:
            raise NotFound(f"Configuration not found for channel {parent.channel}")
        require_usable([account])
        return account

    def _candidates(self, owner: int, options: JobOptions) -> list[Account]:
        """The accounts a new job may use: the one named by ``channel``, else all of them."""
        accounts = self.accounts.owned(owner)
        if options.channel is not None:
            accounts = [a for a in accounts if a.channel == options.channel]
        if not accounts:
            raise NotFound(NO_CONFIGURATION)
        return require_usable(accounts)

    def _choose(self, accounts: list[Account], options: JobOptions) -> Account:
        # An account with jobs waiting has no slot for newcomers: they would overtake the queue.
        open_accounts = [a for a in accounts if not self._room.length(a.channel)]
        account = pick_account(open_accounts, self._slots.counts(), self._rng, options.max_jobs)
        if account is None:
            running = sorted(j for a in accounts for j in self._slots.running(a.channel))
            raise Busy(running, retry_after=BUSY_RETRY_AFTER)
        return account

    # -- the durable queue --------------------------------------------------------------------

    async def _enqueue(self, job: Job, plan: Plan) -> Job:
        """Store a job that waits for a slot and queue it in the place reserved for it.

        The reservation taken when its account was chosen is released when the job is not
        stored; the POST answers at once, so nobody collects a verdict for it.
        """
        self._track(job, occupy=False)
        try:
            await self._store_new(job, plan)
        except BaseException:
            self._room.release(job.channel, job.owner)
            raise
        return await self._wait_for_slot(job)

    async def _wait_for_slot(self, job: Job) -> Job:
        """Queue a stored job in its reserved place; the POST answers now."""
        self._acks.pop(job.jobid, None)
        if job.jobid not in self._live:  # cancelled while it was being stored
            self._room.release(job.channel, job.owner)
            return await self._require(job.jobid)
        self._room.add(job.channel, job.owner, job.jobid, reserved=True)
        self._dispatch.soon(job.channel)  # a slot may have freed meanwhile
        return self._live[job.jobid]

    def _take_waiting(self, jobid: str) -> bool:
        """The dispatcher gives ``jobid`` a slot: False when the job ended meanwhile."""
        if jobid not in self._live:
            return False
        self._restarted[jobid] = self._clock.now()  # the watchdog counts from now
        return True

    def _may_wait(self, owner: int, options: JobOptions, plan: Plan) -> bool:
        """Should a job that found no free slot wait in the queue? (Busy if its user's is full)"""
        wanted = self._queue_by_default if options.queue is None else options.queue
        if not (wanted and plan.queueable and plan.verb in QUEUEABLE):
            return False
        if self._room.waiting(owner) >= self._queue_limit:
            raise Busy(
                self.running(owner),
                f"The queue already holds {self._queue_limit} jobs of this API user; "
                "retry when some have started",
                retry_after=BUSY_RETRY_AFTER,
            )
        return True

    def _shortest_wait(self, accounts: list[Account]) -> Account:
        """The usable account whose queue is shortest for its number of slots."""
        usable = [a for a in accounts if a.eligible] or accounts
        return min(usable, key=lambda a: self._room.length(a.channel) / max(1, a.max_jobs))

    def wake(self, channel: str) -> None:
        """An account became usable or got more slots: give its waiting jobs a chance."""
        self._dispatch.soon(channel)

    @property
    def waiting(self) -> int:
        """Jobs in the durable queue (a gauge)."""
        return len(self._room)

    async def _fail_waiting(self, jobid: str, error: MjapiError) -> None:
        now = self._clock.now()
        await self._mutate(jobid, lambda j: _failed(j, error, now))

    async def _submit_waiting(self, jobid: str, account: Account) -> None:
        """Submit a job that waited for its slot (now taken); its failure is its callback."""
        job = self._live.get(jobid)
        if job is None:
            self._slots.release(jobid)  # ended meanwhile (cancelled)
            self._dispatch.soon(account.channel)
            return
        try:
            nonce = await self._resubmitter.submit(job, account)
        except Exception as exc:
            if isinstance(exc, DiscordAuthError):
                # First, so that the pass the failure below triggers sees the account disabled.
                await self.accounts.disable(account.channel, exc.message)
            # Nobody waits for this job's answer: the failure goes out as its callback.
            refusal, now = exc, self._clock.now()
            await self._mutate(job.jobid, lambda j: _failed(j, refusal, now))
            return
        await self._mutate(job.jobid, lambda j: _with_nonce(j, nonce))

    @staticmethod
    def _only(accounts: list[Account]) -> Account:
        """The account a slot-less command runs on: useapi wants ``channel`` when in doubt."""
        usable = [a for a in accounts if a.eligible]
        if len(usable) != 1:
            raise BadRequest(
                f"Param channel is required when {len(usable)} accounts are configured"
            )
        return usable[0]

    async def _persist_new(self, job: Job) -> None:
        try:
            await self._store.insert_job(job)
        except BaseException:
            self._forget(job.jobid)
            raise

    async def _answer(self, jobid: str, *, until_done: bool) -> Job:
        """The job once acknowledged (or ended, with ``until_done``), or as it is at the timeout.

        Raises ``JobAnswered`` when Midjourney queued the job, its queue was full or the account
        needs its owner: useapi answers those with the job under 504, 429 or 596.
        """
        signal = (self._ends if until_done else self._acks).get(jobid)
        if signal is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), self._ack_timeout)
        # Nobody waits any more: later news must not leave a verdict behind.
        self._acks.pop(jobid, None)
        verdict = self._verdicts.pop(jobid, None)
        job = self._live.get(jobid) or await self._require(jobid)
        if verdict is not None:
            raise JobAnswered(job, verdict)
        return job

    async def _require(self, jobid: str) -> Job:
        job = await self._store.get_job(jobid)
        if job is None:
            raise NotFound(f"Unable to locate job {jobid}")
        return job

    # -- changes ----------------------------------------------------------------------------

    def _track(self, job: Job, *, occupy: bool = True) -> None:
        self._live[job.jobid] = job
        self._acks.setdefault(job.jobid, asyncio.Event())
        self._ends.setdefault(job.jobid, asyncio.Event())
        if occupy:
            self._slots.occupy(job.channel, job.jobid)

    def _forget(self, jobid: str) -> None:
        job = self._live.pop(jobid, None)
        self._locks.pop(jobid, None)
        self._room.remove(jobid)
        self._slots.release(jobid)
        self._restarted.pop(jobid, None)
        self._recovered.discard(jobid)
        for signals in (self._acks, self._ends):
            signal = signals.pop(jobid, None)
            if signal is not None:
                signal.set()
        if job is not None:
            self._dispatch.soon(job.channel)  # its slot is free

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
            if updated is None:
                return None
            # The callback is stored with the change (the outbox): both or neither.
            delivery = self._callback_for(current, updated) if notify else None
            if not await self._store.save_job(updated, delivery):
                return None
            self._after_change(current, updated)
            if delivery is not None:
                self._callbacks.enqueue(delivery)
            return updated

    def _callback_for(self, before: Job, after: Job) -> Delivery | None:
        if after.reply_url is None or not _news(before, after):
            return None
        return self._callbacks.prepare(after, self._clock.now())

    def _after_change(self, before: Job, after: Job) -> None:
        if after.terminal:
            self._forget(after.jobid)
            self._recent.put(after)
            self._transport.forget(after.channel, after.jobid)
        else:
            self._live[after.jobid] = after
        if after.status is not JobStatus.CREATED:
            ack = self._acks.pop(after.jobid, None)
            if ack is not None:
                ack.set()

    # -- background loops -------------------------------------------------------------------

    async def _consume_events(self) -> None:
        async for event in self._transport.events():
            await self._events.put(event)  # waits only while too many are pending

    async def settled(self) -> None:
        """Wait until every event read from the transport so far has been applied."""
        await self._events.settled()

    async def _apply_with_retries(self, event: BackendEvent) -> None:
        """Apply one event; a failing store is retried so that a result is not dropped."""
        subject = (
            event.channel if isinstance(event, AccountFlagged | AccountDisabled) else event.jobid
        )
        for delay in (*EVENT_RETRY_DELAYS, None):
            try:
                await self._on_event(event)
                return
            except Exception:
                log.exception("event for %s could not be applied", subject)
            if delay is None:
                log.error("event for %s dropped after repeated store failures", subject)
                return
            await asyncio.sleep(delay)

    async def _on_event(self, event: BackendEvent) -> None:
        if isinstance(event, AccountFlagged):
            await self.accounts.flag(event.channel, event.message)
        elif isinstance(event, AccountDisabled):
            await self.accounts.disable(event.channel, event.reason)
            self._dispatch.soon(event.channel)  # its waiting jobs can never run: they fail
        else:
            await self._on_job_event(event)

    async def _on_job_event(self, event: JobEvent) -> None:
        now = self._clock.now()
        waiting = self._acks.get(event.jobid)
        verdict = verdict_for(event) if waiting is not None else None
        if waiting is None or verdict is None:
            await self._mutate(event.jobid, lambda job: apply_event(job, event, now))
            return
        # Recorded before the change: a failure wakes the POST while the change is applied.
        self._verdicts[event.jobid] = verdict
        if await self._mutate(event.jobid, lambda job: apply_event(job, event, now)) is None:
            self._verdicts.pop(event.jobid, None)
        else:
            waiting.set()  # "Job queued" leaves the job created: wake the POST explicitly

    async def _watch(self) -> None:
        interval = max(0.05, min(30.0, self._job_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.expire_overdue()
            except Exception:
                log.exception("the watchdog's round failed; next round in %.1f s", interval)
            for channel in self._room.channels():
                self._dispatch.soon(channel)  # a safety net: a failed pass is tried again

    async def expire_overdue(self) -> None:
        """Fail every running job that has had no news for longer than the job timeout."""
        now = self._clock.now()
        watched = [j for j in self._live.values() if not self._room.holds(j.jobid)]
        for job in overdue(watched, now, self._job_timeout, self._restarted):
            # Resumed after a restart and never heard of since: Discord showed nothing of it.
            lost = job.jobid in self._recovered and job.updated <= self._restarted[job.jobid]
            log.warning("job %s timed out%s", job.jobid, " after a restart" if lost else "")
            await self._mutate(job.jobid, _expiry(now, LOST_ERROR if lost else STALE_ERROR))


class _NoFetcher:
    """Used when no fetcher is wired: URL-based jobs are then refused clearly."""

    async def image(self, url: str) -> Upload:
        raise BadRequest("This server cannot download images")


def _age(job: Job) -> datetime:
    return job.created


def _expiry(now: datetime, error: str) -> Callable[[Job], Job | None]:
    return lambda job: expire(job, now, error)


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
