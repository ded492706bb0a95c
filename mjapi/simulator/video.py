"""Short MP4 clips for the video jobs (useapi-v2 §10): H.264 in MP4, made with PyAV.

PyAV's wheels bundle FFmpeg with libx264, so no system package is needed. Clips stay tiny (a
few hundred pixels, about a second) to keep jobs fast: each clip slowly zooms into its still and
sweeps a light across it, faster for "high" motion.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageEnhance


def animate(still: Image.Image, frames: int, motion: str, phase: float) -> list[Image.Image]:
    """``frames`` pictures of one clip starting at ``still`` (its size kept)."""
    amplitude = 0.18 if motion == "high" else 0.07
    width, height = still.size
    clip = []
    for index in range(frames):
        progress = index / max(frames - 1, 1)
        zoom = 1 + amplitude * progress
        crop_w, crop_h = width / zoom, height / zoom
        drift = amplitude * math.sin(2 * math.pi * (progress + phase)) * width / 4
        left = max(0.0, min(width - crop_w, (width - crop_w) / 2 + drift))
        top = (height - crop_h) / 2
        frame = still.crop((left, top, left + crop_w, top + crop_h)).resize((width, height))
        light = 1 + amplitude * math.sin(2 * math.pi * (progress + phase))
        clip.append(ImageEnhance.Brightness(frame).enhance(light))
    return clip


def batch_frames(clips: list[list[Image.Image]]) -> list[Image.Image]:
    """The clips played side by side, two per row (the 2×2 batch of a video job)."""
    from mjapi.simulator.render import compose_grid

    return [compose_grid([clip[i] for clip in clips]) for i in range(len(clips[0]))]


def encode_mp4(frames: list[Image.Image], fps: int) -> bytes:
    """H.264 (libx264, yuv420p) in an MP4 container; width and height must be even."""
    import av  # the optional video dependency: only video jobs need it

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for image in frames:
            frame = av.VideoFrame.from_image(image.convert("RGB"))  # type: ignore[no-untyped-call]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()
