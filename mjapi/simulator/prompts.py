"""How Midjourney echoes a prompt and names its result files (reference §3.1-3.2)."""

from __future__ import annotations

import hashlib
import re

_LINK = re.compile(r"<?https?://[^\s>]+>?")
_NOT_IN_SLUG = re.compile(r"[^A-Za-z0-9_.\-]")
#: ``<username>_<slug>`` is cut at this length; real names in captures 17-28 fit this rule
_NAME_LIMIT = 64


def echo_prompt(prompt: str, *, shorten_links: bool, suffix: str) -> str:
    """The prompt as the bot writes it between ``**``: links shortened to s.mj.run (capture 21)."""
    echoed = " ".join(prompt.split())
    if shorten_links:
        echoed = _LINK.sub(lambda match: f"<https://s.mj.run/{_short_code(match[0])}>", echoed)
    return f"{echoed}{suffix}"


def _short_code(link: str) -> str:
    return hashlib.sha256(link.encode()).hexdigest()[:11]


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


def grid_filename(prompt: str, username: str, job_hash: str) -> str:
    """``<username>_<slug>_<hash>.png`` (captures 10 and 20)."""
    name_slug = slug(prompt, username)
    return f"{username}_{name_slug}_{job_hash}.png" if name_slug else f"{username}_{job_hash}.png"


def preview_filename(job_hash: str) -> str:
    """``<hash>_grid_0.webp``: the 2024+ preview name that carries the job hash (reference §3.2)."""
    return f"{job_hash}_grid_0.webp"
