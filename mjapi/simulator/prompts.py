"""How Midjourney echoes a prompt and names its result files (reference §3.1-3.2)."""

from __future__ import annotations

import hashlib
import re

_LINK = re.compile(r"<?https?://[^\s>]+>?")
_NOT_IN_SLUG = re.compile(r"[^A-Za-z0-9_.\-]")
#: ``<username>_<slug>`` is cut at this length; real names in captures 17-28 fit this rule
_NAME_LIMIT = 64


def echo_prompt(prompt: str, *, shorten_links: bool, suffix: str) -> str:
    """The prompt as the bot writes it between ``**``: links shortened to s.mj.run (capture 21).

    Echoing an echoed prompt (a follow-up job, a remix edit) changes nothing.
    """
    echoed = " ".join(prompt.split())
    if shorten_links:
        echoed = _LINK.sub(_shortened, echoed)
    if suffix and echoed.endswith(suffix.strip()):
        return echoed
    return f"{echoed}{suffix}"


def _shortened(match: re.Match[str]) -> str:
    link = match[0]
    if link.startswith(_SHORT_PREFIX):
        return link if link.endswith(">") else f"{link}>"
    return short_link(link.encode())


def short_link(key: bytes) -> str:
    """``<https://s.mj.run/<code>>`` for a link or an uploaded file (capture 21)."""
    return f"{_SHORT_PREFIX}{_short_code(key)}>"


def _short_code(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:11]


_SHORT_PREFIX = "<https://s.mj.run/"
_ASPECT = re.compile(r"--(?:ar|aspect)\s+(\d+)\s*:\s*(\d+)")
_ZOOM = re.compile(r"--zoom\s+(\d+(?:\.\d+)?)")
_BATCH = re.compile(r"--bs\s+(\d+)")
_MOTION = re.compile(r"--motion\s+(low|high)")
_VIDEO = re.compile(r"--video\b")


def aspect_ratio(prompt: str) -> tuple[int, int]:
    """``--ar W:H`` (or ``--aspect``) of the prompt; 1:1 without one or for a silly one."""
    match = _ASPECT.search(prompt)
    if match is None:
        return 1, 1
    width, height = int(match[1]), int(match[2])
    if not (0 < width <= 32 and 0 < height <= 32) or max(width, height) > 4 * min(width, height):
        return 1, 1
    return width, height


def zoom_factor(prompt: str) -> float:
    """``--zoom N`` of a Custom Zoom prompt, within Midjourney's 1..2 (2 without one)."""
    match = _ZOOM.search(prompt)
    return min(max(float(match[1]), 1.0), 2.0) if match else 2.0


def is_video(prompt: str) -> bool:
    """Does the prompt ask for a video (``--video``, useapi-v2 §10)?"""
    return bool(_VIDEO.search(prompt))


def motion(prompt: str) -> str:
    """``--motion low|high``; low without one."""
    match = _MOTION.search(prompt)
    return match[1] if match else "low"


def batch_size(prompt: str) -> int:
    """``--bs N`` videos per batch: 1, 2 or 4 (4 without one)."""
    match = _BATCH.search(prompt)
    if match is None:
        return 4
    wanted = int(match[1])
    return 1 if wanted <= 1 else 2 if wanted <= 3 else 4


def with_parameter(prompt: str, parameter: str, value: str) -> str:
    """The prompt with ``--parameter value`` set (replaced if present, else appended)."""
    pattern = re.compile(rf"--{parameter}(\s+[^\s-][^\s]*)?")
    option = f"--{parameter} {value}".strip()
    if pattern.search(prompt):
        return pattern.sub(option, prompt, count=1)
    return f"{prompt} {option}"


def slug(prompt: str, username: str) -> str:
    """Filename part from the prompt: links and ``--parameters`` dropped, words joined by ``_``.

    Case, ``.`` and ``-`` are kept and other punctuation dropped, as in the captured filenames
    (``user_Coca-Cola._<hash>.png``, ``..._woman_in_her_50s_with_...`` from "50's,").
    """
    words = (_NOT_IN_SLUG.sub("", word) for word in _words_before_parameters(prompt))
    joined = "_".join(word for word in words if word)
    room = max(_NAME_LIMIT - len(username) - 1, 1)
    return joined[:room].rstrip("_")


def _words_before_parameters(prompt: str) -> list[str]:
    """The prompt's words without links, up to the first ``--parameter`` (they come last)."""
    words: list[str] = []
    for word in _LINK.sub(" ", prompt).split():
        if word.startswith("--"):
            break
        words.append(word)
    return words


def grid_filename(prompt: str, username: str, job_hash: str, extension: str = "png") -> str:
    """``<username>_<slug>_<hash>.png`` (captures 10 and 20); ``mp4`` for videos."""
    name_slug = slug(prompt, username)
    stem = f"{username}_{name_slug}_{job_hash}" if name_slug else f"{username}_{job_hash}"
    return f"{stem}.{extension}"


def preview_filename(job_hash: str) -> str:
    """``<hash>_grid_0.webp``: the 2024+ preview name that carries the job hash (reference §3.2)."""
    return f"{job_hash}_grid_0.webp"
