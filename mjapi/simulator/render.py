"""Pillow images for the fake bot: the 2×2 result grid and its progressive previews.

Tiles are flat colours and simple shapes derived from the prompt's hash, with the prompt text and
the tile number drawn on them: cheap to draw and to compress (a 1024² PNG in a few ms), and a
person looking at a demo sees at once which prompt and which image U1..U4 refer to. Load tests
turn the text off (``captions=False``): FreeType then no longer dominates the simulator's CPU.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import textwrap
import threading

from PIL import Image, ImageDraw, ImageFont

_TEXT = (255, 255, 255)
_SHADOW = (20, 20, 28)
_VEIL = (46, 48, 56)


def render_grid(
    prompt: str,
    job_hash: str,
    size: int,
    aspect: tuple[int, int] = (1, 1),
    *,
    captions: bool = True,
) -> Image.Image:
    """The four result images as one grid whose longer side is ``size``.

    Colours come from the prompt (the same prompt always looks alike), shapes from the job hash
    (a reroll of the same prompt still gives other images); ``aspect`` is ``--ar``'s W:H;
    ``captions``: the tile numbers and the prompt drawn on them.
    """
    cell = cell_size(size // 2, aspect)
    return compose_grid(render_cells(prompt, job_hash, cell, 4, captions=captions))


def render_cells(
    prompt: str, job_hash: str, cell: tuple[int, int], count: int, *, captions: bool = True
) -> list[Image.Image]:
    """``count`` distinct images of ``cell`` size for the prompt (see ``render_grid``)."""
    base_hue = hashlib.sha256(prompt.encode()).digest()[0] / 255
    shapes = hashlib.sha256(job_hash.encode()).digest()
    tiles = []
    for index in range(count):
        hue = base_hue + index * 0.25
        tile = _render_tile(hue, shapes[index * 6 : index * 6 + 6], cell)
        if captions:
            _draw_caption(ImageDraw.Draw(tile), prompt, index, cell)
        tiles.append(tile)
    return tiles


def cell_size(long_side: int, aspect: tuple[int, int]) -> tuple[int, int]:
    """Width and height (even numbers, for video encoders) of an image of that aspect."""
    width, height = aspect
    if width >= height:
        return _even(long_side), _even(long_side * height / width)
    return _even(long_side * width / height), _even(long_side)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def compose_grid(cells: list[Image.Image]) -> Image.Image:
    """Cells side by side, two per row (1 → itself, 2 → a row, 4 → 2×2)."""
    width, height = cells[0].size
    columns = 1 if len(cells) == 1 else 2
    rows = (len(cells) + columns - 1) // columns
    grid = Image.new("RGB", (width * columns, height * rows))
    for index, cell in enumerate(cells):
        grid.paste(
            cell.resize((width, height)), ((index % columns) * width, (index // columns) * height)
        )
    return grid


def _render_tile(hue: float, shapes: bytes, size: tuple[int, int]) -> Image.Image:
    tile = Image.new("RGB", size, _colour(hue, 0.55, 0.75))
    _draw_shapes(ImageDraw.Draw(tile), shapes, hue, size)
    return tile


def _colour(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _draw_shapes(
    draw: ImageDraw.ImageDraw, params: bytes, hue: float, size: tuple[int, int]
) -> None:
    """A sun and a hill whose place and size come from the hash."""
    width, height = size
    radius = min(size) * (0.12 + params[0] / 255 * 0.18)
    cx, cy = width * (0.2 + params[1] / 255 * 0.6), height * (0.2 + params[2] / 255 * 0.3)
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius), fill=_colour(hue + 0.5, 0.5, 0.95)
    )
    hill_top = height * (0.55 + params[3] / 255 * 0.2)
    peak_x = width * (params[4] / 255)
    draw.polygon(
        [(0, height), (peak_x, hill_top), (width, height)], fill=_colour(hue + 0.1, 0.6, 0.45)
    )


def _draw_caption(
    draw: ImageDraw.ImageDraw, prompt: str, index: int, cell: tuple[int, int]
) -> None:
    """The tile number, large, and the prompt, wrapped, so a viewer can tell images apart."""
    size = min(cell)
    number_font = _font(max(size // 6, 10))
    corner = (cell[0] * 0.05, cell[1] * 0.03)
    draw.text(
        corner, str(index + 1), font=number_font, fill=_TEXT, stroke_width=2, stroke_fill=_SHADOW
    )
    text_font = _font(max(size // 18, 8))
    lines = textwrap.wrap(prompt, width=24, max_lines=4, placeholder=" …")
    caption = "\n".join(lines)
    draw.multiline_text(
        (cell[0] * 0.05, cell[1] * 0.62),
        caption,
        font=text_font,
        fill=_TEXT,
        stroke_width=1,
        stroke_fill=_SHADOW,
    )


#: each worker thread's fonts by size: ``load_default`` decodes the font file on every call, and
#: a FreeType face is not to be used by two threads at once
_fonts = threading.local()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    cache: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] | None
    cache = getattr(_fonts, "by_size", None)
    if cache is None:
        cache = _fonts.by_size = {}
    font = cache.get(size)
    if font is None:
        font = cache[size] = ImageFont.load_default(size=size)
    return font


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes; low compression effort, the flat tiles compress well anyway."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def render_preview(grid: Image.Image, progress: int, size: int) -> bytes:
    """A low-res webp of the grid, blockier and greyer the earlier the progress (like MJ's).

    ``size`` is the longer side (capture 07: 512 for a square grid).
    """
    dims = preview_size(grid, size)
    small = grid.resize(dims, Image.Resampling.BILINEAR)
    blocks = max(2, size * max(progress, 1) // 400)
    pixelated = small.resize((blocks, blocks), Image.Resampling.BILINEAR).resize(
        dims, Image.Resampling.NEAREST
    )
    veiled = Image.blend(Image.new("RGB", dims, _VEIL), pixelated, 0.3 + 0.7 * progress / 100)
    buffer = io.BytesIO()
    veiled.save(buffer, format="WEBP", quality=60, method=2)
    return buffer.getvalue()


def preview_size(image: Image.Image, size: int) -> tuple[int, int]:
    """The preview's width and height: ``image``'s aspect, longer side ``size``."""
    width, height = image.size
    return cell_size(size, (width, height))


def split_grid(grid: Image.Image, count: int = 4) -> list[Image.Image]:
    """The cells of a grid made by ``compose_grid``."""
    if count == 1:
        return [grid.copy()]
    width, height = grid.size[0] // 2, grid.size[1] // ((count + 1) // 2)
    return [
        grid.crop(((i % 2) * width, (i // 2) * height, (i % 2 + 1) * width, (i // 2 + 1) * height))
        for i in range(count)
    ]
