"""What one Discord message from the Midjourney bot says, as plain data (pure).

Input is a message object: a gateway ``MESSAGE_CREATE``/``MESSAGE_UPDATE`` ``d`` or an element of
``GET /channels/{id}/messages`` (same shape). Formats: reference §3 and §4, the captures README.

It runs for every message of every account, thousands a second under load, so it does no work a
message does not need: the status line is split off once and shared, a regex runs only when its
literal is in the text ("%)", "**:", "<@" ...), absent embeds, attachments and buttons are not
parsed, and the result is built without keyword arguments. The readings are those of the plain
version kept in tests/unit/_interpret_reference.py (test_interpret_equivalence.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeGuard

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


@dataclass(slots=True)
class MjMessage:
    """One Midjourney bot message, interpreted.

    Immutable by convention: nothing assigns its fields after ``interpret``. Not ``frozen``: a
    frozen dataclass sets each of the 27 fields through ``object.__setattr__``, ~4 µs a message
    at thousands of messages a second. Not hashable either (nothing hashes one; one with embeds
    never could).
    """

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
    if not _is_mapping(author) or author.get("id") != MIDJOURNEY_APPLICATION_ID:
        return None
    message_id = message.get("id")
    channel_id = message.get("channel_id")
    if not isinstance(message_id, str) or not isinstance(channel_id, str):
        return None
    content = _text(message.get("content")) or ""
    # Most messages carry no embed, no attachment or no button: skip their parsers then.
    raw_embeds = message.get("embeds")
    embed, embeds = _embeds(raw_embeds) if raw_embeds else (None, ())
    interaction = _interaction(message)
    interaction_id = _text(interaction.get("id"))
    command = _text(interaction.get("name"))
    prompt, tail = _split_prompt(content)
    if prompt is None and embed is not None and embed.title == QUEUED_TITLE:
        prompt = _footer_prompt(embed)
    # The status line: where the label, the status and the mode live (reference §3.1).
    status = tail.partition("\n")[0]
    raw_attachments = message.get("attachments")
    attachments = _attachments(raw_attachments) if raw_attachments else ()
    raw_rows = message.get("components")
    components, buttons = _buttons(raw_rows) if raw_rows else _NO_BUTTONS
    mode, stealth = _mode(status)
    percent = _percent(tail)
    action, index, variant = _action(content, status)
    seed, seed_job_hash = _seed(content)
    flags = _int(message.get("flags")) or 0
    kind = _kind(content, tail, percent, attachments, buttons, embed, command, flags, seed)
    guild_id = _text(message.get("guild_id"))
    timestamp = _text(message.get("timestamp")) or ""
    edited_timestamp = _text(message.get("edited_timestamp"))
    nonce = _nonce(message.get("nonce"))
    reply_to = _reply_to(message)
    user_id = _user_id(tail, content, interaction)
    job_hash = _job_hash(components, attachments)
    # Positional, in field order, each value named as its field (a test checks the names):
    # 27 keyword arguments cost ~2.5 µs a message, a sixth of the whole reading.
    return MjMessage(
        message_id,
        channel_id,
        guild_id,
        content,
        timestamp,
        edited_timestamp,
        nonce,
        interaction_id,
        command,
        reply_to,
        flags,
        kind,
        prompt,
        user_id,
        percent,
        mode,
        stealth,
        job_hash,
        attachments,
        buttons,
        embed,
        embeds,
        action,
        index,
        variant,
        seed,
        seed_job_hash,
    )


# -- content ----------------------------------------------------------------------------------


def _split_prompt(content: str) -> tuple[str | None, str]:
    """The text inside the first ``**…**`` and what follows it (where mode/status live)."""
    # What the regex ``\*\*(.+?)\*\*`` (DOTALL) would find, by str.find: the first "**", then
    # the next "**" after at least one character. Without one there, no later "**" can open a
    # match either.
    start = content.find("**")
    if start < 0:
        return None, content
    end = content.find("**", start + 3)
    if end < 0:
        return None, content
    return content[start + 2 : end], content[end + 2 :]


def _footer_prompt(embed: Embed) -> str | None:
    # "Job queued" has empty content; the prompt is in the footer as "/imagine <prompt>"
    # (capture 14; BAI reads it the same way).
    footer = embed.footer or ""
    return footer[len(_FOOTER_COMMAND) :] if footer.startswith(_FOOTER_COMMAND) else None


def _mode(status: str) -> tuple[str | None, bool]:
    # The LAST parenthesised group of the first line after the prompt; groups inside the
    # prompt are prompt text (capture 17 ends its prompt with "(fast)" and has no mode), and a
    # newer trailing "\n-# …" subtext line is not part of the status (reference §3.1).
    if ")" not in status:
        return None, False
    groups = _GROUP_RE.findall(status)
    if not groups:
        return None, False
    match = _MODE_RE.match(groups[-1].strip())
    if match is None:
        return None, False
    return match.group(1), match.group(2) is not None


def _percent(tail: str) -> int | None:
    if "%)" not in tail:  # the pattern's own literal: no search without it
        return None
    match = _PERCENT_RE.search(tail)
    return int(match.group(1)) if match else None


def _user_id(tail: str, content: str, interaction: Mapping[str, Any]) -> str | None:
    # tail is the end of content: no "<@" in content, no mention in either
    match = (_MENTION_RE.search(tail) or _MENTION_RE.search(content)) if "<@" in content else None
    if match:
        return match.group(1)
    user = interaction.get("user")
    return _text(user.get("id")) if _is_mapping(user) else None


def _kind(
    content: str,
    tail: str,
    percent: int | None,
    attachments: tuple[Attachment, ...],
    buttons: tuple[Button, ...],
    embed: Embed | None,
    command: str | None,
    flags: int,
    seed: Seed | None,
) -> Kind:
    """What decides a message's kind (arguments, not a record: this runs for every message)."""
    if seed is not None:
        return Kind.SEED
    if percent is not None:
        return Kind.PROGRESS
    if _WAITING in tail or flags & LOADING_FLAG:
        # A deferred answer ("thinking...", flag 128) is an acknowledgement like "Waiting".
        return Kind.WAITING
    if buttons and any(not _is_preview(a) for a in attachments):
        return Kind.DONE
    if embed is not None and _DESCRIBE_MARK in (embed.description or ""):
        return Kind.DESCRIBED
    if embed is not None:
        if embed.title == QUEUED_TITLE:
            return Kind.QUEUED
        if embed.title in ERROR_TITLES or is_captcha(embed.title, embed.description):
            return Kind.ERROR
    if _is_reply(command, content, embed):
        # Checked before the red colour: a settings answer is never a job failure.
        return Kind.REPLY
    if (embed is not None and embed.color == ERROR_COLOR) or _STOPPED in tail:
        return Kind.ERROR
    return Kind.OTHER


def _is_reply(command: str | None, content: str, embed: Embed | None) -> bool:
    if command in REPLY_COMMANDS:
        return True
    if content.startswith(REPLY_PREFIXES):
        return True
    title = embed.title if embed else None
    return title is not None and INFO_TITLE in title


def _action(content: str, status: str) -> tuple[Family | None, int | None, str | None]:
    """The job kind the content names, its grid cell and qualifier (reference §3.1)."""
    # Cheap preconditions first: the old wording starts with U or M (no other character
    # folds to them), and a tail label ends at a mention.
    if content[:1] in _HEAD_INITIALS:
        head = _HEAD_LABEL_RE.match(content)
        if head is not None:
            family = Family.PICK if head.group(1).lower() == "upscaling" else Family.VARIATION
            return family, int(head.group(2)), None
    if "<@" not in status:
        return _NO_ACTION
    match = _TAIL_LABEL_RE.match(status)
    label = match.group(1).strip() if match else ""
    if not label:  # "**prompt** - <@uid> (fast)": a plain grid or its progress
        return _NO_ACTION
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
    return _NO_ACTION


#: the first letters _HEAD_LABEL_RE accepts (re.IGNORECASE folds no other character to U or M)
_HEAD_INITIALS = "UuMm"
_NO_ACTION: tuple[Family | None, int | None, str | None] = (None, None, None)

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
    if "**:" not in content:  # "**Job ID**:" in any case: the seed DM's own literal
        return _NO_SEED
    match = _SEED_RE.search(content)
    if match is None:
        return _NO_SEED
    return Seed(content=content, value=int(match.group(2))), match.group(1).lower()


_NO_SEED: tuple[Seed | None, str | None] = (None, None)


# -- structure --------------------------------------------------------------------------------


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # Gateway and REST messages are plain dicts: skip the ABC check (slow) for them.
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def _interaction(message: Mapping[str, Any]) -> Mapping[str, Any]:
    # 2024+ messages carry interaction_metadata (capture 14, both present); older ones only the
    # legacy interaction object (captures 01, 06). Prefer the new one.
    value = message.get("interaction_metadata")
    if _is_mapping(value):
        return value
    value = message.get("interaction")
    return value if _is_mapping(value) else _NO_INTERACTION


#: what a message without interaction reads as (never changed)
_NO_INTERACTION: Mapping[str, Any] = MappingProxyType({})


def _reply_to(message: Mapping[str, Any]) -> str | None:
    reference = message.get("message_reference")
    return _text(reference.get("message_id")) if _is_mapping(reference) else None


def _embeds(raw: Any) -> tuple[Embed | None, tuple[dict[str, Any], ...]]:
    """The first embed, read, and every embed as Discord sent it."""
    if not isinstance(raw, list):
        return None, ()
    return _first_embed(raw), tuple(dict(e) for e in raw if _is_mapping(e))


def _first_embed(embeds: list[Any]) -> Embed | None:
    if not embeds or not _is_mapping(embeds[0]):
        return None
    raw = embeds[0]
    footer = raw.get("footer")
    color = raw.get("color")
    return Embed(
        title=_text(raw.get("title")),
        description=_text(raw.get("description")),
        color=color if isinstance(color, int) else None,
        footer=_text(footer.get("text")) if _is_mapping(footer) else None,
    )


def _attachments(raw: Any) -> tuple[Attachment, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        [_attachment(item) for item in raw if _is_mapping(item) and isinstance(item.get("id"), str)]
    )


def _attachment(item: Mapping[str, Any]) -> Attachment:
    get = item.get
    # Each value named as its field, "id" too (shadowing the builtin here is harmless).
    id, url, filename = item["id"], get("url"), get("filename")
    url = url if isinstance(url, str) else ""
    filename = filename if isinstance(filename, str) else ""
    proxy_url, content_type = get("proxy_url"), get("content_type")
    proxy_url = proxy_url if isinstance(proxy_url, str) else None
    content_type = content_type if isinstance(content_type, str) else None
    width, height, size = _int(get("width")), _int(get("height")), _int(get("size"))
    # Positional like MjMessage (a test checks the names against the fields).
    return Attachment(id, url, filename, proxy_url, content_type, width, height, size)


def _buttons(rows: Any) -> tuple[_Components, tuple[Button, ...]]:
    """(label, custom_id, url) of every button in display order, and the buttons a client may
    press: those with a custom_id, never the ❤️ bookmark (§1.5). One pass for both."""
    found: list[tuple[str, str | None, str | None]] = []
    pressable: list[Button] = []
    for row in rows if isinstance(rows, list) else ():
        inner = row.get("components") if _is_mapping(row) else None
        for component in inner if isinstance(inner, list) else ():
            if not _is_mapping(component) or component.get("type") != 2:
                continue
            # _text() spelt out: this loop runs for every button of every grid
            get = component.get
            label, custom_id, url = get("label"), get("custom_id"), get("url")
            if not (isinstance(label, str) and label):
                label = _emoji_name(component)
            if not isinstance(custom_id, str):
                custom_id = None
            found.append((label, custom_id, url if isinstance(url, str) else None))
            if custom_id and not custom_id.startswith(_BOOKMARK_PREFIX):
                pressable.append(Button(label, custom_id))
    return found, tuple(pressable)


#: (label, custom_id, url) of each button
_Components = Sequence[tuple[str, str | None, str | None]]
_NO_BUTTONS: tuple[_Components, tuple[Button, ...]] = ((), ())


def _emoji_name(button: Mapping[str, Any]) -> str:
    # Emoji-only buttons (🔄, pans, ❤️) have no label; clients know them by the emoji (§3.3).
    emoji = button.get("emoji")
    return (_text(emoji.get("name")) or "") if _is_mapping(emoji) else ""


def _is_preview(attachment: Attachment) -> bool:
    # Progress previews are "grid_0.webp" (2023, capture 07) or "<hash>_grid_0.webp" (§3.2).
    return attachment.filename.endswith(_PREVIEW_SUFFIX)


# -- job hash ---------------------------------------------------------------------------------


def _job_hash(components: _Components, attachments: tuple[Attachment, ...]) -> str | None:
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
    return _uuid_among(custom_id.split("::"))


def _hash_in_url(url: str | None) -> str | None:
    # Link button: https://www.midjourney.com/jobs/<hash> or /app/jobs/<hash>/ (captures 17, 20).
    if not url:
        return None
    match = _JOB_URL_RE.search(url)
    return match.group(1).lower() if match else None


def _hash_in_filename(filename: str) -> str | None:
    # <user>_<slug>_<hash>.png|webp (final), <hash>_grid_0.webp (newer preview); plain
    # grid_0.webp carries nothing. The slug is the user's words, so only whole "_" segments of
    # the stem count, never a UUID buried in a word.
    stem = filename.rsplit(".", 1)[0]
    return _uuid_among(stem.split("_"))


def _uuid_among(parts: list[str]) -> str | None:
    """The first part that is a UUID, lower-cased."""
    for part in parts:
        # 36 characters, or 37 with the trailing newline "$" lets through: only those can match.
        if 36 <= len(part) <= 37 and _UUID_RE.match(part):
            return part.lower()
    return None


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
