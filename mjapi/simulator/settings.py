"""/info, /prefer remix|variability, /fast, /relax, /turbo (reference §3.4; useapi §5.6)."""

from __future__ import annotations

from mjapi.simulator import messages
from mjapi.simulator.bot_core import BotCore
from mjapi.simulator.messages import EPHEMERAL, InteractionContext

#: /fast, /relax, /turbo: the job mode they select and the bot's answer. The /relax text is
#: quoted in reference §3.4; the other two were not captured and follow its wording.
MODE_REPLIES = {
    "relax": (
        "relaxed",
        "Done! Your jobs now do not consume fast-hours, but might take a little longer. "
        "You can always switch back with /fast",
    ),
    "fast": (
        "fast",
        "Done! Your jobs now consume fast-hours. You can always switch back with /relax",
    ),
    "turbo": (
        "turbo",
        "Done! Your jobs now run in turbo mode and consume twice the fast-hours. "
        "You can always switch back with /fast",
    ),
}

#: /prefer toggles: (on, off) replies (useapi-v2 §5.6 quotes the remix-on and variability-off ones)
PREFER_REPLIES = {
    "remix": (
        "Remix mode turned on! Clicking the variation buttons will now give you a chance to "
        "edit your prompt! You can always turn this off by running /prefer remix again.",
        "Remix mode turned off! You can always turn this on by running /prefer remix again.",
    ),
    "variability": (
        "High variability mode turned on! Variation buttons will now make more varied images. "
        "You can always turn this off by running /prefer variability again.",
        "High variability mode turned off! You can always turn this on by running "
        "/prefer variability again.",
    ),
}

_MODE_NAMES = {"fast": "Fast", "relaxed": "Relaxed", "turbo": "Turbo"}


class SettingsFlow:
    def __init__(self, core: BotCore) -> None:
        self._core = core

    async def mode(self, ctx: InteractionContext) -> None:
        mode, reply = MODE_REPLIES[ctx.command]
        await self._core.acknowledge(ctx)
        self._core.state.modes[ctx.user.id] = mode
        self._core.post(ctx, messages.text_reply(ctx, self._core.next_id(), reply))

    async def prefer(self, ctx: InteractionContext, setting: str) -> None:
        """Toggle remix or variability mode for the user."""
        state = self._core.state
        users = state.remix if setting == "remix" else state.high_variability
        turned_on = ctx.user.id not in users
        if turned_on:
            users.add(ctx.user.id)
        else:
            users.discard(ctx.user.id)
        await self._core.acknowledge(ctx)
        on, off = PREFER_REPLIES[setting]
        reply = on if turned_on else off
        self._core.post(ctx, messages.text_reply(ctx, self._core.next_id(), reply))

    async def info(self, ctx: InteractionContext, running: list[str]) -> None:
        """The ``Your info`` embed, reflecting the user's plan, mode and jobs (reference §3.4)."""
        await self._core.acknowledge(ctx)
        user = ctx.user
        queue = self._core.queue(user)
        mode = self._core.state.mode_of(user.id)
        relaxed_queued = len(queue.waiting) if mode == "relaxed" else 0
        lines = [
            f"**User ID**: {_user_uuid(user.id)}",
            f"**Subscription**: {user.plan} (Active monthly, renews next on <t:1700000000>)",
            f"**Job Mode**: {_MODE_NAMES.get(mode, 'Fast')}",
            "**Visibility Mode**: Public",
            "**Fast Time Remaining**: 14.25/15.0 hours (95.00%)",
            "**Lifetime Usage**: 42 images (1.23 hours)",
            "**Relaxed Usage**: 0 images (0.00 hours)",
            f"**Queued Jobs (fast)**: {len(queue.waiting) - relaxed_queued}",
            f"**Queued Jobs (relax)**: {relaxed_queued}",
            f"**Running Jobs**: {', '.join(running) if running else 'None'}",
        ]
        embed = {
            "type": "rich",
            "title": f"Your info - {user.username}",
            "description": "\n".join(lines),
            "color": 0,
        }
        reply = messages.interaction_reply(ctx, self._core.next_id(), "", EPHEMERAL)
        reply["embeds"] = [embed]
        self._core.post(ctx, reply)


def _user_uuid(user_id: str) -> str:
    """Midjourney's own user id (a uuid), derived from the Discord id."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"midjourney-user:{user_id}"))
