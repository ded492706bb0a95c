"""What the correlator knows about each submitted job, and the pure tests it matches with."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from mjapi.transports.discord.clicks import Click, Family
from mjapi.transports.discord.interpret import Kind, MjMessage


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
    message_ids: set[str] = field(default_factory=set)
    job_hash: str | None = None
    started: bool = False
    queued: bool = False
    percent: int | None = None
    finished: bool = False

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
