"""Pillow images for the fake bot: the 2×2 result grid and its progressive previews.

Tiles are flat colours and simple shapes derived from the prompt's hash, with the prompt text and
the tile number drawn on them: cheap to draw and to compress (a 1024² PNG in a few ms), and a
person looking at a demo sees at once which prompt and which image U1..U4 refer to.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageFont

_TEXT = (255, 255, 255)
_SHADOW = (20, 20, 28)
_VEIL = (46, 48, 56)


def render_grid(prompt: str, job_hash: str, size: int) -> Image.Image:
    """The four result images as one square grid.

    Colours come from the prompt (the same prompt always looks alike), shapes from the job hash
    (a reroll of the same prompt still gives other images).
    """
    base_hue = hashlib.sha256(prompt.encode()).digest()[0] / 255
    shapes = hashlib.sha256(job_hash.encode()).digest()
    grid = Image.new("RGB", (size, size))
    tile = size // 2
    for index in range(4):
        hue = base_hue + index * 0.25
        origin = ((index % 2) * tile, (index // 2) * tile)
        grid.paste(
            _render_tile(prompt, hue, shapes[index * 6 : index * 6 + 6], index, tile), origin
        )
    return grid


def _render_tile(prompt: str, hue: float, shapes: bytes, index: int, size: int) -> Image.Image:
    tile = Image.new("RGB", (size, size), _colour(hue, 0.55, 0.75))
    draw = ImageDraw.Draw(tile)
    _draw_shapes(draw, shapes, hue, size)
    _draw_caption(draw, prompt, index, size)
    return tile


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _draw_shapes(draw: ImageDraw.ImageDraw, params: bytes, hue: float, size: int) -> None:
    """A sun and a hill whose place and size come from the hash."""
    radius = size * (0.12 + params[0] / 255 * 0.18)
    cx, cy = size * (0.2 + params[1] / 255 * 0.6), size * (0.2 + params[2] / 255 * 0.3)
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius), fill=_colour(hue + 0.5, 0.5, 0.95)
    )
    hill_top = size * (0.55 + params[3] / 255 * 0.2)
    peak_x = size * (params[4] / 255)
    draw.polygon([(0, size), (peak_x, hill_top), (size, size)], fill=_colour(hue + 0.1, 0.6, 0.45))


def _draw_caption(draw: ImageDraw.ImageDraw, prompt: str, index: int, size: int) -> None:
    """The tile number, large, and the prompt, wrapped, so a viewer can tell images apart."""
    number_font = ImageFont.load_default(size=max(size // 6, 10))
    corner = (size * 0.05, size * 0.03)
    draw.text(
        corner, str(index + 1), font=number_font, fill=_TEXT, stroke_width=2, stroke_fill=_SHADOW
    )
    text_font = ImageFont.load_default(size=max(size // 18, 8))
    lines = textwrap.wrap(prompt, width=24, max_lines=4, placeholder=" …")
    caption = "\n".join(lines)
    draw.multiline_text(
        (size * 0.05, size * 0.62),
        caption,
        font=text_font,
        fill=_TEXT,
        stroke_width=1,
        stroke_fill=_SHADOW,
    )


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes; low compression effort, the flat tiles compress well anyway."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render_preview(grid: Image.Image, progress: int, size: int) -> bytes:
    """A low-res webp of the grid, blockier and greyer the earlier the progress (like MJ's)."""
    small = grid.resize((size, size), Image.Resampling.BILINEAR)
    blocks = max(2, size * max(progress, 1) // 400)
    pixelated = small.resize((blocks, blocks), Image.Resampling.BILINEAR).resize(
        (size, size), Image.Resampling.NEAREST
    )
    veiled = Image.blend(
        Image.new("RGB", (size, size), _VEIL), pixelated, 0.3 + 0.7 * progress / 100
    )
    buffer = io.BytesIO()
    veiled.save(buffer, format="WEBP", quality=60, method=2)
    return buffer.getvalue()
