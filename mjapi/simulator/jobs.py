"""Jobs that take time (imagine, blend, the new-grid buttons, upscalers, videos), played alike.

Lifecycle (reference §2.5; captures 01-13): "Waiting to start" carrying the nonce, progress edits
with a preview and a Cancel Job button, the result as a new message, then the deletion of the
progress message. Slash-command jobs start with a type 20 reply; button jobs with an ephemeral
type 19 reply to the clicked message (captures 12, 13) and end with a type 19 reply to it
(captures 22-28). Jobs count against the plan's concurrency and queue like /imagine.

Fault rules (``fault_play.py``) are checked when a job arrives; a button job matches on its
parent's prompt.

A job's pictures and files are all made when it starts, in one worker thread (``media.py``);
each step then only publishes and sends.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from mjapi.simulator import components, messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.fault_play import FaultPlayer
from mjapi.simulator.faults import RUNNING_FAULTS
from mjapi.simulator.gateway_protocol import EditTemplate
from mjapi.simulator.media import JobMedia, Rendered, make_media
from mjapi.simulator.messages import EPHEMERAL, InteractionContext
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.prompts import batch_size, grid_filename, preview_filename
from mjapi.simulator.render import preview_size
from mjapi.simulator.results import JobResult, ResultKind
from mjapi.simulator.scheduler import Admission

#: the fields in which a job's progress edits differ: the rest of every edit is the waiting
#: message's, and the same Cancel Job row (``messages.progress_edit``)
_PROGRESS_FIELDS = frozenset({"content", "attachments", "edited_timestamp"})


@dataclass
class Job:
    """One job from acceptance to result."""

    ctx: InteractionContext
    #: the prompt as the messages show it between ``**``
    prompt: str
    origin: str
    mode: str
    kind: ResultKind
    #: makes the output; runs in a worker thread
    render: Callable[[], Rendered]
    #: jobs with the same key show the same media, made once (``image_variants``); None: its own
    media_key: Hashable | None = None
    #: "Variations (Strong)" etc.: content ``- <label> by <@user>``; None reads like /imagine
    label: str | None = None
    #: the progress wording when it differs from ``label`` ("Upscaling", reference §3.1)
    progress_label: str | None = None
    #: the message whose button started the job (None for slash commands)
    parent_id: str | None = None
    #: the custom_id clicked on it, turned primary once the job is taken
    clicked: str | None = None
    #: the upscaler family for the Redo buttons (capture 26)
    upscaler: str = components.UPSCALER
    motion: str = "low"
    job_hash: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: set once INTERACTION_SUCCESS went out: no job message may precede it
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    #: set by Cancel Job: the job stops before its next step
    cancelled: bool = False
    #: False when the interaction was already acknowledged (Vary (Region): the click was)
    needs_ack: bool = True
    #: "output_filter" or "stall": the fault that changes how the job runs (``fault_play.py``)
    fault: str | None = None

    def content(self, status: str | None) -> str:
        """``**prompt** - [<label> by ]<@user> [(status) ](mode)`` (reference §3.1)."""
        by = f"{self.label} by " if self.label else ""
        if status is not None and status.endswith("%") and self.progress_label:
            by = f"{self.progress_label} by "
        state = f"({status}) " if status else ""
        return f"**{self.prompt}** - {by}<@{self.ctx.user.id}> {state}({self.mode})"


class JobRunner:
    """Admits jobs to the user's queue and plays them."""

    def __init__(self, core: BotCore, faults: FaultPlayer) -> None:
        self._core = core
        self._faults = faults
        #: running jobs by hash, for Cancel Job
        self.running: dict[str, Job] = {}

    def submit(self, job: Job) -> None:
        """Admit ``job`` now (arrival order) and play it in the background."""
        rule = self._faults.check(job.ctx, self._fault_prompt(job))
        if rule is not None and rule.fault not in RUNNING_FAULTS:
            answer = self._faults.replace(
                job.ctx, rule, job.prompt, job.origin, acknowledge=job.needs_ack
            )
            self._core.spawn(answer)
            return
        if rule is not None and rule.fault == "job_queued":
            self._core.spawn(self._queued_first(job, self._faults.queued_delay(rule)))
            return
        job.fault = rule.fault if rule is not None else None
        admission = self._core.queue(job.ctx.user).admit(job)
        self._core.spawn(self._answer(job, admission))

    def resize(self, user_id: str, concurrency: int) -> None:
        """The user's plan changed: waiting jobs start in the slots it freed."""
        queue = self._core.queues.get(user_id)
        if queue is None:
            return
        for job in queue.resize(concurrency):
            self._core.spawn(self._play(job))

    def _fault_prompt(self, job: Job) -> str:
        """What ``prompt_contains`` is matched against: a button job's parent's prompt."""
        if job.parent_id is None:
            return job.prompt
        parent = self._core.state.results.by_message(job.parent_id)
        return parent.prompt if parent is not None else job.prompt

    async def _answer(self, job: Job, admission: Admission) -> None:
        await self._take(job)
        if admission is Admission.START:
            await self._play(job)
            return
        embed = messages.JOB_QUEUED if admission is Admission.QUEUE else messages.QUEUE_FULL
        self._post_embed(job, embed)

    async def _take(self, job: Job) -> None:
        """Midjourney took the interaction: acknowledged, the clicked button turns primary."""
        if job.needs_ack:
            await self._core.acknowledge(job.ctx)
        job.acknowledged.set()
        if job.parent_id is not None and job.clicked is not None:
            # the used button turns primary once Midjourney took the click (captures 22, 27)
            self._core.mark_used(job.ctx, job.parent_id, job.clicked)

    def _post_embed(self, job: Job, embed: tuple[str, str, int]) -> None:
        footer = f"/imagine {job.prompt}"
        reply = messages.embed_reply(job.ctx, self._core.next_id(), embed, footer)
        self._core.post(job.ctx, reply)

    async def _queued_first(self, job: Job, delay: float) -> None:
        """``job_queued``: "Job queued" at once, then the job joins the queue ``delay`` later."""
        await self._take(job)
        self._faults.post_queued(job.ctx, job.prompt)
        await asyncio.sleep(delay)
        admission = self._core.queue(job.ctx.user).admit(job)
        if admission is Admission.START:
            await self._play(job)
        elif admission is Admission.REJECT:
            self._post_embed(job, messages.QUEUE_FULL)
        # QUEUE: the user was told already; the job starts when a slot frees

    async def _play(self, job: Job) -> None:
        """Run a job holding a slot; hand the slot to the next waiting job afterwards."""
        try:
            await job.acknowledged.wait()
            self.running[job.job_hash] = job
            await self._run(job)
        finally:
            self.running.pop(job.job_hash, None)
            if not self._core.closing:
                successor = self._core.queue(job.ctx.user).finish()
                if successor is not None:
                    self._core.spawn(self._play(successor))

    def cancel(self, job_hash: str) -> Job | None:
        """Stop a running job: its progress message goes, no result comes (capture 12)."""
        job = self.running.get(job_hash)
        if job is not None and not job.cancelled:
            job.cancelled = True
            return job
        return None

    async def _run(self, job: Job) -> None:
        core, ctx = self._core, job.ctx
        waiting = self._waiting_message(job)
        core.post(ctx, waiting)
        core.stats.started += 1
        points = self._progress_points(job)
        media = await self._media(job, points)
        if not await self._progress(job, waiting, media, points):
            return self._stop(job, waiting)
        if job.fault == "stall":
            return None  # nothing more ever comes; the slot frees, as after Midjourney's timeout
        await core.step()
        if job.cancelled:
            return self._stop(job, waiting)
        if job.fault == "output_filter":
            # like a result (capture 03): the new message first, then the progress one goes
            core.post(ctx, self._faults.refusal(ctx, "output_filter", job.prompt, job.origin))
            return self._stop(job, waiting)
        attachment = self._publish_result(job, media)
        result = self._result_message(job, attachment)
        core.post(ctx, result)
        core.delete(ctx.user.id, ctx.channel, waiting["id"])
        core.state.results.add(self._remember(job, result, media.rendered))
        core.stats.completed += 1
        return None

    async def _progress(
        self, job: Job, waiting: JsonObject, media: JobMedia, points: tuple[int, ...]
    ) -> bool:
        """The progress edits, a step apart; False as soon as the job is cancelled."""
        core = self._core
        dims = preview_size(media.rendered.picture, core.config.preview_size)
        cancel = components.cancel_row(job.job_hash)
        template: EditTemplate | None = None
        for percent in points:
            await core.step()
            if job.cancelled:
                return False
            preview = self._publish_preview(job, media.previews[percent], dims)
            content = job.content(f"{percent}%")
            edit = messages.progress_edit(waiting, content, preview, core.now(), cancel)
            template = template or EditTemplate(edit, _PROGRESS_FIELDS)
            core.edit(job.ctx, edit, template.encode(edit))
        return True

    async def _media(self, job: Job, points: tuple[int, ...]) -> JobMedia:
        """The job's media, made in a worker thread, or shared with jobs of its ``media_key``."""
        preview_side = self._core.config.preview_size
        if job.media_key is None:
            make = functools.partial(make_media, job.render, points, preview_side)
            return await asyncio.to_thread(make, with_result=job.fault is None)
        key = (job.media_key, points)
        media = self._core.media.get(key)
        if media is None:
            # shared media always carry the result: a later job of the key may deliver one
            make = functools.partial(make_media, job.render, points, preview_side)
            media = await asyncio.to_thread(make, with_result=True)
            self._core.media.put(key, media)
        return media

    def _progress_points(self, job: Job) -> tuple[int, ...]:
        """The updates a job shows: all; one if it stalls; the first half if it gets filtered."""
        points = self._core.config.progress_points
        if job.fault == "stall":
            return points[:1]
        if job.fault == "output_filter":
            return points[: max(1, len(points) // 2)]
        return points

    def _stop(self, job: Job, waiting: JsonObject) -> None:
        self._core.delete(job.ctx.user.id, job.ctx.channel, waiting["id"])

    def _waiting_message(self, job: Job) -> JsonObject:
        ctx, core = job.ctx, self._core
        parent = self._parent(job)
        if parent is None:
            return messages.waiting_message(ctx, core.next_id(), job.prompt)
        content = messages.waiting_content(job.prompt, ctx.user.id)
        waiting = messages.button_reply(ctx, core.next_id(), content, parent, flags=EPHEMERAL)
        waiting["components"] = components.cancel_row(job.job_hash)
        return waiting

    def _parent(self, job: Job) -> JsonObject | None:
        if job.parent_id is None:
            return None
        return self._core.state.message(job.ctx.channel.id, job.parent_id)

    def _result_message(self, job: Job, attachment: JsonObject) -> JsonObject:
        core, ctx = self._core, job.ctx
        content = job.content(None)
        buttons = self._buttons(job)
        parent = self._parent(job)
        with_nonce = core.config.final_nonce
        if parent is None:
            return messages.result_message(
                ctx, core.next_id(), content, attachment, buttons, with_nonce
            )
        result = messages.button_reply(ctx, core.next_id(), content, parent, with_nonce=with_nonce)
        result["attachments"] = [attachment]
        result["components"] = buttons
        return result

    def _buttons(self, job: Job) -> list[JsonObject]:
        web = self._core.config.web_link_button
        if job.kind is ResultKind.UPSCALED:
            return components.upscaled(job.job_hash, job.upscaler, web)
        if job.kind is ResultKind.VIDEO_BATCH:
            return components.video_batch(job.job_hash, self._batch_size(job), web)
        return components.grid(job.job_hash, web)

    @staticmethod
    def _batch_size(job: Job) -> int:
        return batch_size(job.prompt)

    def _publish_preview(self, job: Job, data: bytes, dims: tuple[int, int]) -> JsonObject:
        return self._core.publish(
            job.ctx.channel, job.origin, preview_filename(job.job_hash), "image/webp", data, dims
        )

    def _publish_result(self, job: Job, media: JobMedia) -> JsonObject:
        file = media.result
        assert file is not None, "media made without a result for a job that delivers one"
        filename = grid_filename(job.prompt, job.ctx.user.username, job.job_hash, file.extension)
        return self._core.publish(
            job.ctx.channel,
            job.origin,
            filename,
            file.content_type,
            file.data,
            media.rendered.picture.size,
        )

    @staticmethod
    def _remember(job: Job, message: JsonObject, rendered: Rendered) -> JobResult:
        return JobResult(
            message_id=message["id"],
            channel_id=job.ctx.channel.id,
            user_id=job.ctx.user.id,
            job_hash=job.job_hash,
            prompt=job.prompt,
            kind=job.kind,
            cells=tuple(rendered.cells),
            motion=job.motion,
        )
