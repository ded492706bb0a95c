"""What Midjourney answers a faulted job with: the error embeds of reference §4, and the rest.

Every embed is an ephemeral (flags 64) type 20 reply carrying the interaction's nonce and
``interaction_metadata``, like "Job queued" (capture 14), in Midjourney's red; the
``unrecognized`` message is the exception, a plain channel message. Titles are the
exact ones of §4; the descriptions §4 quotes are used verbatim, the others (not captured,
reference §8) follow Midjourney's tone.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw

from mjapi.simulator import components, custom_ids, messages
from mjapi.simulator.messages import ERROR_COLOUR, InteractionContext
from mjapi.simulator.objects import JsonObject

#: the plain content of the ``unrecognized`` fault: no embed, no buttons, nothing to classify
UNRECOGNIZED_CONTENT = "Something unexpected happened, please try again later."


@dataclass(frozen=True)
class Refusal:
    """An error embed: its title, its description (``{detail}`` filled per job), its footer."""

    title: str
    description: str
    #: the embed ends with ``/imagine <prompt>`` (the prompt-related ones, as in §4)
    footer: bool


_MODERATORS = "Sorry! Our AI moderators feel your prompt might be against our community standards."

REFUSALS: dict[str, Refusal] = {
    "banned_prompt": Refusal(
        "Banned prompt detected",
        "The word `{detail}` is banned. Circumventing this filter to violate our rules may "
        "result in your access being revoked.",
        footer=True,
    ),
    "invalid_parameter": Refusal(
        "Invalid parameter", "Unrecognized parameter(s): `{detail}`", footer=True
    ),
    "invalid_link": Refusal(
        "Invalid link",
        "Sorry! Could not complete the job: the link `{detail}` is not a valid image link.",
        footer=True,
    ),
    "output_filter": Refusal(
        "Request cancelled due to output filters",
        "Sorry! Our AI moderators flagged the result of your prompt as possibly against our "
        "community standards, so the job was cancelled. Please try a different prompt.",
        footer=True,
    ),
    "action_needed": Refusal(
        "Action needed to continue",
        f'{_MODERATORS}\n\nIf you think this is a mistake, please press the "Appeal" button '
        "below and we will look into it.",
        footer=True,
    ),
    "pending_mod_message": Refusal(
        "Pending mod message",
        "You have a pending moderation message. Please acknowledge it before using the bot "
        "further.",
        footer=False,
    ),
    "captcha": Refusal(
        "Action required to continue",
        "Wow! You're making so many AI images we need to verify you're human 😂 Please select "
        "which description best fits the image below.",
        footer=False,
    ),
    "blocked": Refusal(
        "Blocked",
        "Your account has been temporarily blocked due to suspicious activity. Please contact "
        "support if you think this is a mistake.",
        footer=False,
    ),
    "subscription_required": Refusal(
        "Subscription required",
        "Due to extreme demand we can't provide a free trial right now. Please /subscribe to "
        "create images with Midjourney.",
        footer=False,
    ),
    "credits_exhausted": Refusal(
        "Credits exhausted",
        "You have used up your fast hours. Please /subscribe to buy more, or switch to "
        "/relax mode to keep creating.",
        footer=False,
    ),
    "queue_full": Refusal(messages.QUEUE_FULL[0], messages.QUEUE_FULL[1], footer=True),
}

#: the CAPTCHA's choices; the picture shows one of them
_CAPTCHA_CHOICES = (
    ("A red circle", (210, 40, 40), "ellipse"),
    ("A blue square", (40, 80, 210), "rectangle"),
    ("A green circle", (40, 170, 70), "ellipse"),
    ("A yellow square", (230, 200, 40), "rectangle"),
)
#: width = height of the CAPTCHA picture
CAPTCHA_SIZE = (256, 256)

_PARAMETER = re.compile(r"--[A-Za-z][\w-]*")
_LINK = re.compile(r"<?(https?://[^\s>]+)>?")


def refusal_message(
    ctx: InteractionContext,
    message_id: str,
    fault: str,
    prompt: str,
    *,
    hint: str | None = None,
    job_hash: str = "",
) -> JsonObject:
    """The embed reply of ``fault`` (a key of REFUSALS) for a job with ``prompt``.

    ``hint``: the rule's ``prompt_contains``, the best guess of the offending word or parameter;
    ``job_hash``: what the Appeal/Acknowledged/CAPTCHA buttons name.
    """
    refusal = REFUSALS[fault]
    description = refusal.description.format(detail=_detail(fault, prompt, hint))
    footer = f"/imagine {prompt}" if refusal.footer else None
    message = messages.embed_reply(
        ctx, message_id, (refusal.title, description, ERROR_COLOUR), footer
    )
    message["components"] = _buttons(fault, job_hash)
    return message


def _detail(fault: str, prompt: str, hint: str | None) -> str:
    """What the description names: the banned word, the bad parameter, the bad link."""
    if fault == "banned_prompt":
        words = re.findall(r"\w+", prompt)
        return hint or (words[0] if words else prompt)
    if fault == "invalid_parameter":
        if hint and hint.startswith("--"):
            return hint
        parameter = _PARAMETER.search(prompt)
        return parameter.group(0) if parameter else "--invalid"
    if fault == "invalid_link":
        link = _LINK.search(prompt)
        return link.group(1) if link else hint or "the image link"
    return ""


def _buttons(fault: str, job_hash: str) -> list[JsonObject]:
    if fault == "action_needed":
        return [components.row(components.button(custom_ids.appeal(job_hash), "Appeal"))]
    if fault == "pending_mod_message":
        acknowledged = components.button(custom_ids.acknowledge(job_hash), "Acknowledged")
        return [components.row(acknowledged)]
    if fault == "captcha":
        answers = [
            components.button(custom_ids.captcha(index, job_hash), label)
            for index, (label, _, _) in enumerate(_CAPTCHA_CHOICES, start=1)
        ]
        return [components.row(*answers)]
    return []


def with_image(message: JsonObject, attachment: JsonObject) -> JsonObject:
    """The CAPTCHA embed with its picture (an attachment published on the CDN)."""
    embed = message["embeds"][0]
    embed["image"] = {
        "url": attachment["url"],
        "proxy_url": attachment["proxy_url"],
        "width": attachment["width"],
        "height": attachment["height"],
    }
    return message


def captcha_picture(job_hash: str) -> bytes:
    """A PNG of one of the CAPTCHA's choices, picked by the job hash (so it is reproducible)."""
    _, colour, shape = _CAPTCHA_CHOICES[hashlib.sha256(job_hash.encode()).digest()[0] % 4]
    image = Image.new("RGB", CAPTCHA_SIZE, (245, 245, 240))
    draw = ImageDraw.Draw(image)
    width, height = CAPTCHA_SIZE
    box = (48, 48, width - 48, height - 48)
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def unrecognized_message(ctx: InteractionContext, message_id: str) -> JsonObject:
    """A plain bot message in the job's channel: no nonce, no interaction, no embed, no buttons,
    no attachment — nothing a client can tie to the job or classify."""
    return messages.direct_message(ctx.channel, message_id, UNRECOGNIZED_CONTENT)
