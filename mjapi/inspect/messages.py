"""A message object as the interpreter reads it, or why it is not a Midjourney message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mjapi.domain.events import FailReason
from mjapi.domain.jobs import Attachment, JobStatus
from mjapi.transports.discord.interpret import Kind, MjMessage, interpret
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID

#: The useapi status a message moves its job to; kinds absent here move nothing.
_STATUS = {
    Kind.WAITING: JobStatus.STARTED,
    Kind.PROGRESS: JobStatus.PROGRESS,
    Kind.DONE: JobStatus.COMPLETED,
    # describe, settings replies and the seed DM are the result of their own jobs
    Kind.DESCRIBED: JobStatus.COMPLETED,
    Kind.REPLY: JobStatus.COMPLETED,
    Kind.SEED: JobStatus.COMPLETED,
}

#: A message object without an author, id or channel: Discord sends such MESSAGE_UPDATEs (embed
#: unfurls), and a MESSAGE_DELETE's ``d`` saved without its frame looks the same.
_PARTIAL = "not a whole message (no author, id or channel): the interpreter skips it"

_NOTES = {
    Kind.QUEUED: "not an error: Midjourney starts the job when another one finishes",
    Kind.OTHER: "a Midjourney message that is no job event mjapi knows",
}


def describe_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """The interpreter's reading of a message object, or what else the object is."""
    msg = interpret(message)
    if msg is None:
        return _not_midjourney(message)
    result = {
        "kind": msg.kind.value,
        "status": job_status(msg),
        "progress": msg.percent,
        "mode": msg.mode,
        "stealth": msg.stealth,
        "prompt": msg.prompt,
        "user_id": msg.user_id,
        "command": msg.command,
        "action": msg.action.value if msg.action else None,
        "index": msg.index,
        "variant": msg.variant,
        "job_hash": msg.job_hash,
        "ids": _ids(msg),
        "flags": msg.flags,
        "content": msg.content,
        "buttons": [{"label": b.label, "custom_id": b.custom_id} for b in msg.buttons],
        "attachments": [_attachment(a) for a in msg.attachments],
        "embed": _embed(msg),
        "error": _error(msg),
    }
    return result | _extras(msg, message)


def job_status(msg: MjMessage) -> str | None:
    """The useapi job status the message implies, or None (queued, unknown shapes)."""
    if msg.kind is Kind.ERROR:
        moderated = msg.failure is FailReason.MODERATED
        return (JobStatus.MODERATED if moderated else JobStatus.FAILED).value
    status = _STATUS.get(msg.kind)
    return status.value if status else None


def _ids(msg: MjMessage) -> dict[str, str | None]:
    return {
        "message_id": msg.message_id,
        "channel_id": msg.channel_id,
        "guild_id": msg.guild_id,
        "nonce": msg.nonce,
        "interaction_id": msg.interaction_id,
        "reply_to": msg.reply_to,
    }


def _attachment(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "width": attachment.width,
        "height": attachment.height,
        "size": attachment.size,
        "url": attachment.url,
    }


def _embed(msg: MjMessage) -> dict[str, Any] | None:
    embed = msg.embed
    if embed is None:
        return None
    return {
        "title": embed.title,
        "description": embed.description,
        "color": embed.color,
        "footer": embed.footer,
    }


def _error(msg: MjMessage) -> dict[str, Any] | None:
    failure = msg.failure
    if failure is None:
        return None
    embed = msg.embed
    return {
        "title": embed.title if embed else None,
        "description": embed.description if embed else None,
        # the catalogue's verdict: moderated, queue_full, account_flagged ... (catalogue.py)
        "reason": failure.value,
    }


def _extras(msg: MjMessage, message: Mapping[str, Any]) -> dict[str, Any]:
    """Fields only some messages have: seed, the replied-to message, a note."""
    extras: dict[str, Any] = {}
    if msg.seed is not None:
        extras["seed"] = {"value": msg.seed.value, "job_hash": msg.seed_job_hash}
    parent = message.get("referenced_message")
    parent_msg = interpret(parent) if isinstance(parent, Mapping) else None
    if parent_msg is not None:
        # REST replies embed their parent (captures 17, 22, 25): its hash is the source job's.
        extras["referenced_message"] = {
            "message_id": parent_msg.message_id,
            "kind": parent_msg.kind.value,
            "job_hash": parent_msg.job_hash,
            "prompt": parent_msg.prompt,
            "action": parent_msg.action.value if parent_msg.action else None,
            "mode": parent_msg.mode,
        }
    note = _NOTES.get(msg.kind)
    if note:
        extras["note"] = note
    return extras


def _not_midjourney(message: Mapping[str, Any]) -> dict[str, Any]:
    author = message.get("author")
    author_id = author.get("id") if isinstance(author, Mapping) else None
    if author_id == MIDJOURNEY_APPLICATION_ID or not isinstance(author, Mapping):
        kind, note = "partial_message", _PARTIAL
    elif author.get("bot") is True:
        kind, note = "other_bot_message", "written by another bot, not Midjourney: ignored"
    else:
        kind, note = "user_message", "written by a person, not Midjourney: ignored"
    return {
        "kind": kind,
        "status": None,
        "ids": {
            "message_id": _text(message.get("id")),
            "channel_id": _text(message.get("channel_id")),
            "author_id": _text(author_id),
        },
        "content": _text(message.get("content")),
        "note": note,
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
