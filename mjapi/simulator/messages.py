"""The Midjourney Bot's messages, built exactly as Discord delivers them (captures 01-14, 20).

Every builder returns a fresh dict: a message is never changed after it was dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass

from mjapi.simulator import components as buttons
from mjapi.simulator.objects import JsonObject, bot_user, public_user
from mjapi.simulator.snowflake import message_timestamp
from mjapi.simulator.state import SimChannel
from mjapi.simulator.users import MJ_BOT_ID, SimUser

#: message types (Discord): 0 default, 19 reply, 20 chat-input command reply
DEFAULT = 0
REPLY = 19
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
    #: 2 application command, 3 component (button), 5 modal submit
    interaction_type: int = 2


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
        "type": ctx.interaction_type,
        "name": ctx.command,
        "user": user,
    }
    # capture 14: {"0": "0"} in a DM with the bot, the guild id in a server channel
    owner = ctx.channel.guild_id or "0"
    message["interaction_metadata"] = {
        "id": ctx.interaction_id,
        "type": ctx.interaction_type,
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
    waiting: JsonObject,
    content: str,
    preview: JsonObject,
    edited_at: str,
    components: list[JsonObject] | None = None,
) -> JsonObject:
    """The waiting message edited to a progress step with its preview (captures 07-09).

    ``components``: the Cancel Job row progress messages carry since 2024 (reference §6 gaps).
    """
    edit = stored(waiting)
    edit.update(content=content, attachments=[preview], edited_timestamp=edited_at)
    if components is not None:
        edit["components"] = components
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
    return buttons.grid(job_hash, web_link)


def embed_reply(
    ctx: InteractionContext, message_id: str, embed: tuple[str, str, int], footer: str | None
) -> JsonObject:
    """An ephemeral embed-only reply such as "Job queued" or "Queue full" (capture 14).

    ``footer``: e.g. ``/imagine <prompt>``; None for the account-level embeds, which have none.
    """
    title, description, colour = embed
    message = _interaction_reply(ctx, message_id, "", EPHEMERAL)
    body: JsonObject = {"type": "rich", "title": title}
    if footer is not None:
        body["footer"] = {"text": footer}
    body.update(description=description, content_scan_version=0, color=colour)
    message["embeds"] = [body]
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


def reference_to(parent: JsonObject) -> JsonObject:
    """``message_reference`` of a reply to ``parent`` (captures 12, 25)."""
    reference: JsonObject = {
        "type": 0,
        "channel_id": parent["channel_id"],
        "message_id": parent["id"],
    }
    if "guild_id" in parent:
        reference["guild_id"] = parent["guild_id"]
    return reference


def button_reply(
    ctx: InteractionContext,
    message_id: str,
    content: str,
    parent: JsonObject,
    *,
    flags: int = 0,
    with_nonce: bool = True,
) -> JsonObject:
    """A type 19 reply to the message whose button was clicked (captures 12, 13, 22-28).

    It carries ``message_reference`` and the parent as ``referenced_message`` (captures 17, 25),
    the webhook/application ids of a bot answer, and the click's nonce when asked.
    """
    message = _message(ctx.channel, message_id, content, REPLY, flags)
    message["mentions"] = [public_user(ctx.user)]
    message["webhook_id"] = MJ_BOT_ID
    message["application_id"] = MJ_BOT_ID
    message["message_reference"] = reference_to(parent)
    message["referenced_message"] = stored(parent)
    if with_nonce and ctx.nonce is not None:
        message["nonce"] = ctx.nonce
    return message


def with_components(
    message: JsonObject, components: list[JsonObject], edited_at: str
) -> JsonObject:
    """``message`` edited to new buttons, e.g. a used one turned primary."""
    edit = stored(message)
    edit.update(components=components, edited_timestamp=edited_at)
    return edit


def interaction_reply(
    ctx: InteractionContext, message_id: str, content: str, flags: int
) -> JsonObject:
    """A type 20 reply to a slash command (info, describe, prefer ...)."""
    return _interaction_reply(ctx, message_id, content, flags)


def direct_message(channel: SimChannel, message_id: str, content: str) -> JsonObject:
    """A plain message of the bot, e.g. the seed DM (reference §3.4): type 0, no interaction."""
    return _message(channel, message_id, content, DEFAULT, 0)


def application() -> JsonObject:
    """``application`` of modal events: the Midjourney Bot (reference §2.4)."""
    return {
        "id": MJ_BOT_ID,
        "name": "Midjourney Bot",
        "icon": "f6ce562a6b4979c4b1cbc5b436d3be76",
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "flags": 0,
    }
