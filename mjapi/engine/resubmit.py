"""Submitting a job from what the store holds: for jobs that waited in the durable queue.

A request submits its job directly with the inputs it validated. A queued job is submitted later
(when a slot frees, possibly after a restart), so everything it needs is read back from the job
itself: the prompt, the image URLs (downloaded now), the parent's button.
"""

from __future__ import annotations

import asyncio

from mjapi.domain.accounts import Account
from mjapi.domain.jobs import Job
from mjapi.engine.ports import Fetcher
from mjapi.errors import BadRequest, NotFound
from mjapi.storage.base import JobStore
from mjapi.transports.base import BlendDimensions, ButtonTarget, Transport

#: ``Job.extra`` key of a button request's own prompt (remix, Custom Zoom).
BUTTON_PROMPT = "button_prompt"
#: Verbs that may wait in the queue: the ones taking a slot whose inputs the job keeps.
QUEUEABLE = frozenset({"imagine", "blend", "describe", "button", "seed_async"})


class Resubmitter:
    def __init__(self, store: JobStore, transport: Transport, fetcher: Fetcher) -> None:
        self._store = store
        self._transport = transport
        self._fetcher = fetcher

    async def submit(self, job: Job, account: Account) -> str:
        """Send ``job`` to Midjourney on ``account``; returns the nonce (as the transport does)."""
        t, jobid = self._transport, job.jobid
        if job.verb == "imagine":
            return await t.imagine(account, jobid, job.prompt or "")
        if job.verb == "blend":
            images = await asyncio.gather(*(self._fetcher.image(u) for u in job.blend_urls))
            dimensions = BlendDimensions(job.blend_dimensions or BlendDimensions.SQUARE.value)
            return await t.blend(account, jobid, images, dimensions)
        if job.verb == "describe":
            return await t.describe(
                account, jobid, await self._fetcher.image(job.describe_url or "")
            )
        if job.verb == "button":
            target = await self._button_target(job)
            return await t.button(account, jobid, target, prompt=job.extra.get(BUTTON_PROMPT))
        if job.verb == "seed_async":
            parent = await self._parent(job)
            seed_target = ButtonTarget(
                parent.message_id or "", parent.message_flags, "", parent.job_hash
            )
            return await t.seed(account, jobid, seed_target)
        raise BadRequest(f"{job.verb} jobs cannot wait in the queue")

    async def _button_target(self, job: Job) -> ButtonTarget:
        parent = await self._parent(job)
        button = next((b for b in parent.buttons if b.label == job.button), None)
        if button is None:
            raise BadRequest(f"Button {job.button} not found in jobid {parent.jobid}")
        return ButtonTarget(
            parent.message_id or "", parent.message_flags, button.custom_id, parent.job_hash
        )

    async def _parent(self, job: Job) -> Job:
        parent = await self._store.get_job(job.parent_job_id or "")
        if parent is None:
            raise NotFound(f"Unable to locate job {job.parent_job_id}")
        return parent
