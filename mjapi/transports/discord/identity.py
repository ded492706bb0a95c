"""Whose a token is, and where the Midjourney bot answers that user (REST only)."""

from __future__ import annotations

from mjapi.errors import BadRequest, DiscordHTTPError, TransportError
from mjapi.transports.base import DiscordIdentity, ServerChannel
from mjapi.transports.discord.dispatch import is_dm_with
from mjapi.transports.discord.protocol import MIDJOURNEY_APPLICATION_ID
from mjapi.transports.discord.rest import DiscordRest


async def identify(rest: DiscordRest) -> DiscordIdentity:
    """The token's user and its DM channel with the Midjourney bot (opened if need be)."""
    me = await rest.me()
    user_id = me.get("id")
    if not isinstance(user_id, str):
        raise TransportError("Discord returned no user id for the token")
    channel_id = await midjourney_dm_channel(rest)
    return DiscordIdentity(user_id, str(me.get("username") or ""), channel_id)


async def check_server_channel(rest: DiscordRest, channel: ServerChannel) -> None:
    """BadRequest unless the token's user sees ``channel`` in that guild (legacy accounts)."""
    guilds = {g.get("id") for g in await rest.guilds()}
    if channel.guild_id not in guilds:
        raise BadRequest(f"The Discord account is not a member of server {channel.guild_id}")
    try:
        channels = {c.get("id") for c in await rest.guild_channels(channel.guild_id)}
    except DiscordHTTPError as exc:
        if exc.http_status not in (403, 404):
            raise
        channels = set()
    if channel.channel_id not in channels:
        raise BadRequest(
            f"Channel {channel.channel_id} not found in server {channel.guild_id} "
            "or not accessible to the Discord account"
        )


async def midjourney_dm_channel(rest: DiscordRest) -> str:
    """The id of the user's DM with the Midjourney bot, opening it when there is none."""
    for channel in await rest.dm_channels():
        if is_dm_with(channel, MIDJOURNEY_APPLICATION_ID):
            return str(channel["id"])
    opened = await rest.open_dm(MIDJOURNEY_APPLICATION_ID)
    if not isinstance(opened.get("id"), str):
        raise TransportError("Discord did not open a DM with the Midjourney bot")
    return str(opened["id"])
