"""Job faults, played: the bot answers a matching job with the rule's outcome (``faults.py``).

Two families. Most faults *replace* the job: the interaction is acknowledged as usual, then the
bot posts an error embed, an unclassifiable message, or nothing at all (``replace``). Three let
the job start and change how it runs, so the job flows play them themselves: ``job_queued`` ("Job
queued" first, the normal run ``queued_delay`` seconds later), ``output_filter`` (some progress,
then the progress message goes and "Request cancelled due to output filters" comes) and ``stall``
(one progress update, then nothing).
"""

from __future__ import annotations

import logging
import uuid

from mjapi.simulator import messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.fault_replies import (
    CAPTCHA_SIZE,
    captcha_picture,
    refusal_message,
    unrecognized_message,
    with_image,
)
from mjapi.simulator.faults import FaultRule
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.objects import JsonObject

log = logging.getLogger(__name__)


class FaultPlayer:
    """Finds the fault rule of a job and plays the faults that replace a job."""

    def __init__(self, core: BotCore) -> None:
        self._core = core

    def check(self, ctx: InteractionContext, prompt: str) -> FaultRule | None:
        """The rule that applies to this job (one of its uses is spent), if any."""
        rule = self._core.faults.take_job(ctx.user.id, prompt)
        if rule is not None:
            self._core.stats.faulted += 1
            log.info("fault %s (%s) applies to a job of user %s", rule.fault, rule.id, ctx.user.id)
        return rule

    def queued_delay(self, rule: FaultRule) -> float:
        """Seconds between "Job queued" and the start under ``job_queued``."""
        return rule.delay if rule.delay is not None else 2 * self._core.config.step_delay

    async def replace(
        self,
        ctx: InteractionContext,
        rule: FaultRule,
        prompt: str,
        origin: str,
        *,
        acknowledge: bool = True,
    ) -> None:
        """The job's whole answer under a fault that keeps it from starting.

        ``acknowledge``: False when the interaction was acknowledged already (Vary (Region)'s
        editor submit); an ``interaction_failure`` is then just silence.
        """
        core = self._core
        if rule.fault == "interaction_failure":
            if acknowledge:
                await core.fail_interaction(ctx)
            return
        if acknowledge:
            await core.acknowledge(ctx)
        if rule.fault == "silent":
            return
        if rule.fault == "unrecognized":
            core.post(ctx, unrecognized_message(ctx, core.next_id()))
            return
        core.post(ctx, self.refusal(ctx, rule.fault, prompt, origin, hint=rule.prompt_contains))

    def refusal(
        self,
        ctx: InteractionContext,
        fault: str,
        prompt: str,
        origin: str,
        *,
        hint: str | None = None,
    ) -> JsonObject:
        """The error embed of ``fault`` (the CAPTCHA's picture published on the CDN)."""
        core, job_hash = self._core, str(uuid.uuid4())
        message = refusal_message(ctx, core.next_id(), fault, prompt, hint=hint, job_hash=job_hash)
        if fault != "captcha":
            return message
        png = captcha_picture(job_hash)
        picture = core.publish(
            ctx.channel, origin, f"{job_hash}.png", "image/png", png, CAPTCHA_SIZE
        )
        return with_image(message, picture)

    def post_queued(self, ctx: InteractionContext, prompt: str) -> None:
        """The "Job queued" embed (capture 14) a ``job_queued`` job shows before it starts."""
        core, footer = self._core, f"/imagine {prompt}"
        core.post(ctx, messages.embed_reply(ctx, core.next_id(), messages.JOB_QUEUED, footer))
