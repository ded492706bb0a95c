"""Checks a job request must pass before anything is sent to Discord (pure)."""

from __future__ import annotations

import re

from mjapi.domain.jobs import Button, Job, JobStatus
from mjapi.errors import BadRequest, Conflict

#: Buttons that may run once per parent: a second click answers 409 naming the first child.
EXECUTE_ONCE = frozenset({"U1", "U2", "U3", "U4"})
#: Buttons whose Midjourney flow needs a prompt from the client.
NEEDS_PROMPT = frozenset({"Custom Zoom"})
#: Buttons whose Midjourney flow needs a mask from the client.
NEEDS_MASK = frozenset({"Vary (Region)"})

_VIDEO_PROMPT = re.compile(r"(^|\s)--video\b")


class AlreadyExecuted(Conflict):
    """An execute-once button was already used on this parent."""

    def __init__(self, button: str, child_jobid: str) -> None:
        super().__init__(f"Button {button} already executed by job {child_jobid}")
        self.button = button
        self.child_jobid = child_jobid


def require_completed(parent: Job) -> None:
    if parent.status is not JobStatus.COMPLETED:
        raise BadRequest(
            f"Job {parent.jobid} is {parent.status.value}; buttons need a completed job"
        )


def button_to_click(parent: Job, label: str, prompt: str | None, mask: str | None) -> Button:
    """The parent's button named ``label``, after useapi's checks."""
    require_completed(parent)
    found = next((b for b in parent.buttons if b.label == label), None)
    if found is None:
        offered = ", ".join(b.label for b in parent.buttons) or "none"
        raise BadRequest(
            f"Button {label} not found in jobid {parent.jobid} buttons array ({offered})"
        )
    if label in EXECUTE_ONCE:
        earlier = next((c for c in parent.children if c.button == label), None)
        if earlier is not None:
            raise AlreadyExecuted(label, earlier.jobid)
    if label in NEEDS_PROMPT and not prompt:
        raise BadRequest(f"Required param prompt is missing or empty (button {label})")
    if label in NEEDS_MASK and not mask:
        raise BadRequest(f"Required param mask is missing or empty (button {label})")
    return found


def is_video(job: Job) -> bool:
    """Video jobs: a ``--video`` prompt, or a video among the attachments."""
    if job.prompt and _VIDEO_PROMPT.search(job.prompt):
        return True
    return any((a.content_type or "").startswith("video/") for a in job.attachments)


def require_seedable(parent: Job) -> None:
    require_completed(parent)
    if is_video(parent):
        raise BadRequest(f"Job {parent.jobid} is a video job; seed_async supports images only")
    if parent.message_id is None:
        raise BadRequest(f"Job {parent.jobid} has no Midjourney message to read the seed from")
