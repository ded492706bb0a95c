"""``/describe``: four prompts for an image (reference §3.4; useapi-v2 §5.4).

The bot first posts a reply with no embed, then edits it to the result: one rich embed whose
description holds the four prompts, each after a keycap emoji and separated by blank lines, and
whose image is the described picture; buttons 1️⃣-4️⃣, 🔄 and 🎉 Imagine all. The prompts are
derived from the image's colours and shape, so the same image always gets the same prompts.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageStat, UnidentifiedImageError

from mjapi.simulator import components, messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.fault_play import FaultPlayer
from mjapi.simulator.faults import RUNNING_FAULTS, FaultRule
from mjapi.simulator.messages import InteractionContext
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.results import JobResult, ResultKind

#: the embed colour of the captured-by-projects describe answers is not known; MJ's blurple-ish
_COLOUR = 0x5865F2
_KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
_PALETTE = {
    "crimson": (200, 30, 50),
    "coral": (250, 120, 90),
    "amber": (240, 170, 40),
    "golden": (220, 190, 90),
    "olive": (120, 130, 50),
    "emerald": (40, 160, 90),
    "teal": (30, 130, 140),
    "azure": (60, 140, 230),
    "navy": (30, 40, 110),
    "violet": (130, 70, 190),
    "magenta": (200, 50, 160),
    "ivory": (240, 235, 220),
    "charcoal": (50, 50, 55),
    "slate grey": (120, 125, 135),
    "sepia": (140, 100, 70),
}
_TEMPLATES = (
    "a {a} and {b} landscape bathed in soft light, {c} accents, {mood} atmosphere, wide shot",
    "{a} abstract shapes over a {b} background, flat vector illustration, {mood} palette",
    "a {mood} still life in {a}, {b} and {c} tones, oil painting, gentle brushwork",
    "close-up of {b} textures with {a} highlights, studio photography, shallow depth of field",
)


def suggestions(image: Image.Image) -> tuple[str, ...]:
    """Four prompts from the image's main colours, brightness and aspect ratio."""
    colours = _main_colours(image)
    a, b, c = (colours * 3)[:3]
    brightness = ImageStat.Stat(image.convert("L")).mean[0]
    mood = "bright airy" if brightness > 150 else "moody" if brightness < 90 else "calm"
    aspect = _aspect(image.size)
    return tuple(
        f"{template.format(a=a, b=b, c=c, mood=mood)} --ar {aspect}" for template in _TEMPLATES
    )


def suggestions_for_link(link: str) -> tuple[str, ...]:
    """Prompts for a link the simulator cannot fetch: a colour image seeded by the link."""
    digest = hashlib.sha256(link.encode()).digest()
    image = Image.new("RGB", (64, 64), (digest[0], digest[1], digest[2]))
    image.paste((digest[3], digest[4], digest[5]), (0, 32, 64, 64))
    return suggestions(image)


def _main_colours(image: Image.Image) -> list[str]:
    small = image.convert("RGB").resize((32, 32))
    quantized = small.quantize(colors=3, method=Image.Quantize.MEDIANCUT)
    palette: list[int] = list(quantized.getpalette() or [])
    counts = sorted(quantized.getcolors() or [], reverse=True)
    names: list[str] = []
    for _, index in counts:
        assert isinstance(index, int)
        rgb = tuple(palette[index * 3 : index * 3 + 3])
        name = min(_PALETTE, key=lambda n: math.dist(_PALETTE[n], rgb))
        if name not in names:
            names.append(name)
    return names or ["grey"]


def _aspect(size: tuple[int, int]) -> str:
    width, height = size
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def open_image(data: bytes) -> Image.Image | None:
    """The picture in ``data``, or None if it is not one Pillow reads."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return image.convert("RGB")


@dataclass(frozen=True)
class DescribeJob:
    """One /describe (or its 🔄) to play."""

    ctx: InteractionContext
    picture: Image.Image | None
    #: the embed's image object (the CDN copy of the upload, or the link)
    image: JsonObject
    prompts: tuple[str, ...]
    #: what fault rules match ``prompt_contains`` against: the link or the uploaded file's name
    subject: str
    origin: str


class DescribeFlow:
    """Plays /describe and its 🔄 retry."""

    def __init__(self, core: BotCore, faults: FaultPlayer) -> None:
        self._core = core
        self._faults = faults

    def start(self, job: DescribeJob) -> None:
        """Play ``job`` in the background, or the fault rule that applies to it."""
        rule = self._faults.check(job.ctx, job.subject)
        if rule is not None and rule.fault not in RUNNING_FAULTS:
            self._core.spawn(self._faults.replace(job.ctx, rule, job.subject, job.origin))
            return
        self._core.spawn(self._describe(job, rule))

    async def _describe(self, job: DescribeJob, rule: FaultRule | None) -> None:
        core, ctx = self._core, job.ctx
        await core.acknowledge(ctx)
        if rule is not None and rule.fault == "job_queued":
            self._faults.post_queued(ctx, job.subject)
            await asyncio.sleep(self._faults.queued_delay(rule))
        # Midjourney "thinks" first: a reply without an embed, edited to the result (§3.4)
        reply = messages.interaction_reply(ctx, core.next_id(), "", 0)
        core.post(ctx, reply)
        core.stats.started += 1
        await core.step()
        fault = rule.fault if rule is not None else None
        if fault == "stall":
            return
        if fault == "output_filter":
            core.post(ctx, self._faults.refusal(ctx, fault, job.subject, job.origin))
            core.delete(ctx.user.id, ctx.channel, reply["id"])
            return
        self._show(job, reply)

    def _show(self, job: DescribeJob, reply: JsonObject) -> None:
        """The thinking reply edited to the four prompts."""
        core, ctx = self._core, job.ctx
        pairs = zip(_KEYCAPS, job.prompts, strict=True)
        description = "\n\n".join(f"{keycap} {prompt}" for keycap, prompt in pairs)
        embed = {"type": "rich", "description": description, "image": job.image, "color": _COLOUR}
        edit = messages.stored(reply)
        edit.update(
            embeds=[embed],
            components=components.describe(core.config.web_link_button),
            edited_timestamp=core.now(),
        )
        core.edit(ctx, edit)
        core.state.results.add(
            JobResult(
                message_id=reply["id"],
                channel_id=ctx.channel.id,
                user_id=ctx.user.id,
                job_hash="",
                prompt="",
                kind=ResultKind.DESCRIBE,
                cells=(job.picture,) if job.picture is not None else (),
                suggestions=job.prompts,
            )
        )
        core.stats.completed += 1

    def retry(
        self, ctx: InteractionContext, result: JobResult, image: JsonObject, origin: str
    ) -> None:
        """🔄: the same image described again (the prompts are derived, so they repeat)."""
        picture = result.cells[0] if result.cells else None
        url = str(image.get("url", ""))
        self.start(DescribeJob(ctx, picture, image, result.suggestions, url, origin))


async def to_thread_suggestions(picture: Image.Image) -> tuple[str, ...]:
    return await asyncio.to_thread(suggestions, picture)
