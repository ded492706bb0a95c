"""The fake Midjourney Bot: answers accepted interactions on the gateway, step by step.

An /imagine plays the lifecycle of reference §2.5 (``jobs.py``); buttons and modals are played by
``buttons.py``, /describe by ``describe.py``, /info and /prefer by ``settings.py``, the ✉️ seed
DM by ``seed.py``. Per-user concurrency follows the plan; extra jobs get "Job queued" and start
later, beyond the wait queue "Queue full". Fault rules (``/_sim/faults``) change how a job is
answered (``fault_play.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mjapi.clock import Clock
from mjapi.simulator import messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.buttons import ButtonPlayer
from mjapi.simulator.commands import PLAYED_COMMANDS, PLAYED_PREFERENCES
from mjapi.simulator.config import SimulatorConfig
from mjapi.simulator.custom_ids import Kind
from mjapi.simulator.describe import (
    DescribeFlow,
    DescribeJob,
    open_image,
    suggestions,
    suggestions_for_link,
)
from mjapi.simulator.fault_play import FaultPlayer
from mjapi.simulator.faults import FaultControl
from mjapi.simulator.followups import JobFactory
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.jobs import JobRunner
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.pending import PendingIframe
from mjapi.simulator.prompts import short_link
from mjapi.simulator.seed import SeedFlow
from mjapi.simulator.settings import MODE_REPLIES, SettingsFlow
from mjapi.simulator.snowflake import SnowflakeFactory
from mjapi.simulator.state import SimChannel, SimulatorState
from mjapi.simulator.stats import JobStats
from mjapi.simulator.uploads import ResolvedFile
from mjapi.simulator.users import SimUser

log = logging.getLogger(__name__)

__all__ = ["MODE_REPLIES", "PLAYED_COMMANDS", "PLAYED_PREFERENCES", "MidjourneyBot", "Submission"]

#: "Duplicate images detected" (reference §4, ERT); the description was not captured
_DUPLICATE_IMAGES = (
    "Duplicate images detected",
    "It looks like you are trying to blend the same image twice. "
    "Please use different images and try again.",
    messages.ERROR_COLOUR,
)


@dataclass(frozen=True)
class Submission:
    """An application command Discord accepted (204), handed to the bot."""

    user: SimUser
    channel: SimChannel
    command: str
    #: option name -> value (attachment options resolved to ``ResolvedFile``)
    options: dict[str, Any]
    nonce: str | None
    #: scheme://host:port the client used, for the CDN URLs of the results
    origin: str


class MidjourneyBot:
    """Plays Midjourney's answers to accepted interactions as gateway events."""

    def __init__(
        self,
        config: SimulatorConfig,
        state: SimulatorState,
        hub: GatewayHub,
        snowflakes: SnowflakeFactory,
        clock: Clock,
        faults: FaultControl,
        stats: JobStats,
    ) -> None:
        self._core = BotCore(config, state, hub, snowflakes, clock, faults, stats)
        fault_player = FaultPlayer(self._core)
        self._runner = JobRunner(self._core, fault_player)
        self._factory = JobFactory(self._core)
        self._buttons = ButtonPlayer(self._core, self._runner, self._factory)
        self._describe = DescribeFlow(self._core, fault_player)
        self._settings = SettingsFlow(self._core)
        self._seed = SeedFlow(self._core)

    # -- entry points (REST handlers call these after validating) ----------------------------

    def submit(self, submission: Submission) -> None:
        """Answer an accepted command in the background (the HTTP 204 is not delayed)."""
        if self._nonce_reused(submission.user, submission.nonce):
            return
        command = submission.command
        if command == "prefer":
            command = f"prefer {next(iter(submission.options))}"
        ctx = self._core.interaction(submission.user, submission.channel, command, submission.nonce)
        self._play_command(ctx, submission)

    def click(self, user: SimUser, accepted: Any, origin: str) -> None:
        """A validated button click (``interactions.AcceptedClick``)."""
        if self._nonce_reused(user, accepted.nonce):
            return
        kind = accepted.action.kind
        if kind in (Kind.DESCRIBE_ALL, Kind.DESCRIBE_RETRY):
            self._describe_button(user, accepted, origin)
        else:
            self._buttons.click(user, accepted, origin)

    def submit_modal(self, user: SimUser, accepted: Any, origin: str) -> None:
        """A validated modal submit (``interactions.AcceptedModal``)."""
        if self._nonce_reused(user, accepted.nonce):
            return
        self._buttons.submit_modal(user, accepted, origin)

    def submit_region(self, pending: PendingIframe, prompt: str | None, mask: Image.Image) -> bool:
        """The Vary (Region) editor's submit (``/discordsays/inpaint/api/submit-job``)."""
        return self._buttons.submit_region(pending, prompt, mask)

    def reacted(self, user: SimUser, channel: SimChannel, message_id: str, origin: str) -> None:
        """A ✉️ reaction added on a message of the bot."""
        self._seed.reacted(user, channel, message_id, origin)

    def plan_changed(self, user: SimUser) -> None:
        """``/_sim/plans``: the user's queue follows the new plan's concurrency at once."""
        self._runner.resize(user.id, self._core.config.concurrency(user.plan))

    async def aclose(self) -> None:
        """Cancel everything the bot is doing (simulator shutdown)."""
        await self._core.aclose()

    # -- slash commands ----------------------------------------------------------------------

    def _nonce_reused(self, user: SimUser, nonce: str | None) -> bool:
        if nonce is not None and self._core.nonce_seen(user.id, nonce):
            log.info("nonce %s reused by user %s: no new interaction", nonce, user.id)
            return True
        return False

    def _play_command(self, ctx: InteractionContext, submission: Submission) -> None:
        options, origin = submission.options, submission.origin
        name = submission.command
        if name == "imagine":
            self._runner.submit(self._factory.imagine(ctx, origin, str(options["prompt"])))
        elif name == "blend":
            self._blend(ctx, options, origin)
        elif name == "describe":
            self._start_describe(ctx, options, origin)
        elif name == "info":
            running = sorted(
                job.job_hash for job in self._runner.running.values() if job.ctx.user == ctx.user
            )
            self._core.spawn(self._settings.info(ctx, running))
        elif name == "prefer":
            self._core.spawn(self._settings.prefer(ctx, next(iter(options))))
        else:
            self._core.spawn(self._settings.mode(ctx))

    def _blend(self, ctx: InteractionContext, options: dict[str, Any], origin: str) -> None:
        """/blend: 2-5 uploads mixed into a grid; the prompt is their short links (§3.1)."""
        files = [options[f"image{i}"] for i in range(1, 6) if f"image{i}" in options]
        uploads = [f for f in files if isinstance(f, ResolvedFile)]
        if len({f.data for f in uploads}) != len(uploads):
            self._core.spawn(self._refuse(ctx, _DUPLICATE_IMAGES, "/blend"))
            return
        pictures = [open_image(f.data) for f in uploads]
        if any(p is None for p in pictures):
            self._core.spawn(self._refuse(ctx, _INVALID_IMAGE, "/blend"))
            return
        links = " ".join(short_link(f.data)[0:] for f in uploads)
        dimensions = options.get("dimensions")
        prompt = f"{links} {dimensions}" if isinstance(dimensions, str) else links
        images = [p for p in pictures if p is not None]
        self._runner.submit(self._factory.blend(ctx, origin, prompt, images))

    async def _refuse(
        self, ctx: InteractionContext, embed: tuple[str, str, int], footer: str
    ) -> None:
        await self._core.acknowledge(ctx)
        self._core.post(ctx, messages.embed_reply(ctx, self._core.next_id(), embed, footer))

    def _start_describe(
        self, ctx: InteractionContext, options: dict[str, Any], origin: str
    ) -> None:
        upload = options.get("image")
        if isinstance(upload, ResolvedFile):
            picture = open_image(upload.data)
            if picture is None:
                self._core.spawn(self._refuse(ctx, _INVALID_IMAGE, "/describe"))
                return
            # the described picture is shown from the CDN under its uploaded name (§3.4)
            image = self._core.publish(
                ctx.channel, origin, upload.filename, "image/png", upload.data, picture.size
            )
            embed_image = _embed_image(image)
            prompts = suggestions(picture)
            self._describe.start(
                DescribeJob(ctx, picture, embed_image, prompts, upload.filename, origin)
            )
            return
        link = str(options["link"])
        picture = self._cdn_picture(link)
        prompts = suggestions(picture) if picture is not None else suggestions_for_link(link)
        image_json: JsonObject = {"url": link, "proxy_url": link}
        if picture is not None:
            image_json.update(width=picture.size[0], height=picture.size[1])
        self._describe.start(DescribeJob(ctx, picture, image_json, prompts, link, origin))

    def _cdn_picture(self, link: str) -> Image.Image | None:
        """A link to this simulator's CDN is read locally; the simulator fetches nothing else."""
        parts = link.split("?")[0].split("/attachments/")
        if len(parts) != 2 or parts[1].count("/") != 2:
            return None
        channel_id, attachment_id, filename = parts[1].split("/")
        file = self._core.state.attachments.get(channel_id, attachment_id, filename)
        return open_image(file.data) if file is not None else None

    def _describe_button(self, user: SimUser, accepted: Any, origin: str) -> None:
        result = self._core.state.results.by_message(accepted.message["id"])
        if result is None:
            return
        ctx = self._core.interaction(user, accepted.channel, accepted.custom_id, accepted.nonce, 3)
        if accepted.action.kind is Kind.DESCRIBE_RETRY:
            image = accepted.message["embeds"][0]["image"]
            self._describe.retry(ctx, result, image, origin)
            return
        # 🎉 Imagine all: one /imagine per suggested prompt
        for prompt in result.suggestions:
            self._runner.submit(self._factory.imagine(ctx, origin, prompt))


_INVALID_IMAGE = (
    "Invalid image",
    "The image could not be read. Please upload a PNG, JPEG, GIF or WebP image.",
    messages.ERROR_COLOUR,
)


def _embed_image(attachment: JsonObject) -> JsonObject:
    return {
        "url": attachment["url"],
        "proxy_url": attachment["proxy_url"],
        "width": attachment["width"],
        "height": attachment["height"],
    }
