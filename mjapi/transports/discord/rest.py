"""Discord REST calls a Midjourney user client needs (reference §1.1), with errors translated.

Every request goes through the token's ``RateLimiter`` (ratelimit.py): it waits for the buckets
Discord announced and retries 429s, 5xx answers and connection failures within bounds. What still
fails leaves this module as an ``mjapi.errors`` exception whose text never contains the token:
401 -> DiscordAuthError, 429 -> RateLimited, other non-2xx -> DiscordHTTPError (or its subclass
InvalidFormBody for code 50035), network trouble -> TransportError.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from mjapi.errors import DiscordAuthError, DiscordHTTPError, RateLimited, TransportError
from mjapi.net.h1_client import H1Client
from mjapi.transports.discord.protocol import API_PATH, INVALID_FORM_BODY, USER_AGENT
from mjapi.transports.discord.ratelimit import Prepare, RateLimiter, read_refusal

log = logging.getLogger(__name__)

#: Gives the gateway session id an interaction must name, once there is a live one.
SessionGate = Callable[[], Awaitable[str]]


class InvalidFormBody(DiscordHTTPError):
    """Discord refused the request body (code 50035); ``error_codes`` are the nested reasons."""

    def __init__(self, http_status: int, message: str, error_codes: frozenset[str]) -> None:
        super().__init__(http_status, INVALID_FORM_BODY, message)
        self.error_codes = error_codes


class DiscordRest:
    """Discord REST for one user token, on a shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        token: str,
        *,
        limiter: RateLimiter | None = None,
    ) -> None:
        """``limiter`` should be shared by every ``DiscordRest`` of the same token."""
        self._http = http
        self._api = base_url.rstrip("/") + API_PATH
        # The raw user token, no "Bot"/"Bearer" prefix (§1.2).
        self._headers = {"Authorization": token, "User-Agent": USER_AGENT}
        self._limiter = limiter or RateLimiter()

    def __repr__(self) -> str:
        return f"DiscordRest({self._api!r})"

    async def gateway_url(self) -> str:
        """The websocket URL to connect to (``GET /gateway``)."""
        body = await self._json("GET", "/gateway")
        url = body.get("url") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise TransportError("Discord returned no gateway URL")
        return url

    async def me(self) -> dict[str, Any]:
        """The token's user (``GET /users/@me``)."""
        return _expect_object(await self._json("GET", "/users/@me"), "/users/@me")

    async def dm_channels(self) -> list[dict[str, Any]]:
        """The user's open private channels (``GET /users/@me/channels``)."""
        body = await self._json("GET", "/users/@me/channels")
        return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []

    async def open_dm(self, recipient_id: str) -> dict[str, Any]:
        """Open (or fetch) the DM channel with ``recipient_id``."""
        body = await self._json("POST", "/users/@me/channels", {"recipients": [recipient_id]})
        return _expect_object(body, "/users/@me/channels")

    async def command_index(self, channel_id: str, guild_id: str | None = None) -> dict[str, Any]:
        """The slash commands usable in a channel: guild index for guilds, channel index in DMs."""
        path = (
            f"/guilds/{guild_id}/application-command-index"
            if guild_id
            else f"/channels/{channel_id}/application-command-index"
        )
        return _expect_object(await self._json("GET", path), "application-command-index")

    async def post_interaction(
        self, payload: dict[str, Any], *, session: SessionGate | None = None
    ) -> None:
        """Send an interaction; Discord answers 204 and the outcome arrives on the gateway.

        ``session`` is awaited before every attempt (the first one and each retry after a 429
        or a 5xx) and gives the gateway session the interaction must name: Midjourney answers
        that session, so an attempt must wait while the gateway reconnects.
        """
        body = dict(payload)

        async def name_the_session() -> None:
            if session is not None:
                body["session_id"] = await session()

        await self._request("POST", "/interactions", body, prepare=name_the_session)

    async def guilds(self) -> list[dict[str, Any]]:
        """The guilds the user is a member of (``GET /users/@me/guilds``)."""
        return _objects(await self._json("GET", "/users/@me/guilds"))

    async def guild_channels(self, guild_id: str) -> list[dict[str, Any]]:
        """The guild's channels the user can see (``GET /guilds/{id}/channels``)."""
        return _objects(await self._json("GET", f"/guilds/{guild_id}/channels"))

    async def add_reaction(self, channel_id: str, message_id: str, emoji: str) -> None:
        """React with ``emoji`` (already URL-encoded) as the user (§1.1 seed row)."""
        await self._request(
            "PUT", f"/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/%40me"
        )

    async def upload_slots(
        self, channel_id: str, files: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Ask for upload URLs (§1.9 step 1): ``files`` = ``[{filename, file_size, id}]``."""
        body = await self._json("POST", f"/channels/{channel_id}/attachments", {"files": files})
        slots = body.get("attachments") if isinstance(body, dict) else None
        if not isinstance(slots, list) or len(slots) != len(files):
            raise TransportError("Discord returned no upload slots")
        return _objects(slots)

    async def put_upload(self, upload_url: str, data: bytes, content_type: str) -> None:
        """Upload the bytes (§1.9 step 3). Storage, not Discord: the token is NOT sent."""
        try:
            response = await self._http.put(
                upload_url,
                content=data,
                headers={"Content-Type": content_type, "User-Agent": USER_AGENT},
            )
        except httpx.HTTPError as exc:
            raise TransportError(f"upload storage unreachable ({type(exc).__name__})") from exc
        if not response.is_success:
            raise error_for(response, "PUT upload")

    async def post_activity(self, url: str, body: dict[str, Any]) -> None:
        """POST JSON to the Midjourney activity (the Vary (Region) editor); no token either."""
        try:
            response = await self._http.post(url, json=body, headers={"User-Agent": USER_AGENT})
        except httpx.HTTPError as exc:
            raise TransportError(f"Midjourney editor unreachable ({type(exc).__name__})") from exc
        if not response.is_success:
            raise error_for(response, "POST inpaint submit-job")

    async def channel_messages(self, channel_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest messages of a channel, newest first."""
        body = await self._json("GET", f"/channels/{channel_id}/messages", params={"limit": limit})
        return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []

    # -- plumbing -----------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = await self._request(method, path, body, params=params)
        try:
            return response.json()
        except ValueError:
            raise TransportError(f"Discord sent a non-JSON answer to {method} {path}") from None

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
        prepare: Prepare | None = None,
    ) -> httpx.Response:
        url = self._api + path
        http = self._http

        def attempt() -> Awaitable[httpx.Response]:
            if isinstance(http, H1Client) and params is None:
                # The same request without httpx's generic steps (h1_client.py).
                return http.direct(method, url, json=body, headers=self._headers)
            return http.request(method, url, json=body, params=params, headers=self._headers)

        try:
            response = await self._limiter.send(method, path, attempt, prepare=prepare)
        except httpx.HTTPError as exc:
            # httpx texts carry the URL at most, never headers; we still only keep the type.
            raise TransportError(f"Discord unreachable ({type(exc).__name__}) on {path}") from exc
        except (UnicodeError, ValueError) as exc:
            # A token or value that cannot go into an HTTP header or URL (non-ASCII, control
            # characters); never echo it, it may be the token.
            raise DiscordAuthError("Discord token is not a valid header value") from exc
        if response.is_success:
            return response
        raise error_for(response, f"{method} {path}")


def error_for(response: httpx.Response, what: str) -> TransportError | RateLimited:
    """The mjapi exception for a non-2xx Discord answer."""
    body = _body(response)
    message = str(body.get("message") or response.reason_phrase or "error")
    log.info("Discord answered %s to %s: %s", response.status_code, what, message)
    if response.status_code == 401:
        return DiscordAuthError()
    if response.status_code == 429:
        retry_after = read_refusal(response.headers, body).retry_after
        return RateLimited(retry_after, f"Discord rate limit: {message}")
    code = body.get("code")
    numeric_code = code if isinstance(code, int) else None
    if numeric_code == INVALID_FORM_BODY:
        return InvalidFormBody(response.status_code, message, _nested_codes(body.get("errors")))
    return DiscordHTTPError(response.status_code, numeric_code, message)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _nested_codes(errors: Any) -> frozenset[str]:
    """Every ``_errors[].code`` anywhere in a 50035 ``errors`` tree (capture 33)."""
    found: set[str] = set()
    stack = [errors]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_errors" and isinstance(value, list):
                    found.update(e["code"] for e in value if isinstance(e, dict) and "code" in e)
                else:
                    stack.append(value)
    return frozenset(str(code) for code in found)


def _objects(body: Any) -> list[dict[str, Any]]:
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def _expect_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise TransportError(f"Discord sent an unexpected answer for {what}")
    return body
