"""Which mjapi job a Midjourney message belongs to, for one channel (pure).

Matching keys, strongest first (reference §2.5, design "Correlation"):

1. the interaction ``nonce`` we generated (echoed on the first message; on the final one since
   ~2025-05);
2. the interaction id (INTERACTION_SUCCESS ``d.id`` == ``interaction(_metadata).id`` on the
   job's messages, capture 03);
3. the message id of the job's own progress message (MESSAGE_UPDATEs, capture 07-09);
4. the Midjourney job hash once a message revealed it;
5. for button jobs only, the reply reference: a ``type: 19`` result whose
   ``message_reference.message_id`` is the clicked message and whose label agrees with the
   button (``Image #2`` answers U2 of that grid; capture 17, 25, 27). U picks arrive this way
   with no nonce and no progress at all.

Jobs submitted before a restart are adopted from what the engine stored (``adopt``): the same
keys, and for a button job the clicked message and button. While the history is replayed, an
adopted button job may also take a reply by reference (a U pick leaves no other trace), but only
one posted after the job was created.

Seed jobs have no interaction: the ✉️ reaction is answered by a DM naming the job's hash
(reference §3.4), possibly in the user's DM channel rather than the account's server channel.

Never the submitted prompt: Midjourney rewrites prompts, and two jobs may share one (capture 24
shows a result whose prompt differs from its parent's). A final grid that carries none of those keys
(2023: no nonce, no interaction, a new message id, previews named plain ``grid_0.webp``) is held
as an orphan and given to the job whose progress message Discord deletes right after it
(capture 03: final MESSAGE_CREATE, then MESSAGE_DELETE of the progress message); when exactly one
job of the channel is running it can only be that one.

A session lost without RESUME can hide a job's whole end: its progress edits (which reveal the
hash), its final and the deletion of its progress message are then only in the history, where
the final has no nonce (REST never returns one) and a grid no interaction. Such a final is bound
by the prompt as Midjourney printed it on the job's own progress message (its rewrite, not ours),
only when posted after that message and when exactly one running job printed it (``replay``).

Matching a message costs the same however many jobs the channel remembers (finished ones stay
known for ``history`` jobs): each key is indexed (``_Index``: key -> the jobs holding it), and
every change of a job's keys goes through the correlator, which keeps the indexes equal to what a
scan of its jobs would find (``_track``/``_untrack`` when a job enters or leaves ``_jobs``; the
``_set_*``/``_add_*`` helpers when a key is learnt). A key two jobs hold resolves to the older one,
as the scan in submission order did.

Besides job events the correlator reports account events (a moderation notice, a CAPTCHA, a
blocked account: notices.py), each once per message and before the ``JobFailed`` of the job that
met it, and says which live messages nothing could make sense of (``Observation.unrecognised``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from mjapi.domain.events import (
    BackendEvent,
    FailReason,
    JobCompleted,
    JobEvent,
    JobFailed,
    JobProgressed,
    JobQueued,
    JobStarted,
)
from mjapi.transports.base import Resumable
from mjapi.transports.discord.clicks import Click
from mjapi.transports.discord.interpret import Kind, MjMessage
from mjapi.transports.discord.notices import SeenIds, account_event, is_after
from mjapi.transports.discord.tracked import (
    SEED_KEY_PREFIX,
    Expect,
    TrackedJob,
    adopted,
    answers,
    compatible,
)

__all__ = [
    "DELETED_ERROR",
    "NO_RESPONSE_ERROR",
    "SEED_KEY_PREFIX",
    "STOPPED_ERROR",
    "UNTITLED_ERROR",
    "Correlator",
    "Expect",
    "Observation",
]

NO_RESPONSE_ERROR = "Midjourney did not respond to the command"
DELETED_ERROR = "Midjourney deleted the job message before it finished"
STOPPED_ERROR = "Midjourney stopped the job"
UNTITLED_ERROR = "Midjourney reported an error"


class _Index:
    """The tracked jobs that hold each key of one kind (nonce, interaction id, message id ...).

    Holders are kept in no order; a key rarely has more than one (``Correlator._first``).
    """

    __slots__ = ("_holders",)

    def __init__(self) -> None:
        self._holders: dict[str, list[TrackedJob]] = {}

    def __len__(self) -> int:
        return len(self._holders)

    def holders(self, key: str) -> list[TrackedJob] | None:
        return self._holders.get(key)

    def add(self, key: str | None, job: TrackedJob) -> None:
        if key is None:
            return
        holders = self._holders.get(key)
        if holders is None:
            self._holders[key] = [job]
        elif all(holder is not job for holder in holders):
            holders.append(job)

    def discard(self, key: str | None, job: TrackedJob) -> None:
        if key is None:
            return
        holders = self._holders.get(key)
        if holders is None:
            return
        holders[:] = [holder for holder in holders if holder is not job]
        if not holders:
            del self._holders[key]


@dataclass(frozen=True)
class Observation:
    """What one message meant: its events, and whether nothing could make sense of it."""

    events: list[BackendEvent]
    #: a Midjourney message of the account that no job and no known case explains (first time
    #: only): worth a warning with its payload
    unrecognised: bool = False


class Correlator:
    """Turns one channel's Midjourney messages into job events, each emitted once."""

    def __init__(
        self,
        channel_id: str,
        user_id: str | None = None,
        *,
        history: int = 256,
        orphan_limit: int = 16,
        since: str | None = None,
    ) -> None:
        """``since``: a snowflake of when we began watching; older messages that surface in a
        catch-up or an edit are history, not news (an acknowledged notice must not flag again).
        """
        self.channel_id = channel_id
        self.since = since
        #: the account's Discord user; messages about other users' jobs are never paired
        self.user_id = user_id
        #: the user's DM with the bot when that is another channel (server-channel accounts):
        #: only seed DMs are read there
        self.dm_channel_id: str | None = None
        self._jobs: dict[str, TrackedJob] = {}
        # The jobs of _jobs by each of their keys (module doc): kept by _track, _untrack and
        # the helpers that change a key, never by assigning a job's fields directly.
        self._nonce_index = _Index()
        self._interaction_index = _Index()
        self._message_index = _Index()
        self._hash_index = _Index()
        self._progress_index = _Index()
        # Finished jobs stay known for a while so that late duplicates and the deletion of
        # their progress message are recognised (and ignored) instead of looking new.
        self._finished: deque[str] = deque()
        self._history = history
        self._orphans: deque[MjMessage] = deque(maxlen=orphan_limit)
        self._noticed = SeenIds()
        self._reported = SeenIds()
        #: results already handed to a job: a history replay must never give one to another
        self._results = SeenIds()

    # -- registration -------------------------------------------------------------------------

    def expect(
        self,
        jobid: str,
        nonce: str,
        *,
        expect: Expect = Expect.RESULT,
        parent_message_id: str | None = None,
        click: Click | None = None,
    ) -> None:
        """Register a job BEFORE its interaction is posted (the answer can beat the 204)."""
        job = self._jobs.get(jobid)
        if job is None or job.finished:
            self._track(
                TrackedJob(
                    jobid=jobid,
                    nonces={nonce},
                    expect=expect,
                    parent_message_id=parent_message_id,
                    click=click,
                )
            )
        else:
            # A retried post (e.g. after a stale command version) uses a fresh nonce.
            self._replace_nonces(job, nonce)

    def expect_seed(self, jobid: str, job_hash: str) -> str:
        """Register a seed request for the grid with ``job_hash``; returns its correlation key."""
        self._track(
            TrackedJob(jobid=jobid, nonces=set(), expect=Expect.SEED, seed_hash=job_hash.lower())
        )
        return SEED_KEY_PREFIX + job_hash.lower()

    def adopt(self, stored: Resumable) -> bool:
        """Track a job submitted before a restart by the keys the engine stored for it.

        False when it cannot be tracked (a seed job without its grid's hash) or is known already
        (this correlator submitted it, or adopted it before): what it knows is newer.
        """
        job = adopted(stored)
        if job is None or stored.jobid in self._jobs:
            return False
        self._track(job)
        return True

    def add_nonce(self, jobid: str, nonce: str) -> None:
        """A modal submit for the job goes out under a new nonce; keep matching the old one."""
        job = self._jobs.get(jobid)
        if job is not None and not job.finished:
            self._add_nonce(job, nonce)

    def job_for_nonce(self, nonce: str | None) -> str | None:
        """The unfinished job a nonce was posted for (modals echo the click's nonce, §1.7)."""
        job = self._by_nonce(nonce)
        return job.jobid if job is not None and not job.finished else None

    def abort(self, jobid: str, error: str, details: str | None = None) -> list[JobEvent]:
        """End an unfinished job on our side (e.g. its modal could not be submitted)."""
        job = self._jobs.get(jobid)
        if job is None or job.finished:
            return []
        return [self._fail(job, error, details)]

    def forget(self, jobid: str) -> None:
        """Stop tracking a job (its interaction was refused, or it was detached)."""
        job = self._jobs.pop(jobid, None)
        if job is not None:
            self._untrack(job)

    @property
    def in_flight(self) -> tuple[str, ...]:
        """Jobs that have not finished yet, in submission order."""
        return tuple(job.jobid for job in self._jobs.values() if not job.finished)

    @property
    def awaits_seed(self) -> bool:
        """True while a seed job waits for its DM."""
        return any(j.expect is Expect.SEED and not j.finished for j in self._jobs.values())

    @property
    def known_jobs(self) -> int:
        """Jobs remembered, finished ones included (bounded by ``history``)."""
        return len(self._jobs)

    # -- gateway inputs -----------------------------------------------------------------------

    def on_interaction(self, nonce: str | None, interaction_id: str) -> None:
        """INTERACTION_CREATE / INTERACTION_SUCCESS ``{id, nonce}``: learn the interaction id."""
        job = self._by_nonce(nonce) if nonce else self._sole_unbound_pending()
        if job is not None:
            # A click and its modal submit are two interactions of one job (§1.6).
            self._add_interaction(job, interaction_id)

    def on_interaction_failure(self, nonce: str | None) -> list[JobEvent]:
        """INTERACTION_FAILURE: the bot never answered the command (reference §2.4)."""
        job = self._by_nonce(nonce) if nonce else None
        if job is None or not job.pending:
            return []
        return [self._fail(job, NO_RESPONSE_ERROR)]

    def on_message_create(self, msg: MjMessage) -> list[BackendEvent]:
        """A new Midjourney message in the channel."""
        return self.observe(msg, created=True).events

    def on_message_update(self, msg: MjMessage) -> list[BackendEvent]:
        """An edited Midjourney message (progress, or a grid whose used button changed style)."""
        return self.observe(msg, created=False).events

    def observe(self, msg: MjMessage, *, created: bool) -> Observation:
        """A live MESSAGE_CREATE (``created``) or MESSAGE_UPDATE."""
        return self._on_message(msg, created=created, live=True)

    def replay(self, msg: MjMessage) -> list[BackendEvent]:
        """A message re-read from the channel's history after a session was lost.

        Taken as an edit, so nothing is paired as an orphan (old grids in the history must never
        complete a running job), and never reported as unrecognised (history is full of them).
        A final without keys goes to the running job whose progress message printed its prompt
        and predates it (``_bind_replayed_final``).
        """
        return self._on_message(msg, created=False, live=False).events

    def on_message_delete(self, message_id: str) -> list[JobEvent]:
        """MESSAGE_DELETE: Midjourney removes the progress message once the result is posted."""
        self._drop_orphan(message_id)
        job = self._first(self._progress_index, message_id)
        if job is None or job.finished:
            return []  # not ours, or the usual clean-up after completion (capture 11)
        orphan = self._take_orphan_for(job)
        if orphan is not None:
            return [self._complete(job, orphan)]
        # The progress message vanished without a result: a ❌ by the user (captures 15/16) or
        # a late moderation (YKS treats this as a banned prompt).
        return [self._fail(job, DELETED_ERROR)]

    def fail_all(self, error: str, details: str | None = None) -> list[JobEvent]:
        """End every unfinished job (the account's gateway is gone for good)."""
        return [
            self._fail(job, error, details) for job in list(self._jobs.values()) if not job.finished
        ]

    # -- matching -----------------------------------------------------------------------------

    def watches(self, channel_id: str | None) -> bool:
        """True for the account's channel and its DM with the bot."""
        return channel_id is not None and channel_id in (self.channel_id, self.dm_channel_id)

    def _on_message(self, msg: MjMessage, *, created: bool, live: bool) -> Observation:
        if not self.watches(msg.channel_id):
            return Observation([])
        if msg.kind is Kind.SEED:
            return Observation(list(self._on_seed(msg)))
        main = msg.channel_id == self.channel_id
        job = self._find(msg, created=created, live=live) if main else None
        # The account event first: whoever reads the job's failure finds the account marked.
        events = self._account_event(msg, created=created, bound=job is not None)
        if job is not None:
            self._learn(job, msg)
            if not job.finished:
                events.extend(self._advance(job, msg))
            return Observation(events)
        if main and created and msg.kind is Kind.DONE:
            events.extend(self._on_orphan(msg))
        unrecognised = live and not events and self._unexplained(msg, created=created, main=main)
        return Observation(events, unrecognised)

    def _find(self, msg: MjMessage, *, created: bool, live: bool) -> TrackedJob | None:
        job = self._match(msg)
        if job is None and created:
            job = self._bind_fresh_start(msg) or self._bind_reply(msg)
        if job is None and not live:
            # History after a restart: an adopted U pick's result carries no key of its own.
            job = self._bind_reply(msg, adopted_only=True) or self._bind_replayed_final(msg)
        return job

    def _account_event(self, msg: MjMessage, *, created: bool, bound: bool) -> list[BackendEvent]:
        event = account_event(self.channel_id, msg)
        if event is None or not self._is_ours(msg):
            return []
        # An edit of an old notice (e.g. once its owner acknowledged it) is not news; one that
        # answers a job of ours, or was posted since we watch, is.
        if not (created or bound or is_after(msg.message_id, self.since)):
            return []
        return [event] if self._noticed.first(msg.message_id) else []

    def _unexplained(self, msg: MjMessage, *, created: bool, main: bool) -> bool:
        if not self._is_ours(msg):
            return False  # another user's job in a shared channel
        # Besides unknown shapes, only a new message in the account's channel is news: edits
        # of old messages are routine (used buttons restyled), and final grids without keys
        # are held as orphans above.
        routine = not (main and created) or (msg.kind is Kind.DONE and not msg.is_reply)
        if msg.kind is not Kind.OTHER and routine:
            return False
        return self._reported.first(msg.message_id)

    def _match(self, msg: MjMessage) -> TrackedJob | None:
        return (
            self._by_nonce(msg.nonce)
            or self._by_interaction(msg.interaction_id)
            or self._by_message_id(msg.message_id)
            or self._by_hash(msg.job_hash)
        )

    def _by_interaction(self, interaction_id: str | None) -> TrackedJob | None:
        return self._first(self._interaction_index, interaction_id)

    def _by_message_id(self, message_id: str) -> TrackedJob | None:
        return self._first(self._message_index, message_id)

    def _by_hash(self, job_hash: str | None) -> TrackedJob | None:
        return self._first(self._hash_index, job_hash)

    def _by_nonce(self, nonce: str | None) -> TrackedJob | None:
        return self._first(self._nonce_index, nonce)

    def _first(self, index: _Index, key: str | None) -> TrackedJob | None:
        """The first job in submission order that holds ``key`` (what a scan would find)."""
        holders = index.holders(key) if key is not None else None
        if not holders:
            return None
        if len(holders) == 1:
            return holders[0]
        # Several jobs hold it (a reused nonce, a re-registered job): the oldest, like the scan.
        return next(j for j in self._jobs.values() if any(j is h for h in holders))

    def _sole_unbound_pending(self) -> TrackedJob | None:
        # Clients that send no nonce get INTERACTION_* without one (captures 04/05). Binding is
        # only safe when a single submitted job is still waiting for its interaction id.
        # Adopted jobs posted their interaction before the restart: a new one is never theirs.
        unbound = [
            j
            for j in self._jobs.values()
            if j.pending
            and j.nonces
            and not j.interaction_ids
            and j.click is None
            and not j.adopted
        ]
        return unbound[0] if len(unbound) == 1 else None

    def _bind_fresh_start(self, msg: MjMessage) -> TrackedJob | None:
        # A first "Waiting to start"/"Job queued" for /imagine with no nonce and an interaction
        # id we never heard of (INTERACTION_SUCCESS missed): same uniqueness rule as above.
        if msg.kind not in (Kind.WAITING, Kind.QUEUED) or msg.nonce is not None:
            return None
        if msg.command != "imagine" or msg.is_reply or not self._is_ours(msg):
            return None
        return self._sole_unbound_pending()

    def _bind_reply(self, msg: MjMessage, *, adopted_only: bool = False) -> TrackedJob | None:
        # A button result without nonce, interaction or known hash: the clicked message it
        # replies to plus the label (capture 17: "Image #2" answers U2 of the referenced grid).
        # Live only on CREATE: an edited parent grid (used buttons restyled) is never a new
        # result. In history only for adopted jobs, and only replies posted since the job was
        # created: an older "Image #1" of the same grid answered an earlier click.
        if msg.reply_to is None or not self._is_ours(msg):
            return None
        for job in self._jobs.values():  # submission order: the oldest click first
            if job.finished or job.click is None or job.parent_message_id != msg.reply_to:
                continue
            if adopted_only and (not job.adopted or job.predates(msg.message_id)):
                continue
            # A start or progress message is only ever the first one of a job without one.
            if msg.kind in (Kind.WAITING, Kind.QUEUED, Kind.PROGRESS) and not job.pending:
                continue
            if compatible(job, msg) and answers(job.click, msg):
                return job
        return None

    def _bind_replayed_final(self, msg: MjMessage) -> TrackedJob | None:
        # A lost session hid the job's progress edits, its final and the deletion of its
        # progress message: in the history its final carries no nonce, no interaction and a
        # hash we never learnt. Its prompt is Midjourney's own printing, the same on the job's
        # progress message (§2.5 steps 3 and 5), and posting after that message rules out the
        # older grids of the same prompt. Two running jobs printing it: neither can be told.
        if msg.kind is not Kind.DONE or msg.is_reply or msg.prompt is None:
            return None
        # A result that already ended a job (since forgotten) is that job's, however alike.
        if msg.message_id in self._results or not self._is_ours(msg):
            return None
        candidates = [
            job
            for job in self._jobs.values()
            if job.running
            and job.expect is Expect.RESULT
            and job.click is None
            and job.printed_prompt == msg.prompt
            and is_after(msg.message_id, job.progress_message_id)
            and compatible(job, msg)
        ]
        return candidates[0] if len(candidates) == 1 else None

    def _is_ours(self, msg: MjMessage) -> bool:
        return self.user_id is None or msg.user_id is None or msg.user_id == self.user_id

    def _learn(self, job: TrackedJob, msg: MjMessage) -> None:
        if msg.interaction_id is not None and not job.interaction_ids:
            self._add_interaction(job, msg.interaction_id)
        if job.job_hash is None and msg.job_hash is not None:
            self._set_hash(job, msg.job_hash)
        if msg.kind in (Kind.WAITING, Kind.PROGRESS):
            self._set_progress_message(job, msg.message_id)
            job.printed_prompt = msg.prompt or job.printed_prompt
        self._add_message(job, msg.message_id)

    # -- the indexes (module doc): every change of a job's keys -------------------------------

    def _track(self, job: TrackedJob) -> None:
        """Put ``job`` in ``_jobs`` (in the place of a job of the same id, if any) and index it."""
        old = self._jobs.get(job.jobid)
        if old is not None:
            self._untrack(old)
        self._jobs[job.jobid] = job
        for nonce in job.nonces:
            self._nonce_index.add(nonce, job)
        for interaction_id in job.interaction_ids:
            self._interaction_index.add(interaction_id, job)
        for message_id in job.message_ids:
            self._message_index.add(message_id, job)
        self._hash_index.add(job.job_hash, job)
        self._progress_index.add(job.progress_message_id, job)

    def _untrack(self, job: TrackedJob) -> None:
        """Remove every key of ``job`` from the indexes (it leaves, or left, ``_jobs``)."""
        for nonce in job.nonces:
            self._nonce_index.discard(nonce, job)
        for interaction_id in job.interaction_ids:
            self._interaction_index.discard(interaction_id, job)
        for message_id in job.message_ids:
            self._message_index.discard(message_id, job)
        self._hash_index.discard(job.job_hash, job)
        self._progress_index.discard(job.progress_message_id, job)

    def _replace_nonces(self, job: TrackedJob, nonce: str) -> None:
        for old in job.nonces:
            self._nonce_index.discard(old, job)
        job.nonces = {nonce}
        self._nonce_index.add(nonce, job)

    def _add_nonce(self, job: TrackedJob, nonce: str) -> None:
        job.nonces.add(nonce)
        self._nonce_index.add(nonce, job)

    def _add_interaction(self, job: TrackedJob, interaction_id: str) -> None:
        if interaction_id not in job.interaction_ids:
            job.interaction_ids.add(interaction_id)
            self._interaction_index.add(interaction_id, job)

    def _add_message(self, job: TrackedJob, message_id: str) -> None:
        # Every edit of the progress message names it again: known, nothing to index.
        if message_id not in job.message_ids:
            job.message_ids.add(message_id)
            self._message_index.add(message_id, job)

    def _set_hash(self, job: TrackedJob, job_hash: str | None) -> None:
        if job_hash == job.job_hash:
            return
        self._hash_index.discard(job.job_hash, job)
        job.job_hash = job_hash
        self._hash_index.add(job_hash, job)

    def _set_progress_message(self, job: TrackedJob, message_id: str) -> None:
        if message_id == job.progress_message_id:
            return
        self._progress_index.discard(job.progress_message_id, job)
        job.progress_message_id = message_id
        self._progress_index.add(message_id, job)

    # -- orphans (2023 finals without keys) ---------------------------------------------------

    def _on_orphan(self, msg: MjMessage) -> list[JobEvent]:
        # Button results (type 19 replies) and other users' grids are never an /imagine of ours.
        if msg.is_reply or not self._is_ours(msg):
            return []
        if any(o.message_id == msg.message_id for o in self._orphans):
            return []
        running = [j for j in self._jobs.values() if j.running]
        if len(running) == 1 and compatible(running[0], msg):
            return [self._complete(running[0], msg)]
        self._orphans.append(msg)
        return []

    def _take_orphan_for(self, job: TrackedJob) -> MjMessage | None:
        # The final is posted right before the progress message is deleted: newest first.
        for orphan in reversed(self._orphans):
            if compatible(job, orphan):
                self._orphans.remove(orphan)
                return orphan
        return None

    def _drop_orphan(self, message_id: str) -> None:
        for orphan in list(self._orphans):
            if orphan.message_id == message_id:
                self._orphans.remove(orphan)

    # -- seeds --------------------------------------------------------------------------------

    def _on_seed(self, msg: MjMessage) -> list[JobEvent]:
        job = next(
            (
                j
                for j in self._jobs.values()
                if j.expect is Expect.SEED
                and not j.finished
                and j.seed_hash == msg.seed_job_hash
                # an older DM of the same grid answered an earlier request
                and not j.predates(msg.message_id)
            ),
            None,
        )
        return [] if job is None else [self._complete(job, msg)]

    # -- events -------------------------------------------------------------------------------

    def _advance(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        if msg.kind is Kind.ERROR:
            return [self._fail_with(job, msg)]
        if msg.kind is Kind.QUEUED:
            return self._queued(job, msg)
        if job.expect is Expect.DESCRIPTION:
            return self._advance_description(job, msg)
        if job.expect is Expect.REPLY:
            return self._advance_reply(job, msg)
        return self._advance_result(job, msg)

    def _advance_description(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        # The bot posts the describe message first, then edits the prompts in (§3.4).
        if msg.kind is Kind.DESCRIBED:
            return [self._complete(job, msg)]
        return self._start(job, msg)

    def _advance_reply(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        if msg.kind is Kind.WAITING:  # deferred: "thinking..." (flag 128)
            return self._start(job, msg)
        if not (msg.content or msg.embeds):
            return []
        return [self._complete(job, msg)]

    def _advance_result(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        if msg.kind is Kind.WAITING:
            return self._start(job, msg)
        if msg.kind is Kind.PROGRESS:
            return self._progress(job, msg)
        if msg.kind is Kind.DONE:
            return [self._complete(job, msg)]
        return []

    def _queued(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        # "Job queued": over the plan's concurrency. Said once; the job keeps waiting for its
        # normal start, which Midjourney posts when a running job ends (capture 14).
        if job.queued or job.started:
            return []
        job.queued = True
        content = (msg.embed.description if msg.embed else None) or msg.content
        return [JobQueued(job.jobid, msg.message_id, content, msg.timestamp)]

    def _start(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        if job.started:
            return []
        job.started = True
        return [JobStarted(job.jobid, msg.message_id, msg.content, msg.timestamp)]

    def _progress(self, job: TrackedJob, msg: MjMessage) -> list[JobEvent]:
        percent = msg.percent if msg.percent is not None else 0
        if job.percent is not None and percent <= job.percent:
            return []  # a duplicate or out-of-order update
        job.started = True
        job.percent = percent
        stamp = msg.edited_timestamp or msg.timestamp
        # The hash goes with it: stored by the engine, it finds the result after a restart.
        progressed = JobProgressed(
            job.jobid, msg.message_id, msg.content, percent, stamp, job_hash=job.job_hash
        )
        return [progressed]

    def _complete(self, job: TrackedJob, msg: MjMessage) -> JobEvent:
        self._add_message(job, msg.message_id)
        self._results.first(msg.message_id)
        self._set_hash(job, job.job_hash or msg.job_hash)
        self._finish(job)
        described = job.expect is Expect.DESCRIPTION
        # Describe and command replies often finish as an edit of their first message.
        edits = job.expect in (Expect.DESCRIPTION, Expect.REPLY)
        stamp = (msg.edited_timestamp or msg.timestamp) if edits else msg.timestamp
        return JobCompleted(
            jobid=job.jobid,
            message_id=msg.message_id,
            content=msg.content,
            timestamp=stamp,
            # describe: the embed shows the uploaded image; it is not a result file
            attachments=() if described else msg.attachments,
            buttons=msg.buttons,
            job_hash=msg.job_hash if job.expect is Expect.RESULT else None,
            embeds=msg.embeds,
            seed=msg.seed if job.expect is Expect.SEED else None,
            message_flags=msg.flags,
        )

    def _fail_with(self, job: TrackedJob, msg: MjMessage) -> JobEvent:
        if msg.embed is None:  # "(Stopped)" in the content
            return self._fail(job, STOPPED_ERROR, msg.content or None)
        error = msg.embed.title or UNTITLED_ERROR
        reason = msg.failure or FailReason.ERROR
        return self._fail(job, error, msg.embed.description, reason=reason)

    def _fail(
        self,
        job: TrackedJob,
        error: str,
        details: str | None = None,
        *,
        reason: FailReason = FailReason.ERROR,
    ) -> JobEvent:
        self._finish(job)
        return JobFailed(job.jobid, error, details, reason)

    def _finish(self, job: TrackedJob) -> None:
        job.finished = True
        self._finished.append(job.jobid)
        while len(self._finished) > self._history:
            oldest = self._jobs.get(self._finished.popleft())
            # The id may have been registered again since (expect() after an end).
            if oldest is not None and oldest.finished:
                del self._jobs[oldest.jobid]
                self._untrack(oldest)
