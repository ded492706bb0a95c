"""What each job-creating call stores and how it is sent to Midjourney (one plan per verb).

The engine runs every plan the same way (choose an account, store the job, submit, answer);
only what differs per verb lives here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mjapi.domain.accounts import Account
from mjapi.domain.jobs import Button, Job
from mjapi.engine.requests import (
    BlendRequest,
    ButtonRequest,
    DescribeRequest,
    ImagineRequest,
    SettingRequest,
)
from mjapi.engine.resubmit import BUTTON_PROMPT
from mjapi.transports.base import ButtonTarget, Transport, Upload

SubmitFn = Callable[[Account, str], Awaitable[str]]


@dataclass(frozen=True)
class Plan:
    """What kind of job to create and how to send it."""

    verb: str
    fields: dict[str, Any]
    submit: SubmitFn
    takes_slot: bool = True
    #: answer only when the job has ended (settings commands are synchronous in useapi)
    until_done: bool = False
    #: the job this one acts on; it gets a ``children`` entry
    parent: Job | None = None
    child_button: str | None = None
    #: may wait in the durable queue (everything the submission needs is kept with the job)
    queueable: bool = True


def imagine(transport: Transport, request: ImagineRequest) -> Plan:
    async def submit(account: Account, jobid: str) -> str:
        return await transport.imagine(account, jobid, request.prompt)

    return Plan("imagine", {"prompt": request.prompt}, submit)


def button(transport: Transport, parent: Job, clicked: Button, request: ButtonRequest) -> Plan:
    target = ButtonTarget(
        parent.message_id or "", parent.message_flags, clicked.custom_id, parent.job_hash
    )

    async def submit(account: Account, jobid: str) -> str:
        return await transport.button(
            account, jobid, target, prompt=request.prompt, mask=request.mask
        )

    fields = {
        "button": request.button,
        "parent_job_id": parent.jobid,
        "prompt": request.prompt or parent.prompt,
        "extra": {BUTTON_PROMPT: request.prompt} if request.prompt else {},
    }
    # A mask is not kept with the job, so a Vary (Region) cannot wait in the queue.
    return Plan("button", fields, submit, parent=parent, queueable=request.mask is None)


def blend(transport: Transport, request: BlendRequest, images: Sequence[Upload]) -> Plan:
    async def submit(account: Account, jobid: str) -> str:
        return await transport.blend(account, jobid, images, request.dimensions)

    fields = {"blend_urls": request.urls, "blend_dimensions": request.dimensions.value}
    return Plan("blend", fields, submit)


def describe(transport: Transport, request: DescribeRequest, image: Upload) -> Plan:
    async def submit(account: Account, jobid: str) -> str:
        return await transport.describe(account, jobid, image)

    return Plan("describe", {"describe_url": request.url}, submit)


def seed(transport: Transport, parent: Job) -> Plan:
    target = ButtonTarget(parent.message_id or "", parent.message_flags, "", parent.job_hash)

    async def submit(account: Account, jobid: str) -> str:
        return await transport.seed(account, jobid, target)

    fields = {"parent_job_id": parent.jobid, "prompt": parent.prompt}
    return Plan("seed_async", fields, submit, parent=parent, child_button="seed")


def setting(transport: Transport, request: SettingRequest) -> Plan:
    async def submit(account: Account, jobid: str) -> str:
        return await transport.setting(account, jobid, request.setting)

    return Plan(request.setting.value, {}, submit, takes_slot=False, until_done=True)
