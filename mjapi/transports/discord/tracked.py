"""What the correlator knows about each submitted job, and the pure tests it matches with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from mjapi.transports.base import Resumable, Setting
from mjapi.transports.discord.clicks import Click, Family, parse_click
from mjapi.transports.discord.interpret import Kind, MjMessage
from mjapi.transports.discord.notices import is_after
from mjapi.transports.discord.snowflake import snowflake_at

#: How far mjapi's clock may run ahead of Discord's for an adopted job's replies to count.
CLOCK_SKEW = timedelta(seconds=60)

#: useapi verbs finished by the bot's reply to a settings command (/info, /prefer remix ...)
REPLY_VERBS = frozenset(setting.value for setting in Setting)
SEED_VERB = "seed_async"
BUTTON_VERB = "button"
SEED_KEY_PREFIX = "seed:"


class Expect(StrEnum):
    """Which message finishes a job."""

    #: a result with attachments and buttons (imagine, blend, every button job)
    RESULT = "result"
    #: the /describe message once its embed holds the four prompts (§3.4)
    DESCRIPTION = "description"
    #: the bot's answer to a settings command (/info, /fast, /prefer remix ...)
    REPLY = "reply"
    #: the seed DM after the ✉️ reaction
    SEED = "seed"


@dataclass
class TrackedJob:
    """What the correlator knows about one submitted job."""

    jobid: str
    #: every nonce we posted for it: the click, then a modal submit (§1.7)
    nonces: set[str]
    expect: Expect = Expect.RESULT
    #: button jobs: the clicked message and what the button does
    parent_message_id: str | None = None
    click: Click | None = None
    #: seed jobs: the hash the seed DM must name
    seed_hash: str | None = None
    interaction_ids: set[str] = field(default_factory=set)
    #: the "Waiting to start" / "(NN%)" message Midjourney keeps editing
    progress_message_id: str | None = None
    #: the prompt as that message printed it (Midjourney's rewrite; its result prints the same)
    printed_prompt: str | None = None
    message_ids: set[str] = field(default_factory=set)
    job_hash: str | None = None
    started: bool = False
    queued: bool = False
    percent: int | None = None
    finished: bool = False
    #: jobs adopted after a restart: the snowflake of the job's creation (history before it is
    #: never the job's); None for jobs this process submitted
    since: str | None = None

    @property
    def adopted(self) -> bool:
        return self.since is not None

    def predates(self, message_id: str) -> bool:
        """True when an adopted job was created after ``message_id`` was posted."""
        return self.since is not None and not is_after(message_id, self.since)

    @property
    def running(self) -> bool:
        return not self.finished and self.progress_message_id is not None

    @property
    def pending(self) -> bool:
        return not self.finished and self.progress_message_id is None


def compatible(job: TrackedJob, msg: MjMessage) -> bool:
    """False when both carry a job hash and they differ."""
    return job.job_hash is None or msg.job_hash is None or job.job_hash == msg.job_hash


def answers(click: Click, msg: MjMessage) -> bool:
    """Could ``msg`` (a reply to the clicked message) be the result of ``click``?"""
    if msg.action is None:
        # Unlabeled replies: rerolls (capture 24), button starts (capture 13), errors. A U pick
        # always says "Image #N", so it never takes an unlabeled result.
        return click.family is not Family.PICK or msg.kind is Kind.ERROR
    if msg.action is not click.family:
        return False
    return msg.index is None or click.index is None or msg.index == click.index


def expect_for(verb: str) -> Expect:
    """Which message finishes a job of the useapi ``verb``."""
    if verb == "describe":
        return Expect.DESCRIPTION
    if verb in REPLY_VERBS:
        return Expect.REPLY
    if verb == SEED_VERB:
        return Expect.SEED
    return Expect.RESULT


def adopted(stored: Resumable) -> TrackedJob | None:
    """The TrackedJob a job stored before a restart stands for (None: a seed job without hash).

    A stored message id is the job's progress message: the engine keeps the id of the job's
    first message (JobStarted) and of its progress edits, which are the same message.
    """
    expect = expect_for(stored.verb)
    job = TrackedJob(
        jobid=stored.jobid,
        nonces=set(),
        expect=expect,
        job_hash=stored.job_hash,
        # A margin for clock skew: mjapi's clock ahead of Discord's must not make the job's own
        # reply look older than the job.
        since=snowflake_at(stored.created - CLOCK_SKEW),
    )
    if expect is Expect.SEED:
        job.seed_hash = _seed_hash(stored)
        if job.seed_hash is None:
            return None
    elif stored.nonce:
        job.nonces.add(stored.nonce)
    if stored.interaction_id:
        job.interaction_ids.add(stored.interaction_id)
    if stored.message_id:
        job.message_ids.add(stored.message_id)
        job.progress_message_id = stored.message_id
        job.started = True
    if stored.parent is not None and stored.verb == BUTTON_VERB:
        job.parent_message_id = stored.parent.message_id
        job.click = parse_click(stored.parent.custom_id)
    return job


def _seed_hash(stored: Resumable) -> str | None:
    # seed() returned "seed:<hash>" as the job's key; the parent's hash says the same.
    if stored.nonce and stored.nonce.startswith(SEED_KEY_PREFIX):
        return stored.nonce[len(SEED_KEY_PREFIX) :].lower()
    parent_hash = stored.parent.job_hash if stored.parent is not None else None
    return parent_hash.lower() if parent_hash else None
