"""Discord JSON objects (users, channels, guilds) as Discord serialises them for a user session."""

from __future__ import annotations

from typing import Any

from mjapi.simulator.users import MJ_BOT_ID, SimUser

JsonObject = dict[str, Any]

#: the Midjourney Bot as it appears in ``author`` (capture 14, 2024 shape)
_BOT_AVATAR = "f6ce562a6b4979c4b1cbc5b436d3be76"

#: the name of the one text channel in each simulated user's server
GUILD_CHANNEL_NAME = "midjourney"


def bot_user() -> JsonObject:
    """The Midjourney Bot user object (captures 14 and 20)."""
    return {
        "id": MJ_BOT_ID,
        "username": "Midjourney Bot",
        "avatar": _BOT_AVATAR,
        "discriminator": "9282",
        "public_flags": 589824,
        "flags": 589824,
        "bot": True,
        "banner": None,
        "accent_color": None,
        "global_name": None,
        "avatar_decoration_data": None,
        "banner_color": None,
        "clan": None,
        "primary_guild": None,
    }


def public_user(user: SimUser) -> JsonObject:
    """A user as other users see it: mentions, ``interaction.user`` (captures 14 and 20)."""
    return {
        "id": user.id,
        "username": user.username,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "global_name": user.global_name,
        "avatar_decoration_data": None,
        "banner_color": None,
        "clan": None,
        "primary_guild": None,
    }


def current_user(user: SimUser) -> JsonObject:
    """``GET /users/@me`` and READY ``user``: the public fields plus the private ones."""
    return {
        **public_user(user),
        "bio": "",
        "locale": "en-US",
        "nsfw_allowed": True,
        "mfa_enabled": False,
        "premium_type": 0,
        "email": None,
        "verified": True,
        "phone": None,
    }


def dm_channel(user: SimUser, last_message_id: str | None) -> JsonObject:
    """The DM channel with the bot; both ``recipients`` (REST) and ``recipient_ids`` (READY)."""
    return {
        "id": user.dm_channel_id,
        "type": 1,
        "last_message_id": last_message_id,
        "flags": 0,
        "recipients": [bot_user()],
        "recipient_ids": [MJ_BOT_ID],
    }


def guild_text_channel(user: SimUser, last_message_id: str | None) -> JsonObject:
    """The text channel of the user's server where the bot is present."""
    return {
        "id": user.guild_channel_id,
        "type": 0,
        "guild_id": user.guild_id,
        "name": GUILD_CHANNEL_NAME,
        "position": 0,
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "permission_overwrites": [],
        "flags": 0,
        "last_message_id": last_message_id,
    }


def partial_guild(user: SimUser) -> JsonObject:
    """The server as ``GET /users/@me/guilds`` lists it (owner: the user)."""
    return {
        "id": user.guild_id,
        "name": f"{user.username}'s server",
        "icon": None,
        "banner": None,
        "owner": True,
        "permissions": "2251799813685247",
        "features": [],
    }


def guild(user: SimUser, last_message_id: str | None) -> JsonObject:
    """The user's server as READY lists it (a minimal subset of the real object)."""
    return {
        "id": user.guild_id,
        "name": f"{user.username}'s server",
        "icon": None,
        "owner_id": user.id,
        "unavailable": False,
        "member_count": 2,
        "channels": [guild_text_channel(user, last_message_id)],
        "roles": [],
        "emojis": [],
    }
