"""The fake Midjourney Bot: answers accepted commands on the gateway, step by step.

An /imagine plays the lifecycle of reference §2.5: INTERACTION_CREATE, INTERACTION_SUCCESS,
"Waiting to start" (MESSAGE_CREATE with the nonce), progress edits with previews, the result grid
as a new message, and the deletion of the progress message. Per-user concurrency follows the
plan; extra jobs get "Job queued" and start later, beyond the wait queue "Queue full".
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from mjapi.clock import Clock
from mjapi.simulator import messages
from mjapi.simulator.cdn import StoredFile
from mjapi.simulator.config import PLAN_CONCURRENCY, SimulatorConfig
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.prompts import echo_prompt, grid_filename, preview_filename
from mjapi.simulator.render import encode_png, render_grid, render_preview
from mjapi.simulator.scheduler import Admission, JobQueue
from mjapi.simulator.snowflake import SnowflakeFactory, discord_timestamp
from mjapi.simulator.state import SimChannel, SimulatorState
from mjapi.simulator.users import SimUser

log = logging.getLogger(__name__)

#: the commands the bot plays; REST refuses the others with a clear "not implemented" 400
PLAYED_COMMANDS = frozenset({"imagine", "fast", "relax", "turbo"})

#: /fast, /relax, /turbo: the job mode they select and the bot's answer. The /relax text is
#: quoted in reference §3.4; the other two were not captured and follow its wording.
MODE_REPLIES = {
    "relax": (
        "relaxed",
        "Done! Your jobs now do not consume fast-hours, but might take a little longer. "
        "You can always switch back with /fast",
    ),
    "fast": (
        "fast",
        "Done! Your jobs now consume fast-hours. You can always switch back with /relax",
    ),
    "turbo": (
        "turbo",
        "Done! Your jobs now run in turbo mode and consume twice the fast-hours. "
        "You can always switch back with /fast",
    ),
}

#: nonces remembered per user: a reused nonce creates no new job (reference §1.7)
_NONCE_MEMORY = 1000


@dataclass(frozen=True)
class Submission:
    """An application command Discord accepted (204), handed to the bot."""

    user: SimUser
    channel: SimChannel
    command: str
    #: option name -> value
    options: dict[str, Any]
    nonce: str | None
    #: scheme://host:port the client used, for the CDN URLs of the results
    origin: str


@dataclass
class ImagineJob:
    """One /imagine from acceptance to result."""

    ctx: InteractionContext
    prompt: str
    origin: str
    mode: str
    job_hash: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: set once INTERACTION_SUCCESS went out: no job message may precede it
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)


class MidjourneyBot:
    """Plays Midjourney's answers to accepted commands as gateway events."""

    def __init__(
        self,
        config: SimulatorConfig,
        state: SimulatorState,
        hub: GatewayHub,
        snowflakes: SnowflakeFactory,
        clock: Clock,
    ) -> None:
        self._config = config
        self._state = state
        self._hub = hub
        self._snowflakes = snowflakes
        self._clock = clock
        self._queues: dict[str, JobQueue[ImagineJob]] = {}
        self._nonces: dict[str, OrderedDict[str, None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def submit(self, submission: Submission) -> None:
        """Answer an accepted command in the background (the HTTP 204 is not delayed)."""
        if submission.nonce is not None and self._nonce_seen(submission.user.id, submission.nonce):
            log.info("nonce %s reused by user %s: no new job", submission.nonce, submission.user.id)
            return
        ctx = InteractionContext(
            user=submission.user,
            channel=submission.channel,
            command=submission.command,
            interaction_id=self._snowflakes.next(),
            nonce=submission.nonce,
        )
        if submission.command == "imagine":
            self._submit_imagine(ctx, submission)
        else:
            self._spawn(self._answer_mode_command(ctx))

    async def aclose(self) -> None:
        """Cancel everything the bot is doing (simulator shutdown)."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- bookkeeping -------------------------------------------------------------------------

    def _nonce_seen(self, user_id: str, nonce: str) -> bool:
        seen = self._nonces.setdefault(user_id, OrderedDict())
        if nonce in seen:
            return True
        seen[nonce] = None
        if len(seen) > _NONCE_MEMORY:
            seen.popitem(last=False)
        return False

    def _queue(self, user: SimUser) -> JobQueue[ImagineJob]:
        if user.id not in self._queues:
            concurrency = PLAN_CONCURRENCY[user.plan]
            self._queues[user.id] = JobQueue(concurrency, self._config.wait_queue_size)
        return self._queues[user.id]

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulated bot task failed", exc_info=task.exception())

    # -- gateway output ----------------------------------------------------------------------

    def _emit(self, ctx: InteractionContext, event: str, data: JsonObject) -> None:
        self._hub.dispatch(ctx.user.id, event, data)

    def _post(self, ctx: InteractionContext, message: JsonObject) -> None:
        # Ephemeral messages reach the gateway only; Discord never lists them in channel history.
        if not message["flags"] & messages.EPHEMERAL:
            self._state.save_message(messages.stored(message))
        self._emit(ctx, "MESSAGE_CREATE", message)

    def _edit(self, ctx: InteractionContext, message: JsonObject) -> None:
        self._state.save_message(message)
        self._emit(ctx, "MESSAGE_UPDATE", message)

    def _delete(self, ctx: InteractionContext, message_id: str) -> None:
        self._state.delete_message(ctx.channel.id, message_id)
        self._emit(ctx, "MESSAGE_DELETE", messages.deleted(ctx.channel, message_id))

    async def _step(self) -> None:
        await asyncio.sleep(self._config.step_delay)

    async def _acknowledge(self, ctx: InteractionContext) -> None:
        """INTERACTION_CREATE now, INTERACTION_SUCCESS when the bot took it (captures 04, 05)."""
        ids: JsonObject = {"id": ctx.interaction_id}
        if ctx.nonce is not None:
            ids["nonce"] = ctx.nonce
        self._emit(ctx, "INTERACTION_CREATE", dict(ids))
        await self._step()
        self._emit(ctx, "INTERACTION_SUCCESS", dict(ids))

    # -- /fast /relax /turbo -----------------------------------------------------------------

    async def _answer_mode_command(self, ctx: InteractionContext) -> None:
        mode, reply = MODE_REPLIES[ctx.command]
        await self._acknowledge(ctx)
        self._state.modes[ctx.user.id] = mode
        self._post(ctx, messages.text_reply(ctx, self._snowflakes.next(), reply))

    # -- /imagine ----------------------------------------------------------------------------

    def _submit_imagine(self, ctx: InteractionContext, submission: Submission) -> None:
        prompt = str(submission.options["prompt"])
        job = ImagineJob(ctx, prompt, submission.origin, self._state.mode_of(ctx.user.id))
        # Decided on arrival, so jobs are admitted in the order Discord accepted them.
        admission = self._queue(ctx.user).admit(job)
        self._spawn(self._answer_imagine(job, admission))

    async def _answer_imagine(self, job: ImagineJob, admission: Admission) -> None:
        await self._acknowledge(job.ctx)
        job.acknowledged.set()
        if admission is Admission.START:
            await self._play(job)
        else:
            embed = messages.JOB_QUEUED if admission is Admission.QUEUE else messages.QUEUE_FULL
            footer = f"/imagine {job.prompt}"
            self._post(
                job.ctx, messages.embed_reply(job.ctx, self._snowflakes.next(), embed, footer)
            )

    async def _play(self, job: ImagineJob) -> None:
        """Run a job holding a slot; hand the slot to the next waiting job afterwards."""
        try:
            await job.acknowledged.wait()
            await self._run_imagine(job)
        finally:
            if not self._closing:
                successor = self._queue(job.ctx.user).finish()
                if successor is not None:
                    self._spawn(self._play(successor))

    async def _run_imagine(self, job: ImagineJob) -> None:
        ctx, user_id = job.ctx, job.ctx.user.id
        echoed = echo_prompt(
            job.prompt, shorten_links=self._config.shorten_links, suffix=self._config.prompt_suffix
        )
        waiting = messages.waiting_message(ctx, self._snowflakes.next(), echoed)
        self._post(ctx, waiting)
        grid = await asyncio.to_thread(
            render_grid, job.prompt, job.job_hash, self._config.grid_size
        )
        for percent in self._config.progress_points:
            await self._step()
            preview = await self._publish_preview(job, grid, percent)
            content = messages.progress_content(echoed, user_id, percent, job.mode)
            edited_at = discord_timestamp(self._clock.now())
            self._edit(ctx, messages.progress_edit(waiting, content, preview, edited_at))
        await self._step()
        attachment = await self._publish_grid(job, grid)
        components = messages.grid_components(job.job_hash, self._config.web_link_button)
        content = messages.done_content(echoed, user_id, job.mode)
        result = messages.result_message(
            ctx, self._snowflakes.next(), content, attachment, components, self._config.final_nonce
        )
        self._post(ctx, result)
        self._delete(ctx, waiting["id"])

    async def _publish_preview(
        self, job: ImagineJob, grid: Image.Image, percent: int
    ) -> JsonObject:
        size = self._config.preview_size
        data = await asyncio.to_thread(render_preview, grid, percent, size)
        filename = preview_filename(job.job_hash)
        return self._publish(job, filename, "image/webp", data, size)

    async def _publish_grid(self, job: ImagineJob, grid: Image.Image) -> JsonObject:
        data = await asyncio.to_thread(encode_png, grid)
        filename = grid_filename(job.prompt, job.ctx.user.username, job.job_hash)
        return self._publish(job, filename, "image/png", data, self._config.grid_size)

    def _publish(
        self, job: ImagineJob, filename: str, content_type: str, data: bytes, size: int
    ) -> JsonObject:
        file = StoredFile(
            channel_id=job.ctx.channel.id,
            attachment_id=self._snowflakes.next(),
            filename=filename,
            content_type=content_type,
            data=data,
            width=size,
            height=size,
        )
        return self._state.attachments.publish(file, job.origin)
