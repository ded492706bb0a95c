"""What to do at start-up with the jobs a previous run left unfinished (pure).

- ``created`` without a nonce never reached Discord: it waits for a slot again (a durable-queue
  job, or one whose submission the stop interrupted);
- anything else was submitted: the transport is told its keys (``Resumable``) and recognises it
  in the channel history or in live messages. Whatever is never found is failed by the watchdog
  with ``LOST_ERROR``, one job timeout after the restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mjapi.domain.jobs import Job, JobStatus
from mjapi.transports.base import ButtonTarget, Resumable

LOST_ERROR = "The job was running when mjapi restarted and Discord shows no trace of it since"


@dataclass
class RecoveryPlan:
    #: jobs to queue again, oldest first
    to_dispatch: list[Job] = field(default_factory=list)
    #: channel -> jobs to hand to the transport
    to_resume: dict[str, list[Resumable]] = field(default_factory=dict)


def plan_recovery(jobs: list[Job], parents: dict[str, Job]) -> RecoveryPlan:
    """Sort unfinished jobs; ``parents`` holds the parents of button and seed jobs by jobid."""
    plan = RecoveryPlan()
    for job in jobs:
        if job.status is JobStatus.CREATED and job.nonce is None:
            plan.to_dispatch.append(job)
        else:
            parent = parents.get(job.parent_job_id or "")
            plan.to_resume.setdefault(job.channel, []).append(resumable(job, parent))
    return plan


def resumable(job: Job, parent: Job | None) -> Resumable:
    return Resumable(
        jobid=job.jobid,
        verb=job.verb,
        created=job.created,
        nonce=job.nonce,
        interaction_id=job.interaction_id,
        message_id=job.message_id,
        job_hash=job.job_hash,
        parent=_target(job, parent),
    )


def _target(job: Job, parent: Job | None) -> ButtonTarget | None:
    if parent is None or parent.message_id is None:
        return None
    button = next((b for b in parent.buttons if b.label == job.button), None)
    custom_id = button.custom_id if button is not None else ""
    return ButtonTarget(parent.message_id, parent.message_flags, custom_id, parent.job_hash)
