"""The ✉️ reaction on a finished job: the bot DMs its seed and images (reference §3.4).

The DM goes to the user's DM channel with the bot even when the job ran in a server channel:
``**<prompt>**\\n**Job ID**: <hash>\\n**seed** <number>`` and the job's images as attachments.
"""

from __future__ import annotations

import asyncio
import hashlib

from mjapi.simulator import messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.prompts import slug
from mjapi.simulator.render import encode_png
from mjapi.simulator.results import JobResult, ResultKind
from mjapi.simulator.state import SimChannel
from mjapi.simulator.users import MJ_BOT_ID, SimUser

ENVELOPE = "✉️"
#: results that have a seed (videos do not: useapi-v2 §5.5)
_WITH_SEED = {ResultKind.GRID, ResultKind.SINGLE, ResultKind.UPSCALED}


def seed_of(job_hash: str) -> int:
    """Midjourney seeds are 0..4294967295; here derived from the job hash."""
    return int.from_bytes(hashlib.sha256(job_hash.encode()).digest()[:4])


class SeedFlow:
    def __init__(self, core: BotCore) -> None:
        self._core = core

    def reacted(self, user: SimUser, channel: SimChannel, message_id: str, origin: str) -> None:
        """A ✉️ on ``message_id``: MESSAGE_REACTION_ADD, then the DM if the job has a seed."""
        event: JsonObject = {
            "user_id": user.id,
            "channel_id": channel.id,
            "message_id": message_id,
            "message_author_id": MJ_BOT_ID,
            "emoji": {"id": None, "name": ENVELOPE},
            "type": 0,
            "burst": False,
        }
        if channel.guild_id is not None:
            event["guild_id"] = channel.guild_id
        self._core.emit(user.id, "MESSAGE_REACTION_ADD", event)
        result = self._core.state.results.by_message(message_id)
        if result is not None and result.kind in _WITH_SEED:
            self._core.spawn(self._send_seed(user, result, origin))

    async def _send_seed(self, user: SimUser, result: JobResult, origin: str) -> None:
        core = self._core
        await core.step()
        dm = core.state.channels[user.dm_channel_id]
        attachments = []
        for number, cell in enumerate(result.cells):
            data = await asyncio.to_thread(encode_png, cell)
            name = slug(result.prompt, user.username)
            filename = f"{user.username}_{name}_{number}_{result.job_hash}.png"
            attachments.append(core.publish(dm, origin, filename, "image/png", data, cell.size))
        seed = seed_of(result.job_hash)
        content = f"**{result.prompt}**\n**Job ID**: {result.job_hash}\n**seed** {seed}"
        message = messages.direct_message(dm, core.next_id(), content)
        message["attachments"] = attachments
        core.state.save_message(message)
        core.emit(user.id, "MESSAGE_CREATE", message)
