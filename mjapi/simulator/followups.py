"""The jobs a button starts: new grids, upscales and videos built from the parent's pixels.

Content labels follow reference §3.1 and captures 22-28: ``Variations (Strong) by``, ``Remix
(Strong) by`` when a remix edit changed the prompt, ``Zoom Out by``, ``Pan Left by``, a plain
imagine-like line for 🔄 (capture 24), ``Upscaled (Subtle) by`` (capture 26).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from mjapi.simulator import render_ops
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.custom_ids import ButtonAction, Kind
from mjapi.simulator.jobs import Job
from mjapi.simulator.media import Rendered, variant_seed
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.prompts import (
    aspect_ratio,
    batch_size,
    echo_prompt,
    with_parameter,
    zoom_factor,
)
from mjapi.simulator.render import (
    cell_size,
    compose_grid,
    render_cells,
    render_grid,
    split_grid,
)
from mjapi.simulator.results import JobResult, ResultKind
from mjapi.simulator.video import animate, batch_frames, encode_mp4

_ZOOM_OUT = {"50": 2.0, "75": 1.5}


@dataclass(frozen=True)
class Click:
    """A played click: who, where, on which result, which button."""

    ctx: InteractionContext
    origin: str
    result: JobResult
    custom_id: str
    action: ButtonAction


class JobFactory:
    """Builds the Job of each button (and of /imagine, /blend) with its renderer."""

    def __init__(self, core: BotCore) -> None:
        self._core = core

    def echo(self, prompt: str) -> str:
        config = self._core.config
        return echo_prompt(prompt, shorten_links=config.shorten_links, suffix=config.prompt_suffix)

    def _job(self, ctx: InteractionContext, origin: str, prompt: str, kind: ResultKind) -> Job:
        """A job whose ``render`` the caller sets (it needs the job's hash)."""
        mode = self._core.state.mode_of(ctx.user.id)
        return Job(ctx=ctx, prompt=prompt, origin=origin, mode=mode, kind=kind, render=_nothing)

    # -- slash commands ----------------------------------------------------------------------

    def imagine(self, ctx: InteractionContext, origin: str, raw_prompt: str) -> Job:
        prompt = self.echo(raw_prompt)
        if "--video" in prompt:
            return self.video(ctx, origin, prompt, self._stills(prompt))
        config, aspect = self._core.config, aspect_ratio(prompt)
        cell = cell_size(config.grid_size // 2, aspect)
        job = self._job(ctx, origin, prompt, ResultKind.GRID)
        if config.image_variants:
            seed = variant_seed(job.job_hash, config.image_variants)
            job.render = lambda: _grid(render_cells(seed, seed, cell, 4, captions=False))
            job.media_key = (seed, cell)
        else:
            job.render = lambda: _grid(
                render_cells(prompt, job.job_hash, cell, 4, captions=config.captions)
            )
        return job

    def _stills(self, prompt: str) -> Callable[[str, tuple[int, int], int], list[Image.Image]]:
        """The first frames of a new video batch for ``prompt`` (see ``video``)."""
        captions = self._core.config.captions
        return lambda h, cell, n: render_cells(prompt, h, cell, n, captions=captions)

    def blend(
        self, ctx: InteractionContext, origin: str, prompt: str, images: list[Image.Image]
    ) -> Job:
        cell = cell_size(self._core.config.grid_size // 2, aspect_ratio(prompt))
        job = self._job(ctx, origin, prompt, ResultKind.GRID)
        job.render = lambda: _grid(render_ops.blend(images, job.job_hash, cell))
        return job

    # -- buttons -----------------------------------------------------------------------------

    def for_click(self, click: Click, edited: str | None = None) -> Job:
        """The job of a new-grid, upscale or video button; ``edited`` a remix/zoom prompt."""
        prompt = self.echo(edited) if edited else click.result.prompt
        remixed = edited is not None and prompt != click.result.prompt
        builder = _BUILDERS[click.action.kind]
        job = builder(self, click, prompt, remixed)
        job.parent_id, job.clicked = click.result.message_id, click.custom_id
        return job

    def region(self, click: Click, edited: str | None, mask: Image.Image) -> Job:
        """Vary (Region) once the editor submitted its mask (reference §1.6)."""
        prompt = self.echo(edited) if edited else click.result.prompt
        label = "Remix (Region)" if prompt != click.result.prompt else "Variations (Region)"
        source = self._source(click)
        job = self._grid_job(click, prompt, label, lambda h: render_ops.region(source, mask, h))
        job.parent_id, job.clicked = click.result.message_id, click.custom_id
        return job

    def _source(self, click: Click) -> Image.Image:
        """The picture the button acts on, at the grid cell size."""
        result = click.result
        index = click.action.index if result.kind is ResultKind.GRID else 1
        image = result.cells[index - 1]
        return image.resize(cell_size(self._core.config.grid_size // 2, image.size))

    def _grid_job(
        self,
        click: Click,
        prompt: str,
        label: str | None,
        make_cells: Callable[[str], list[Image.Image]],
    ) -> Job:
        job = self._job(click.ctx, click.origin, prompt, ResultKind.GRID)
        job.label = label
        job.render = lambda: _grid(make_cells(job.job_hash))
        return job

    def _variation(self, click: Click, prompt: str, remixed: bool) -> Job:
        strong = click.ctx.user.id in self._core.state.high_variability
        strength = render_ops.STRONG if strong else render_ops.SUBTLE
        source = self._source(click)
        label = "Remix" if remixed else "Variations"
        return self._grid_job(
            click, prompt, label, lambda h: render_ops.variations(source, h, strength)
        )

    def _vary(self, click: Click, prompt: str, remixed: bool) -> Job:
        strong = click.action.detail == "high"
        which = "Strong" if strong else "Subtle"
        strength = render_ops.STRONG if strong else render_ops.SUBTLE
        source = self._source(click)
        label = f"Remix ({which})" if remixed else f"Variations ({which})"
        return self._grid_job(
            click, prompt, label, lambda h: render_ops.variations(source, h, strength)
        )

    def _reroll(self, click: Click, prompt: str, remixed: bool) -> Job:
        if click.result.kind is ResultKind.VIDEO_BATCH:
            return self.video(click.ctx, click.origin, prompt, self._stills(prompt))
        config, aspect = self._core.config, aspect_ratio(prompt)
        size, captions = config.grid_size, config.captions
        # capture 24: a reroll reads like a plain imagine, even after a remix edit
        return self._grid_job(
            click,
            prompt,
            None,
            lambda h: _cells(render_grid(prompt, h, size, aspect, captions=captions)),
        )

    def _pan(self, click: Click, prompt: str, remixed: bool) -> Job:
        direction = click.action.detail
        source, size = self._source(click), self._core.config.grid_size
        return self._grid_job(
            click,
            prompt,
            f"Pan {direction.capitalize()}",
            lambda h: render_ops.pan(source, direction, h, size),
        )

    def _zoom(self, click: Click, prompt: str, remixed: bool) -> Job:
        source, size = self._source(click), self._core.config.grid_size
        detail = click.action.detail
        if click.action.kind is Kind.CUSTOM_ZOOM:
            factor = zoom_factor(prompt)
        elif detail == "100":
            return self._grid_job(
                click, prompt, "Zoom Out", lambda h: render_ops.make_square(source, h, size)
            )
        else:
            factor = _ZOOM_OUT[detail]
        return self._grid_job(
            click, prompt, "Zoom Out", lambda h: render_ops.zoom_out(source, factor, h, size)
        )

    def _upscale(self, click: Click, prompt: str, remixed: bool) -> Job:
        model = click.action.detail  # e.g. v6r1_2x_subtle, v5_4x
        family, _, flavour = (
            model.rpartition("_") if model.endswith(("subtle", "creative")) else (model, "", "")
        )
        factor = 4 if "_4x" in model else 2
        label = f"Upscaled ({flavour.capitalize()})" if flavour else f"Upscaled ({factor}x)"
        source = click.result.cells[0]
        if click.result.kind is ResultKind.UPSCALED:
            # Redo Upscale starts again from the picked image, not from the last upscale
            source = source.resize(cell_size(self._core.config.grid_size // 2, source.size))
        creative = flavour == "creative"
        job = self._job(click.ctx, click.origin, prompt, ResultKind.UPSCALED)
        job.label, job.progress_label, job.upscaler = label, "Upscaling", family
        job.render = lambda: _single(render_ops.upscale(source, factor, creative))
        return job

    def _animate(self, click: Click, prompt: str, remixed: bool) -> Job:
        motion = click.action.detail
        video_prompt = with_parameter(with_parameter(prompt, "motion", motion), "video", "1")
        source = click.result.cells[0]

        def stills(job_hash: str, cell: tuple[int, int], count: int) -> list[Image.Image]:
            start = source.resize(cell)
            if click.action.kind is Kind.EXTEND:
                # an extension continues where the clip ended: from its last frame
                start = animate(start, self._core.config.video_frames, click.result.motion, 0.0)[-1]
            return render_ops.variations(start, job_hash, render_ops.SUBTLE / 2)[:count]

        job = self.video(click.ctx, click.origin, video_prompt, stills)
        job.motion = motion
        return job

    def video(
        self,
        ctx: InteractionContext,
        origin: str,
        prompt: str,
        stills: Callable[[str, tuple[int, int], int], list[Image.Image]],
    ) -> Job:
        """A batch of clips (useapi-v2 §10): one MP4 of the 2×2 batch, U1..U<n> to pick one."""
        config = self._core.config
        count = batch_size(prompt)
        clip = cell_size(
            config.video_size // 2 if count > 1 else config.video_size, aspect_ratio(prompt)
        )
        job = self._job(ctx, origin, prompt, ResultKind.VIDEO_BATCH)
        job.motion = "high" if "--motion high" in prompt else "low"

        def render() -> Rendered:
            cells = stills(job.job_hash, clip, count)
            clips = [
                animate(cell, config.video_frames, job.motion, index / 4)
                for index, cell in enumerate(cells)
            ]
            frames = batch_frames(clips)
            return Rendered(cells, frames[0], encode_mp4(frames, config.video_fps))

        job.render = render
        return job


def clip_of(result: JobResult, index: int, frames: int, fps: int) -> tuple[Image.Image, bytes]:
    """Clip ``index`` of a video batch as its own MP4 (U<i> on a batch), the same as in it."""
    still = result.cells[index - 1]
    return still, encode_mp4(animate(still, frames, result.motion, (index - 1) / 4), fps)


def _nothing() -> Rendered:
    raise AssertionError("the job's renderer was not set")


def _grid(cells: list[Image.Image]) -> Rendered:
    return Rendered(cells, compose_grid(cells))


def _single(image: Image.Image) -> Rendered:
    return Rendered([image], image)


def _cells(grid: Image.Image) -> list[Image.Image]:
    return split_grid(grid)


_BUILDERS: dict[Kind, Callable[[JobFactory, Click, str, bool], Job]] = {
    Kind.VARIATION: JobFactory._variation,
    Kind.VARY: JobFactory._vary,
    Kind.REROLL: JobFactory._reroll,
    Kind.PAN: JobFactory._pan,
    Kind.ZOOM: JobFactory._zoom,
    Kind.CUSTOM_ZOOM: JobFactory._zoom,
    Kind.UPSCALE: JobFactory._upscale,
    Kind.ANIMATE: JobFactory._animate,
    Kind.EXTEND: JobFactory._animate,
}

#: the buttons that start a job through the queue
JOB_BUTTONS = frozenset(_BUILDERS)
