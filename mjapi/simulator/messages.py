"""The Midjourney Bot's messages, built exactly as Discord delivers them (captures 01-14, 20).

Every builder returns a fresh dict: a message is never changed after it was dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass

from mjapi.simulator.objects import JsonObject, bot_user, public_user
from mjapi.simulator.snowflake import message_timestamp
from mjapi.simulator.state import SimChannel
from mjapi.simulator.users import MJ_BOT_ID, SimUser

#: message types (Discord): 0 default, 20 chat-input command reply
DEFAULT = 0
CHAT_INPUT_COMMAND = 20
#: message flag: only the invoking user sees it
EPHEMERAL = 64

#: embed colours (reference §4; capture 14)
WARNING_COLOUR = 16239475
ERROR_COLOUR = 16711680

JOB_QUEUED = (
    "Job queued",
    "You have reached the maximum allowed number of concurrent jobs. "
    "Don't worry, this job will start as soon as another one finishes!",
    WARNING_COLOUR,
)
QUEUE_FULL = (
    "Queue full",
    "Your job queue is full. Please wait for a job to finish first, then resubmit this one.",
    ERROR_COLOUR,
)


@dataclass(frozen=True)
class InteractionContext:
    """Who ran which command where: what every reply to one interaction carries."""

    user: SimUser
    channel: SimChannel
    command: str
    interaction_id: str
    #: the client's nonce, if it sent one
    nonce: str | None


def waiting_content(prompt: str, user_id: str) -> str:
    return f"**{prompt}** - <@{user_id}> (Waiting to start)"


def progress_content(prompt: str, user_id: str, percent: int, mode: str) -> str:
    return f"**{prompt}** - <@{user_id}> ({percent}%) ({mode})"


def done_content(prompt: str, user_id: str, mode: str) -> str:
    return f"**{prompt}** - <@{user_id}> ({mode})"


def _message(
    channel: SimChannel, message_id: str, content: str, kind: int, flags: int
) -> JsonObject:
    """The fields every message has (captures 01 and 20)."""
    message: JsonObject = {
        "id": message_id,
        "type": kind,
        "content": content,
        "channel_id": channel.id,
        "author": bot_user(),
        "attachments": [],
        "embeds": [],
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "timestamp": message_timestamp(message_id),
        "edited_timestamp": None,
        "flags": flags,
        "components": [],
    }
    if channel.guild_id is not None:
        message["guild_id"] = channel.guild_id
    return message


def _interaction_reply(
    ctx: InteractionContext, message_id: str, content: str, flags: int
) -> JsonObject:
    """A type 20 reply to the interaction: webhook, nonce, ``interaction`` and its metadata."""
    user = public_user(ctx.user)
    message = _message(ctx.channel, message_id, content, CHAT_INPUT_COMMAND, flags)
    message["webhook_id"] = MJ_BOT_ID
    message["application_id"] = MJ_BOT_ID
    if ctx.nonce is not None:
        message["nonce"] = ctx.nonce
    message["interaction"] = {
        "id": ctx.interaction_id,
        "type": 2,
        "name": ctx.command,
        "user": user,
    }
    # capture 14: {"0": "0"} in a DM with the bot, the guild id in a server channel
    owner = ctx.channel.guild_id or "0"
    message["interaction_metadata"] = {
        "id": ctx.interaction_id,
        "type": 2,
        "name": ctx.command,
        "command_type": 1,
        "user": user,
        "authorizing_integration_owners": {"0": owner},
    }
    return message


def waiting_message(ctx: InteractionContext, message_id: str, prompt: str) -> JsonObject:
    """The job's first message: ``(Waiting to start)``, carrying the nonce (captures 01, 06)."""
    message = _interaction_reply(ctx, message_id, waiting_content(prompt, ctx.user.id), 0)
    message["mentions"] = [public_user(ctx.user)]
    return message


def stored(message: JsonObject) -> JsonObject:
    """The message as Discord keeps it: the nonce only ever rides on the gateway MESSAGE_CREATE.

    No REST message in captures 17-29 and no MESSAGE_UPDATE carries one, so correlators must
    move from the nonce to the message id after the first message.
    """
    return {key: value for key, value in message.items() if key != "nonce"}


def progress_edit(
    waiting: JsonObject, content: str, preview: JsonObject, edited_at: str
) -> JsonObject:
    """The waiting message edited to a progress step with its preview (captures 07-09)."""
    edit = stored(waiting)
    edit.update(content=content, attachments=[preview], edited_timestamp=edited_at)
    return edit


def result_message(
    ctx: InteractionContext,
    message_id: str,
    content: str,
    grid: JsonObject,
    components: list[JsonObject],
    with_nonce: bool,
) -> JsonObject:
    """The finished grid: a new type 0 message without ``interaction`` (captures 10, 20)."""
    message = _message(ctx.channel, message_id, content, DEFAULT, 0)
    message["mentions"] = [public_user(ctx.user)]
    message["attachments"] = [grid]
    message["components"] = components
    message["referenced_message"] = None
    if with_nonce and ctx.nonce is not None:
        # Discord added the nonce to this message around 2025-05 (reference §2.5 step 5).
        message["nonce"] = ctx.nonce
    return message


def grid_components(job_hash: str, web_link: bool) -> list[JsonObject]:
    """U1-U4 + 🔄 and V1-V4 (+ the link button) as in captures 10 and 20."""
    upscales = [_button(f"U{i}", f"MJ::JOB::upsample::{i}::{job_hash}") for i in range(1, 5)]
    reroll: JsonObject = {
        "type": 2,
        "style": 2,
        "emoji": {"name": "🔄"},
        "custom_id": f"MJ::JOB::reroll::0::{job_hash}::SOLO",
    }
    variations = [_button(f"V{i}", f"MJ::JOB::variation::{i}::{job_hash}") for i in range(1, 5)]
    if web_link:
        # capture 20: a link button with a zero-width-space label and no custom_id
        link = f"https://www.midjourney.com/jobs/{job_hash}"
        variations.append({"type": 2, "style": 5, "label": "\u200b", "url": link})
    return [
        {"type": 1, "components": [*upscales, reroll]},
        {"type": 1, "components": variations},
    ]


def _button(label: str, custom_id: str) -> JsonObject:
    return {"type": 2, "style": 2, "label": label, "custom_id": custom_id}


def embed_reply(
    ctx: InteractionContext, message_id: str, embed: tuple[str, str, int], footer: str
) -> JsonObject:
    """An ephemeral embed-only reply such as "Job queued" or "Queue full" (capture 14)."""
    title, description, colour = embed
    message = _interaction_reply(ctx, message_id, "", EPHEMERAL)
    message["embeds"] = [
        {
            "type": "rich",
            "title": title,
            "footer": {"text": footer},
            "description": description,
            "content_scan_version": 0,
            "color": colour,
        }
    ]
    return message


def text_reply(ctx: InteractionContext, message_id: str, content: str) -> JsonObject:
    """An ephemeral text reply, e.g. to /relax (reference §3.4)."""
    return _interaction_reply(ctx, message_id, content, EPHEMERAL)


def deleted(channel: SimChannel, message_id: str) -> JsonObject:
    """MESSAGE_DELETE ``d`` (captures 11 and 16)."""
    payload: JsonObject = {"id": message_id, "channel_id": channel.id}
    if channel.guild_id is not None:
        payload["guild_id"] = channel.guild_id
    return payload
