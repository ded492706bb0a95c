"""Discord's REST API as a user account sees it (reference §1), mounted under /api/v9 and /api/v10.

Authentication is the raw user token in ``Authorization`` (no ``Bot``/``Bearer`` prefix).
Opening a DM with anyone but the Midjourney Bot answers 404 ``Unknown User`` (code 10013): the
simulator knows no other user.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mjapi.simulator import errors
from mjapi.simulator.bot import MidjourneyBot, Submission
from mjapi.simulator.gateway_hub import GatewayHub
from mjapi.simulator.interactions import AcceptedClick, AcceptedModal, read_body, validate
from mjapi.simulator.objects import (
    JsonObject,
    current_user,
    dm_channel,
    guild_text_channel,
    partial_guild,
)
from mjapi.simulator.rest_guard import RestGuard
from mjapi.simulator.seed import ENVELOPE
from mjapi.simulator.state import DEFAULT_PAGE, MAX_PAGE, SimChannel, SimulatorState
from mjapi.simulator.uploads import requested_files
from mjapi.simulator.users import MJ_BOT_ID, SimUser


def origin_of(request: Request) -> str:
    """``scheme://host:port`` as the client addressed this server."""
    return f"{request.url.scheme}://{request.url.netloc}"


class RestApi:
    """The REST endpoints, bound to the simulator's state, gateway hub and bot."""

    def __init__(
        self, state: SimulatorState, hub: GatewayHub, bot: MidjourneyBot, guard: RestGuard
    ) -> None:
        self._state = state
        self._hub = hub
        self._bot = bot
        self._guard = guard

    def routes(self) -> list[BaseRoute]:
        """Every endpoint behind the guard (faults, rate limits), with its route key."""
        guard = self._guard.wrap
        return [
            Route("/gateway", guard("gateway", self.gateway)),
            Route("/users/@me", guard("users_me", self.me)),
            Route("/users/@me/billing/country-code", guard("country_code", self.country_code)),
            Route("/users/@me/channels", guard("my_channels", self.my_channels)),
            Route("/users/@me/channels", guard("open_dm", self.open_dm), methods=["POST"]),
            Route("/channels/{channel_id}", guard("channel", self.channel)),
            Route("/channels/{channel_id}/messages", guard("messages", self.messages)),
            Route(
                "/channels/{channel_id}/application-command-index",
                guard("command_index", self.channel_commands),
            ),
            Route(
                "/guilds/{guild_id}/application-command-index",
                guard("guild_command_index", self.guild_commands),
            ),
            Route("/users/@me/guilds", guard("my_guilds", self.my_guilds)),
            Route("/guilds/{guild_id}/channels", guard("guild_channels", self.guild_channels)),
            Route(
                "/channels/{channel_id}/attachments",
                guard("attachments", self.upload_slots),
                methods=["POST"],
            ),
            Route(
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                guard("reactions", self.reaction),
                methods=["PUT", "DELETE"],
            ),
            Route("/interactions", guard("interactions", self.interactions), methods=["POST"]),
        ]

    # -- helpers -----------------------------------------------------------------------------

    def _user(self, request: Request) -> SimUser:
        user = self._state.user_for_token(request.headers.get("authorization"))
        if user is None:
            raise errors.unauthorized()
        return user

    def _channel(self, user: SimUser, channel_id: str) -> SimChannel:
        channel = self._state.channels.get(channel_id)
        if channel is None:
            raise errors.unknown("Channel", errors.UNKNOWN_CHANNEL)
        if channel.owner_id != user.id:
            raise errors.missing_access()
        return channel

    def _channel_object(self, user: SimUser, channel: SimChannel) -> JsonObject:
        last = self._state.last_message_id(channel.id)
        return (
            dm_channel(user, last) if channel.guild_id is None else guild_text_channel(user, last)
        )

    # -- endpoints ---------------------------------------------------------------------------

    async def gateway(self, request: Request) -> Response:
        """``GET /gateway``: where to open the websocket (no token needed, like Discord)."""
        return JSONResponse({"url": f"ws://{request.url.netloc}/gateway"})

    async def me(self, request: Request) -> Response:
        return JSONResponse(current_user(self._user(request)))

    async def country_code(self, request: Request) -> Response:
        """A cheap token check some clients use (reference §1.1)."""
        self._user(request)
        return JSONResponse({"country_code": "US"})

    async def my_channels(self, request: Request) -> Response:
        user = self._user(request)
        dm = self._state.channels[user.dm_channel_id]
        return JSONResponse([self._channel_object(user, dm)])

    async def open_dm(self, request: Request) -> Response:
        """``POST /users/@me/channels {"recipients": [bot id]}``: the DM with the bot."""
        user = self._user(request)
        try:
            body = await request.json()
        except ValueError:
            raise errors.invalid_json() from None
        recipients = body.get("recipients") if isinstance(body, dict) else None
        if recipients != [MJ_BOT_ID]:
            raise errors.unknown("User", errors.UNKNOWN_USER)
        dm = self._state.channels[user.dm_channel_id]
        return JSONResponse(self._channel_object(user, dm))

    async def channel(self, request: Request) -> Response:
        user = self._user(request)
        channel = self._channel(user, request.path_params["channel_id"])
        return JSONResponse(self._channel_object(user, channel))

    async def messages(self, request: Request) -> Response:
        """``GET /channels/{id}/messages?limit=&before=&after=``: newest first."""
        user = self._user(request)
        channel = self._channel(user, request.path_params["channel_id"])
        query = request.query_params
        page = self._state.channel_messages(
            channel.id,
            limit=_limit(query.get("limit")),
            before=_snowflake_param("before", query.get("before")),
            after=_snowflake_param("after", query.get("after")),
        )
        return JSONResponse(page)

    async def channel_commands(self, request: Request) -> Response:
        user = self._user(request)
        self._channel(user, request.path_params["channel_id"])
        return JSONResponse(self._state.commands.response())

    async def guild_commands(self, request: Request) -> Response:
        user = self._user(request)
        self._guild(user, request.path_params["guild_id"])
        return JSONResponse(self._state.commands.response())

    def _guild(self, user: SimUser, guild_id: str) -> None:
        if guild_id != user.guild_id:
            raise errors.unknown("Guild", errors.UNKNOWN_GUILD)

    async def my_guilds(self, request: Request) -> Response:
        """``GET /users/@me/guilds``: the one server of the simulated user."""
        return JSONResponse([partial_guild(self._user(request))])

    async def guild_channels(self, request: Request) -> Response:
        """``GET /guilds/{id}/channels``: its text channel where the bot answers."""
        user = self._user(request)
        self._guild(user, request.path_params["guild_id"])
        channel = self._state.channels[user.guild_channel_id]
        return JSONResponse([self._channel_object(user, channel)])

    async def upload_slots(self, request: Request) -> Response:
        """``POST /channels/{id}/attachments``: upload slots (reference §1.9)."""
        user = self._user(request)
        channel = self._channel(user, request.path_params["channel_id"])
        try:
            body = await request.json()
        except ValueError:
            raise errors.invalid_json() from None
        slots: list[JsonObject] = []
        for file in requested_files(body):
            token, slot = self._state.uploads.open(
                user.id, channel.id, file["filename"], file["file_size"]
            )
            slots.append(
                {
                    "id": file.get("id", len(slots)),
                    "upload_url": f"{origin_of(request)}/upload/{token}",
                    "upload_filename": slot.upload_filename,
                }
            )
        return JSONResponse({"attachments": slots})

    async def reaction(self, request: Request) -> Response:
        """``PUT|DELETE .../reactions/{emoji}/@me``: ✉️ on a job asks for its seed (§3.4)."""
        user = self._user(request)
        channel = self._channel(user, request.path_params["channel_id"])
        message_id = request.path_params["message_id"]
        if self._state.message(channel.id, message_id) is None:
            raise errors.unknown("Message", errors.UNKNOWN_MESSAGE)
        if request.method == "PUT" and request.path_params["emoji"] == ENVELOPE:
            self._bot.reacted(user, channel, message_id, origin_of(request))
        return Response(status_code=204)

    async def interactions(self, request: Request) -> Response:
        """``POST /interactions``: 204 at once; the bot answers on the gateway afterwards."""
        user = self._user(request)
        body = await read_body(request)
        live = {session.session_id for session in self._hub.sessions(user.id)}
        accepted = validate(body, user, self._state, live)
        if isinstance(accepted, AcceptedClick):
            self._bot.click(user, accepted, origin_of(request))
            return Response(status_code=204)
        if isinstance(accepted, AcceptedModal):
            self._bot.submit_modal(user, accepted, origin_of(request))
            return Response(status_code=204)
        command = accepted
        self._bot.submit(
            Submission(
                user=user,
                channel=command.channel,
                command=command.name,
                options=command.options,
                nonce=command.nonce,
                origin=origin_of(request),
            )
        )
        return Response(status_code=204)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not raw.isdigit():
        raise errors.invalid_form_body(
            ("limit",), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.'
        )
    value = int(raw)
    if not 1 <= value <= MAX_PAGE:
        raise errors.invalid_form_body(
            ("limit",), "NUMBER_TYPE_MAX", f"int value should be between 1 and {MAX_PAGE}."
        )
    return value


def _snowflake_param(name: str, raw: str | None) -> str | None:
    if raw is not None and not raw.isdigit():
        raise errors.invalid_form_body(
            (name,), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.'
        )
    return raw
