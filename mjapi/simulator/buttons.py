"""Button clicks (type 3), modals (type 5) and the Vary (Region) editor, played like Midjourney.

* U1-U4 on a grid answer at once with an "Image #N" type 19 reply (captures 17, 25, 27) and turn
  the U button primary on the grid; U1-U4 on a video batch likewise give "Video #N".
* new-grid, upscale and video buttons start a queued job (``jobs.py``); with remix mode on, the
  remixable ones first open a modal whose submit starts the job with the edited prompt.
* Custom Zoom always opens its modal; Vary (Region) opens the inpaint iframe (reference §1.6).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass

from PIL import Image

from mjapi.simulator import components, messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.custom_ids import ButtonAction, Kind
from mjapi.simulator.followups import JOB_BUTTONS, Click, JobFactory, clip_of
from mjapi.simulator.interactions import AcceptedClick, AcceptedModal
from mjapi.simulator.jobs import JobRunner
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.pending import PendingIframe, PendingModal
from mjapi.simulator.prompts import grid_filename
from mjapi.simulator.render import encode_png
from mjapi.simulator.results import JobResult, ResultKind
from mjapi.simulator.users import SimUser

#: buttons that open the remix modal when the user's remix mode is on (reference §1.6)
_REMIXABLE = {Kind.VARIATION, Kind.VARY, Kind.REROLL, Kind.PAN, Kind.ANIMATE, Kind.EXTEND}
#: a paragraph text input (Discord TextInputStyle.Paragraph)
_PARAGRAPH = 2


@dataclass(frozen=True)
class ModalSpec:
    custom_id: str
    title: str
    field_id: str
    label: str
    value: str


class ButtonPlayer:
    """Plays clicks, modal submits and region submits."""

    def __init__(self, core: BotCore, runner: JobRunner, factory: JobFactory) -> None:
        self._core = core
        self._runner = runner
        self._factory = factory

    # -- type 3 ------------------------------------------------------------------------------

    def click(self, user: SimUser, accepted: AcceptedClick, origin: str) -> None:
        ctx = self._core.interaction(user, accepted.channel, accepted.custom_id, accepted.nonce, 3)
        kind = accepted.action.kind
        if kind is Kind.CANCEL:
            self._core.spawn(self._cancel(ctx, accepted.action.job_hash))
            return
        result = self._core.state.results.by_message(accepted.message["id"])
        if result is None:  # a bookmark on a forgotten message: nothing to show
            self._core.spawn(self._core.acknowledge(ctx))
            return
        click = Click(ctx, origin, result, accepted.custom_id, accepted.action)
        self._core.spawn(self._play(click))

    async def _play(self, click: Click) -> None:
        kind = click.action.kind
        remix_on = click.ctx.user.id in self._core.state.remix
        opens_modal = kind is Kind.CUSTOM_ZOOM or (kind in _REMIXABLE and remix_on)
        if kind in JOB_BUTTONS and not opens_modal:
            self._runner.submit(self._factory.for_click(click))
            return
        await self._core.acknowledge(click.ctx)
        if kind is Kind.PICK:
            await self._pick(click)
        elif kind is Kind.VIDEO_PICK:
            await self._video_pick(click)
        elif kind is Kind.REGION:
            self._open_iframe(click)
        elif kind in JOB_BUTTONS or kind is Kind.DESCRIBE_PICK:
            self._open_modal(click, _modal_spec(click, self._core))
        # BOOKMARK: Midjourney only acknowledges; the describe buttons are played by DescribeFlow

    async def _cancel(self, ctx: InteractionContext, job_hash: str) -> None:
        await self._core.acknowledge(ctx)
        self._runner.cancel(job_hash)

    # -- U1-U4 -------------------------------------------------------------------------------

    async def _pick(self, click: Click) -> None:
        """ "Image #N": the N-th cell as its own message (captures 17, 25, 27)."""
        index, result = click.action.index, click.result
        cell = result.cells[index - 1]
        job_hash = str(uuid.uuid4())
        data = await asyncio.to_thread(encode_png, cell)
        attachment = self._publish(click, job_hash, "png", "image/png", data, cell)
        web = self._core.config.web_link_button
        buttons = components.single_image(job_hash, result.square, web)
        self._reply(click, f"Image #{index}", attachment, buttons, job_hash, (cell,))

    async def _video_pick(self, click: Click) -> None:
        """ "Video #N": one clip of a video batch (useapi-v2 §10)."""
        config, index = self._core.config, click.action.index
        still, data = await asyncio.to_thread(
            clip_of, click.result, index, config.video_frames, config.video_fps
        )
        job_hash = str(uuid.uuid4())
        attachment = self._publish(click, job_hash, "mp4", "video/mp4", data, still)
        buttons = components.single_video(job_hash, config.web_link_button)
        self._reply(click, f"Video #{index}", attachment, buttons, job_hash, (still,))

    def _publish(
        self, click: Click, job_hash: str, ext: str, ctype: str, data: bytes, image: Image.Image
    ) -> JsonObject:
        filename = grid_filename(click.result.prompt, click.ctx.user.username, job_hash, ext)
        return self._core.publish(
            click.ctx.channel, click.origin, filename, ctype, data, image.size
        )

    def _reply(
        self,
        click: Click,
        what: str,
        attachment: JsonObject,
        buttons: list[JsonObject],
        job_hash: str,
        cells: tuple[Image.Image, ...],
    ) -> None:
        core, ctx, result = self._core, click.ctx, click.result
        parent = core.state.message(ctx.channel.id, result.message_id)
        if parent is None:
            return
        content = f"**{result.prompt}** - {what} <@{ctx.user.id}>"
        reply = messages.button_reply(ctx, core.next_id(), content, parent)
        reply["attachments"], reply["components"] = [attachment], buttons
        core.post(ctx, reply)
        kind = (
            ResultKind.SINGLE
            if attachment["content_type"] == "image/png"
            else ResultKind.VIDEO_SINGLE
        )
        core.state.results.add(
            JobResult(
                message_id=reply["id"],
                channel_id=ctx.channel.id,
                user_id=ctx.user.id,
                job_hash=job_hash,
                prompt=result.prompt,
                kind=kind,
                cells=cells,
                motion=result.motion,
            )
        )
        core.mark_used(ctx, result.message_id, click.custom_id)

    # -- modals (reference §1.6) -------------------------------------------------------------

    def _open_modal(self, click: Click, spec: ModalSpec) -> None:
        ctx = click.ctx
        text_input = {
            "type": 4,
            "custom_id": spec.field_id,
            "label": spec.label,
            "style": _PARAGRAPH,
            "value": spec.value,
            "required": True,
            "min_length": 1,
            "max_length": 4000,
        }
        event: JsonObject = {
            **self._core.interaction_ids(ctx),
            "channel_id": ctx.channel.id,
            "custom_id": spec.custom_id,
            "title": spec.title,
            "components": [components.row(text_input)],
            "application": messages.application(),
        }
        if ctx.channel.guild_id is not None:
            event["guild_id"] = ctx.channel.guild_id
        pending = PendingModal(
            modal_id=ctx.interaction_id,
            user_id=ctx.user.id,
            channel_id=ctx.channel.id,
            custom_id=spec.custom_id,
            field_id=spec.field_id,
            action=click.action,
            message_id=click.result.message_id,
            clicked_custom_id=click.custom_id,
            origin=click.origin,
        )
        self._core.state.modals.add(pending.modal_id, pending)
        self._core.emit(ctx.user.id, "INTERACTION_MODAL_CREATE", event)

    def submit_modal(self, user: SimUser, accepted: AcceptedModal, origin: str) -> None:
        """Type 5: the job of the button that opened the modal, with the submitted prompt."""
        modal = accepted.modal
        ctx = self._core.interaction(user, accepted.channel, modal.custom_id, accepted.nonce, 5)
        result = self._core.state.results.by_message(modal.message_id)
        if result is None:
            self._core.spawn(self._core.acknowledge(ctx))
            return
        if modal.action.kind is Kind.DESCRIBE_PICK:
            self._runner.submit(self._factory.imagine(ctx, origin, accepted.prompt))
            return
        click = Click(ctx, modal.origin, result, modal.clicked_custom_id, modal.action)
        self._runner.submit(self._factory.for_click(click, edited=accepted.prompt))

    # -- Vary (Region) -----------------------------------------------------------------------

    def _open_iframe(self, click: Click) -> None:
        """``INTERACTION_IFRAME_MODAL_CREATE`` of the inpaint editor (reference §1.6, §2.4)."""
        ctx, token = click.ctx, secrets.token_hex(16)
        event: JsonObject = {
            **self._core.interaction_ids(ctx),
            "channel_id": ctx.channel.id,
            "custom_id": f"MJ::iframe::{token}",
            "title": "Vary (Region)",
            "application": messages.application(),
            "iframe_path": f"/inpaint/?custom_id={token}",
        }
        pending = PendingIframe(
            token=token,
            user_id=ctx.user.id,
            channel_id=ctx.channel.id,
            message_id=click.result.message_id,
            clicked_custom_id=click.custom_id,
            nonce=ctx.nonce,
            origin=click.origin,
        )
        self._core.state.iframes.add(token, pending)
        self._core.emit(ctx.user.id, "INTERACTION_IFRAME_MODAL_CREATE", event)

    def submit_region(self, pending: PendingIframe, prompt: str | None, mask: Image.Image) -> bool:
        """The editor's submit: the region job, carrying the click's nonce. False if gone."""
        state = self._core.state
        user, result = (
            state.users.get(pending.user_id),
            state.results.by_message(pending.message_id),
        )
        channel = state.channels.get(pending.channel_id)
        if user is None or result is None or channel is None:
            return False
        ctx = self._core.interaction(user, channel, pending.clicked_custom_id, pending.nonce, 3)
        parsed = Click(
            ctx, pending.origin, result, pending.clicked_custom_id, _region_action(result)
        )
        job = self._factory.region(parsed, prompt, mask)
        job.needs_ack = False  # the click was acknowledged when the editor opened
        self._runner.submit(job)
        return True


def _region_action(result: JobResult) -> ButtonAction:
    return ButtonAction(Kind.REGION, result.job_hash)


def _modal_spec(click: Click, core: BotCore) -> ModalSpec:
    """The modal of each button: the custom_ids of reference §1.6, the prompt prefilled."""
    action, result = click.action, click.result
    job_hash, prompt = result.job_hash, result.prompt
    high = 1 if click.ctx.user.id in core.state.high_variability else 0
    if action.kind is Kind.VARIATION:
        return ModalSpec(
            f"MJ::RemixModal::{job_hash}::{action.index}::{high}",
            "Remix Prompt",
            "MJ::RemixModal::new_prompt",
            "New prompt for image",
            prompt,
        )
    if action.kind is Kind.VARY:
        strong = 1 if action.detail == "high" else 0
        return ModalSpec(
            f"MJ::RemixModal::{job_hash}::1::{strong}",
            "Remix Prompt",
            "MJ::RemixModal::new_prompt",
            "New prompt for image",
            prompt,
        )
    if action.kind is Kind.PAN:
        return ModalSpec(
            f"MJ::PanModal::{action.detail}::{job_hash}::1",
            f"Pan {action.detail.capitalize()}",
            "MJ::PanModal::prompt",
            "Prompt",
            prompt,
        )
    if action.kind in (Kind.ANIMATE, Kind.EXTEND):
        extend = 1 if action.kind is Kind.EXTEND else 0
        return ModalSpec(
            f"MJ::AnimateModal::{job_hash}::1::{action.detail}::{extend}",
            "Animate",
            "MJ::AnimateModal::prompt",
            "Prompt",
            prompt,
        )
    if action.kind is Kind.CUSTOM_ZOOM:
        return ModalSpec(
            f"MJ::OutpaintCustomZoomModal::{job_hash}",
            "Zoom Out",
            "MJ::OutpaintCustomZoomModal::prompt",
            "Zoom out prompt",
            f"{prompt} --zoom 2",
        )
    if action.kind is Kind.DESCRIBE_PICK:
        return ModalSpec(
            f"MJ::Picreader::Modal::{action.index}",
            "Imagine This!",
            "MJ::Picreader::Modal::PromptField",
            "Prompt",
            result.suggestions[action.index - 1],
        )
    # 🔄 with remix on: the imagine modal of the grid message (reference §1.6)
    return ModalSpec(
        f"MJ::ImagineModal::{result.message_id}",
        "Remix Prompt",
        "MJ::ImagineModal::new_prompt",
        "Prompt",
        prompt,
    )
