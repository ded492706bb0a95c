"""A verbatim copy of mjapi/transports/discord/interpret.py before it was optimised (reference).

test_interpret_equivalence.py checks that the optimised interpret() reads every message exactly
as this plain one does. Do not edit: it is the specification the fast code must equal.
"""

# Original module doc:
# What one Discord message from the Midjourney bot says, as plain data (pure).
#
# Input is a message object: a gateway ``MESSAGE_CREATE``/``MESSAGE_UPDATE`` ``d`` or an element of
# ``GET /channels/{id}/messages`` (same shape). Formats: reference §3 and §4, the captures README.

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mjapi.domain.events import FailReason
from mjapi.domain.jobs import Attachment, Button, Seed
from mjapi.transports.discord.catalogue import ERROR_TITLES, classify, is_captcha
from mjapi.transports.discord.clicks import Family
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID


class Kind(StrEnum):
    """Where a Midjourney message stands in a job's life."""

    #: "(Waiting to start)": the job was accepted
    WAITING = "waiting"
    #: "(NN%)": the job runs, usually with a low-resolution preview
    PROGRESS = "progress"
    #: a result attachment and result buttons: the job finished
    DONE = "done"
    #: the "Job queued" embed: over the plan's concurrency, MJ starts it later (not an error)
    QUEUED = "queued"
    #: an error embed (reference §4) or a stopped job
    ERROR = "error"
    #: ``/describe`` finished: ``embeds[0].description`` holds the four numbered prompts (§3.4)
    DESCRIBED = "described"
    #: Midjourney's answer to a settings command (/info, /fast, /prefer remix ...; §3.4)
    REPLY = "reply"
    #: the seed DM after the ✉️ reaction: ``**Job ID**: <uuid> **seed** <n>`` (§3.4)
    SEED = "seed"
    #: anything else (unknown shapes)
    OTHER = "other"


QUEUED_TITLE = "Job queued"
#: Slash commands whose answer is a plain reply, not a job (reference §1.3, §3.4).
REPLY_COMMANDS = frozenset(
    {"info", "fast", "relax", "turbo", "prefer", "settings", "stealth", "public", "private"}
)
#: How those replies begin when Discord does not say which command they answer (§3.4:
#: "Done! Your jobs now ...", "Remix mode turned on"; the /info embed title "Your info").
REPLY_PREFIXES = ("Done!", "Remix mode turned", "Variability mode turned", "High variability mode")
INFO_TITLE = "Your info"
#: Discord message flag: the bot deferred its answer ("Midjourney Bot is thinking...").
LOADING_FLAG = 128
#: Midjourney's red: an embed in this colour with an unknown title is still an error (§4).
ERROR_COLOR = 0xFF0000

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID_RE = re.compile(rf"^{_UUID}$", re.IGNORECASE)
_PROMPT_RE = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_MENTION_RE = re.compile(r"<@!?(\d+)>")
_PERCENT_RE = re.compile(r"\((\d{1,3})%\)")
_GROUP_RE = re.compile(r"\(([^()]*)\)")
_MODE_RE = re.compile(r"^(fast|relaxed|turbo)(,\s*stealth)?$")
_JOB_URL_RE = re.compile(rf"/jobs/({_UUID})", re.IGNORECASE)
_WAITING = "(Waiting to start)"
_STOPPED = "(Stopped)"
_FOOTER_COMMAND = "/imagine "
# The seed DM (reference §3.4, TAI DiscordWebSocketService.cs DM branch).
_SEED_RE = re.compile(rf"\*\*Job ID\*\*:\s*({_UUID})\s*\*\*seed\*\*\s*(\d+)", re.IGNORECASE)
# describe: "1️⃣ <prompt>" ... "4️⃣ <prompt>" (§3.4; ERT formatPrompts)
_DESCRIBE_MARK = "1\ufe0f\u20e3"
# "- Image #2 <@uid>", "- Variations (Strong) by <@uid>" ... (§3.1): the label after the prompt.
_TAIL_LABEL_RE = re.compile(r"^\s*-\s*(.*?)\s*<@!?\d+>")
# Old wording before the prompt: "Upscaling image #1 with **", "Making variations for image #1
# with prompt **" (capture 12, §3.1).
_HEAD_LABEL_RE = re.compile(r"^(Upscaling|Making variations for) image #(\d)", re.IGNORECASE)
_CELL_RE = re.compile(r"^(?:Image|Video) #(\d)$")
#: The ❤️ button only bookmarks on the website and never produces a message (§1.5).
_BOOKMARK_PREFIX = "MJ::BOOKMARK::"
_PREVIEW_SUFFIX = "grid_0.webp"


@dataclass(frozen=True)
class Embed:
    """The parts of a Discord embed Midjourney uses."""

    title: str | None
    description: str | None
    color: int | None
    footer: str | None


@dataclass(frozen=True)
class MjMessage:
    """One Midjourney bot message, interpreted."""

    message_id: str
    channel_id: str
    guild_id: str | None
    content: str
    timestamp: str
    edited_timestamp: str | None
    nonce: str | None
    #: ``interaction_metadata.id`` (2024+) or the legacy ``interaction.id``
    interaction_id: str | None
    #: the slash command that started it (``imagine``), when Discord says
    command: str | None
    #: ``message_reference.message_id``: the message this one replies to (button jobs)
    reply_to: str | None
    flags: int
    kind: Kind
    prompt: str | None
    user_id: str | None
    percent: int | None
    mode: str | None
    stealth: bool
    #: Midjourney's job UUID, when the message carries it anywhere
    job_hash: str | None
    attachments: tuple[Attachment, ...]
    buttons: tuple[Button, ...]
    embed: Embed | None
    #: every embed exactly as Discord sent it (describe suggestions, /info)
    embeds: tuple[dict[str, Any], ...] = ()
    #: the job kind the content's label names ("Image #2" -> PICK, "Zoom Out by" -> ZOOM)
    action: Family | None = None
    #: the grid cell the label names ("Image #2" -> 2)
    index: int | None = None
    #: the label's qualifier: "Strong", "Subtle", "Region", "Left" ...
    variant: str | None = None
    #: the seed a seed DM reports, and the job it belongs to
    seed: Seed | None = None
    seed_job_hash: str | None = None

    @property
    def failure(self) -> FailReason | None:
        """For an error message, what it means for the job and the account (catalogue.py)."""
        if self.kind is not Kind.ERROR:
            return None
        embed = self.embed
        return classify(embed.title, embed.description) if embed else FailReason.ERROR

    @property
    def moderated(self) -> bool:
        """An error that means Midjourney refused the prompt (not an account problem)."""
        return self.failure is FailReason.MODERATED

    @property
    def is_reply(self) -> bool:
        """True for follow-up results of buttons (type 19 replies), never a plain /imagine."""
        return self.reply_to is not None


def interpret(message: Mapping[str, Any]) -> MjMessage | None:
    """The Midjourney reading of a message object, or None when the bot did not write it."""
    author = message.get("author")
    if not isinstance(author, Mapping) or author.get("id") != MIDJOURNEY_APPLICATION_ID:
        return None
    if not isinstance(message.get("id"), str) or not isinstance(message.get("channel_id"), str):
        return None
    content = _text(message.get("content")) or ""
    embed = _first_embed(message.get("embeds"))
    interaction = _interaction(message)
    prompt, tail = _split_prompt(content)
    if prompt is None and embed is not None and embed.title == QUEUED_TITLE:
        prompt = _footer_prompt(embed)
    attachments = tuple(_attachments(message.get("attachments")))
    components = list(_buttons(message.get("components")))
    buttons = tuple(
        Button(label=label, custom_id=cid)
        for label, cid, _url in components
        if cid and not cid.startswith(_BOOKMARK_PREFIX)
    )
    mode, stealth = _mode(tail)
    percent = _percent(tail)
    action, index, variant = _action(content, tail)
    seed, seed_hash = _seed(content)
    flags = _int(message.get("flags")) or 0
    raw_embeds = message.get("embeds")
    embeds = (
        tuple(dict(e) for e in raw_embeds if isinstance(e, Mapping))
        if isinstance(raw_embeds, list)
        else ()
    )
    shape = _Shape(
        tail=tail,
        content=content,
        percent=percent,
        attachments=attachments,
        buttons=buttons,
        embed=embed,
        command=_text(interaction.get("name")),
        flags=flags,
        seed=seed,
    )
    return MjMessage(
        message_id=message["id"],
        channel_id=message["channel_id"],
        guild_id=_text(message.get("guild_id")),
        content=content,
        timestamp=_text(message.get("timestamp")) or "",
        edited_timestamp=_text(message.get("edited_timestamp")),
        nonce=_nonce(message.get("nonce")),
        interaction_id=_text(interaction.get("id")),
        command=_text(interaction.get("name")),
        reply_to=_reply_to(message),
        flags=flags,
        kind=_kind(shape),
        prompt=prompt,
        user_id=_user_id(tail, content, interaction),
        percent=percent,
        mode=mode,
        stealth=stealth,
        job_hash=_job_hash(components, attachments),
        attachments=attachments,
        buttons=buttons,
        embed=embed,
        embeds=embeds,
        action=action,
        index=index,
        variant=variant,
        seed=seed,
        seed_job_hash=seed_hash,
    )


# -- content ----------------------------------------------------------------------------------


def _split_prompt(content: str) -> tuple[str | None, str]:
    """The text inside the first ``**…**`` and what follows it (where mode/status live)."""
    match = _PROMPT_RE.search(content)
    if match is None:
        return None, content
    return match.group(1), content[match.end() :]


def _footer_prompt(embed: Embed) -> str | None:
    # "Job queued" has empty content; the prompt is in the footer as "/imagine <prompt>"
    # (capture 14; BAI reads it the same way).
    footer = embed.footer or ""
    return footer[len(_FOOTER_COMMAND) :] if footer.startswith(_FOOTER_COMMAND) else None


def _mode(tail: str) -> tuple[str | None, bool]:
    # The LAST parenthesised group of the first line after the prompt; groups inside the
    # prompt are prompt text (capture 17 ends its prompt with "(fast)" and has no mode), and a
    # newer trailing "\n-# …" subtext line is not part of the status (reference §3.1).
    groups = _GROUP_RE.findall(tail.split("\n", 1)[0])
    if not groups:
        return None, False
    match = _MODE_RE.match(groups[-1].strip())
    if match is None:
        return None, False
    return match.group(1), match.group(2) is not None


def _percent(tail: str) -> int | None:
    match = _PERCENT_RE.search(tail)
    return int(match.group(1)) if match else None


def _user_id(tail: str, content: str, interaction: Mapping[str, Any]) -> str | None:
    match = _MENTION_RE.search(tail) or _MENTION_RE.search(content)
    if match:
        return match.group(1)
    user = interaction.get("user")
    return _text(user.get("id")) if isinstance(user, Mapping) else None


@dataclass(frozen=True)
class _Shape:
    """What decides a message's kind."""

    tail: str
    content: str
    percent: int | None
    attachments: tuple[Attachment, ...]
    buttons: tuple[Button, ...]
    embed: Embed | None
    command: str | None
    flags: int
    seed: Seed | None


def _kind(shape: _Shape) -> Kind:
    if shape.seed is not None:
        return Kind.SEED
    if shape.percent is not None:
        return Kind.PROGRESS
    if _WAITING in shape.tail or shape.flags & LOADING_FLAG:
        # A deferred answer ("thinking...", flag 128) is an acknowledgement like "Waiting".
        return Kind.WAITING
    if shape.buttons and any(not _is_preview(a) for a in shape.attachments):
        return Kind.DONE
    embed = shape.embed
    if embed is not None and _DESCRIBE_MARK in (embed.description or ""):
        return Kind.DESCRIBED
    if embed is not None:
        if embed.title == QUEUED_TITLE:
            return Kind.QUEUED
        if embed.title in ERROR_TITLES or is_captcha(embed.title, embed.description):
            return Kind.ERROR
    if _is_reply(shape):
        # Checked before the red colour: a settings answer is never a job failure.
        return Kind.REPLY
    if (embed is not None and embed.color == ERROR_COLOR) or _STOPPED in shape.tail:
        return Kind.ERROR
    return Kind.OTHER


def _is_reply(shape: _Shape) -> bool:
    if shape.command in REPLY_COMMANDS:
        return True
    if shape.content.startswith(REPLY_PREFIXES):
        return True
    title = shape.embed.title if shape.embed else None
    return title is not None and INFO_TITLE in title


def _action(content: str, tail: str) -> tuple[Family | None, int | None, str | None]:
    """The job kind the content names, its grid cell and qualifier (reference §3.1)."""
    head = _HEAD_LABEL_RE.match(content)
    if head is not None:
        family = Family.PICK if head.group(1).lower() == "upscaling" else Family.VARIATION
        return family, int(head.group(2)), None
    match = _TAIL_LABEL_RE.match(tail.split("\n", 1)[0])
    label = match.group(1).strip() if match else ""
    if label.endswith(" by"):
        label = label[: -len(" by")]
    cell = _CELL_RE.match(label)
    if cell is not None:
        return Family.PICK, int(cell.group(1)), None
    variant = _GROUP_RE.search(label)
    qualifier = variant.group(1) if variant else None
    for prefix, family in _LABELS:
        if label.startswith(prefix):
            if family is Family.PAN:
                qualifier = label[len(prefix) :].strip() or None
            return family, None, qualifier
    return None, None, None


#: Result labels in content, by job family (reference §3.1, TAI MjMessageParser order).
_LABELS: tuple[tuple[str, Family], ...] = (
    ("Upscal", Family.UPSCALE),
    ("Variations", Family.VARIATION),
    ("Remix", Family.VARIATION),
    ("Zoom Out", Family.ZOOM),
    ("Pan ", Family.PAN),
    ("Animat", Family.VIDEO),
    ("Extend", Family.VIDEO),
)


def _seed(content: str) -> tuple[Seed | None, str | None]:
    match = _SEED_RE.search(content)
    if match is None:
        return None, None
    return Seed(content=content, value=int(match.group(2))), match.group(1).lower()


# -- structure --------------------------------------------------------------------------------


def _interaction(message: Mapping[str, Any]) -> Mapping[str, Any]:
    # 2024+ messages carry interaction_metadata (capture 14, both present); older ones only the
    # legacy interaction object (captures 01, 06). Prefer the new one.
    for key in ("interaction_metadata", "interaction"):
        value = message.get(key)
        if isinstance(value, Mapping):
            return value
    return {}


def _reply_to(message: Mapping[str, Any]) -> str | None:
    reference = message.get("message_reference")
    return _text(reference.get("message_id")) if isinstance(reference, Mapping) else None


def _first_embed(embeds: Any) -> Embed | None:
    if not isinstance(embeds, list) or not embeds or not isinstance(embeds[0], Mapping):
        return None
    raw = embeds[0]
    footer = raw.get("footer")
    color = raw.get("color")
    return Embed(
        title=_text(raw.get("title")),
        description=_text(raw.get("description")),
        color=color if isinstance(color, int) else None,
        footer=_text(footer.get("text")) if isinstance(footer, Mapping) else None,
    )


def _attachments(raw: Any) -> Iterator[Attachment]:
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        yield Attachment(
            id=item["id"],
            url=_text(item.get("url")) or "",
            filename=_text(item.get("filename")) or "",
            proxy_url=_text(item.get("proxy_url")),
            content_type=_text(item.get("content_type")),
            width=_int(item.get("width")),
            height=_int(item.get("height")),
            size=_int(item.get("size")),
        )


def _buttons(rows: Any) -> Iterator[tuple[str, str | None, str | None]]:
    """(label, custom_id, url) of every button, in display order."""
    for row in rows if isinstance(rows, list) else []:
        inner = row.get("components") if isinstance(row, Mapping) else None
        for component in inner if isinstance(inner, list) else []:
            if isinstance(component, Mapping) and component.get("type") == 2:
                yield (
                    _label(component),
                    _text(component.get("custom_id")),
                    _text(component.get("url")),
                )


def _label(button: Mapping[str, Any]) -> str:
    # Emoji-only buttons (🔄, pans, ❤️) have no label; clients know them by the emoji (§3.3).
    label = _text(button.get("label"))
    if label:
        return label
    emoji = button.get("emoji")
    return (_text(emoji.get("name")) or "") if isinstance(emoji, Mapping) else ""


def _is_preview(attachment: Attachment) -> bool:
    # Progress previews are "grid_0.webp" (2023, capture 07) or "<hash>_grid_0.webp" (§3.2).
    return attachment.filename.endswith(_PREVIEW_SUFFIX)


# -- job hash ---------------------------------------------------------------------------------


def _job_hash(
    components: list[tuple[str, str | None, str | None]], attachments: tuple[Attachment, ...]
) -> str | None:
    """Midjourney's job UUID from buttons, the web link, or a file name (README conventions)."""
    for _, custom_id, url in components:
        found = _hash_in_custom_id(custom_id) or _hash_in_url(url)
        if found:
            return found
    for attachment in attachments:
        found = _hash_in_filename(attachment.filename or _url_basename(attachment.url))
        if found:
            return found
    return None


def _hash_in_custom_id(custom_id: str | None) -> str | None:
    # MJ::JOB::<action>::<i>::<hash>[::SOLO], MJ::BOOKMARK::<hash>, MJ::CancelJob::ByJobid::<hash>,
    # MJ::CustomZoom::<hash>, MJ::Outpaint::<n>::1::<hash>::SOLO ... (§1.5): a "::" segment.
    if not custom_id or not custom_id.startswith("MJ::"):
        return None
    return next((part.lower() for part in custom_id.split("::") if _UUID_RE.match(part)), None)


def _hash_in_url(url: str | None) -> str | None:
    # Link button: https://www.midjourney.com/jobs/<hash> or /app/jobs/<hash>/ (captures 17, 20).
    match = _JOB_URL_RE.search(url or "")
    return match.group(1).lower() if match else None


def _hash_in_filename(filename: str) -> str | None:
    # <user>_<slug>_<hash>.png|webp (final), <hash>_grid_0.webp (newer preview); plain
    # grid_0.webp carries nothing. The slug is the user's words, so only whole "_" segments of
    # the stem count, never a UUID buried in a word.
    stem = filename.rsplit(".", 1)[0]
    return next((part.lower() for part in stem.split("_") if _UUID_RE.match(part)), None)


def _url_basename(url: str) -> str:
    # CDN URLs carry signing params (?ex=&is=&hm=, capture 20): drop them first.
    return url.split("?", 1)[0].rsplit("/", 1)[-1]


# -- scalars ----------------------------------------------------------------------------------


def _nonce(value: Any) -> str | None:
    # Discord echoes the nonce as sent (a string); tolerate a number from odd clients.
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str) and str(value):
        return str(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
