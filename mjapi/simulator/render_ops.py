"""Pictures for the follow-up jobs: variations, zoom, pan, region, upscale, blend.

Each operation starts from the real pixels of the parent (a grid cell, an upscaled image, the
uploaded files) so that a person looking at a chain of results sees where each came from.
"""

from __future__ import annotations

import hashlib

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from mjapi.simulator.render import cell_size

#: how far a variation moves away from its source (reference §3.1 labels)
STRONG = 0.45
SUBTLE = 0.18
#: pans widen (or heighten) the canvas by half, up to this aspect
_PAN_GROWTH = 1.5
_MAX_RATIO = 3.0


def _seed(job_hash: str, index: int) -> bytes:
    return hashlib.sha256(f"{job_hash}:{index}".encode()).digest()


def _perturb(image: Image.Image, seed: bytes, strength: float) -> Image.Image:
    """``image`` with its colours shifted and a few new marks, ``strength`` 0..1."""
    shifted = ImageEnhance.Color(image).enhance(1 + (seed[0] / 255 - 0.5) * strength * 2)
    shifted = ImageEnhance.Brightness(shifted).enhance(1 + (seed[1] / 255 - 0.5) * strength)
    marks = shifted.copy()
    draw = ImageDraw.Draw(marks)
    width, height = image.size
    for k in range(3):
        x, y = seed[2 + k * 3] / 255 * width, seed[3 + k * 3] / 255 * height
        radius = (0.05 + seed[4 + k * 3] / 255 * 0.1) * min(width, height)
        colour = (seed[12 + k], seed[15 + k], seed[18 + k])
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    return Image.blend(shifted, marks, min(1.0, strength * 1.5))


def variations(source: Image.Image, job_hash: str, strength: float) -> list[Image.Image]:
    """Four variations of ``source`` at its size (V1-V4, Vary (Strong/Subtle))."""
    return [_perturb(source, _seed(job_hash, i), strength) for i in range(4)]


def zoom_out(
    source: Image.Image, factor: float, job_hash: str, long_side: int
) -> list[Image.Image]:
    """Four outpaintings: ``source`` shrunk by ``factor`` in the middle of a new scene."""
    return _outpaint(source, source.size, factor, job_hash, long_side, centre=True)


def make_square(source: Image.Image, job_hash: str, long_side: int) -> list[Image.Image]:
    """Four square outpaintings around a non-square ``source`` (capture 27, Make Square)."""
    side = max(source.size)
    return _outpaint(source, (side, side), 1.0, job_hash, long_side, centre=True)


def pan(source: Image.Image, direction: str, job_hash: str, long_side: int) -> list[Image.Image]:
    """Four pans: the canvas grows by half towards ``direction``, ``source`` stays put."""
    width, height = source.size
    if direction in ("left", "right"):
        width = min(round(width * _PAN_GROWTH), round(height * _MAX_RATIO))
    else:
        height = min(round(height * _PAN_GROWTH), round(width * _MAX_RATIO))
    cells = []
    for index in range(4):
        canvas = _scene(source, (width, height), _seed(job_hash, index))
        x = 0 if direction == "right" else width - source.size[0]
        y = 0 if direction == "down" else height - source.size[1]
        canvas.paste(source, (max(x, 0), max(y, 0)))
        cells.append(canvas.resize(cell_size(long_side // 2, (width, height))))
    return cells


def _outpaint(
    source: Image.Image,
    canvas_size: tuple[int, int],
    factor: float,
    job_hash: str,
    long_side: int,
    *,
    centre: bool,
) -> list[Image.Image]:
    width, height = canvas_size
    inner = (max(2, round(source.size[0] / factor)), max(2, round(source.size[1] / factor)))
    cells = []
    for index in range(4):
        canvas = _scene(source, (width, height), _seed(job_hash, index))
        shrunk = _perturb(source, _seed(job_hash, index + 10), SUBTLE).resize(inner)
        canvas.paste(
            shrunk, ((width - inner[0]) // 2, (height - inner[1]) // 2) if centre else (0, 0)
        )
        cells.append(canvas.resize(cell_size(long_side // 2, (width, height))))
    return cells


def _scene(source: Image.Image, size: tuple[int, int], seed: bytes) -> Image.Image:
    """A new surrounding: ``source`` blown up, blurred and tinted (what outpainting "invents")."""
    blurred = source.resize(size).filter(ImageFilter.GaussianBlur(max(size) / 40))
    tint = Image.new("RGB", size, (seed[0], seed[1], seed[2]))
    return Image.blend(blurred, tint, 0.25)


def region(source: Image.Image, mask: Image.Image, job_hash: str) -> list[Image.Image]:
    """Four images that change ``source`` only where ``mask`` is white (Vary (Region))."""
    alpha = ImageOps.grayscale(mask).resize(source.size)
    return [
        Image.composite(_perturb(source, _seed(job_hash, i), STRONG * 1.5), source, alpha)
        for i in range(4)
    ]


def upscale(source: Image.Image, factor: int, creative: bool) -> Image.Image:
    """``source`` ``factor`` times larger; Creative adds detail, Subtle only sharpens."""
    width, height = source.size
    large = source.resize((width * factor, height * factor), Image.Resampling.LANCZOS)
    sharpened = large.filter(ImageFilter.UnsharpMask(radius=2, percent=120))
    if creative:
        return ImageEnhance.Contrast(sharpened).enhance(1.15)
    return sharpened


def blend(images: list[Image.Image], job_hash: str, cell: tuple[int, int]) -> list[Image.Image]:
    """Four mixes of the uploaded images, each weighting them differently (/blend)."""
    fitted = [ImageOps.fit(image.convert("RGB"), cell) for image in images]
    cells = []
    for index in range(4):
        seed = _seed(job_hash, index)
        mixed = fitted[0]
        for position, image in enumerate(fitted[1:], start=1):
            weight = 1 / (position + 1) + (seed[position] / 255 - 0.5) * 0.3
            mixed = Image.blend(mixed, image, min(max(weight, 0.15), 0.85))
        cells.append(_perturb(mixed, seed, SUBTLE / 2))
    return cells
