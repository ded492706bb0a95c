"""Discord's REST error answers, as one exception the app turns into a JSON response."""

from __future__ import annotations

from typing import Any

from mjapi.simulator.objects import JsonObject

#: Discord JSON error codes the simulator answers with
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_APPLICATION_COMMAND = 10063
UNKNOWN_APPLICATION = 10002
MISSING_ACCESS = 50001
INVALID_FORM_BODY = 50035
INVALID_JSON = 50109

#: inner ``_errors`` code of the simulator's own "not implemented yet" refusals
NOT_IMPLEMENTED = "SIMULATOR_NOT_IMPLEMENTED"


class DiscordError(Exception):
    """A non-2xx answer with a Discord-shaped JSON body."""

    def __init__(self, status: int, body: JsonObject) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def unauthorized() -> DiscordError:
    return DiscordError(401, {"message": "401: Unauthorized", "code": 0})


def not_found() -> DiscordError:
    return DiscordError(404, {"message": "404: Not Found", "code": 0})


def unknown(what: str, code: int) -> DiscordError:
    """404 ``Unknown Channel`` / ``Unknown User`` / ... ."""
    return DiscordError(404, {"message": f"Unknown {what}", "code": code})


def missing_access() -> DiscordError:
    return DiscordError(403, {"message": "Missing Access", "code": MISSING_ACCESS})


def invalid_json() -> DiscordError:
    return DiscordError(
        400, {"message": "The request body contains invalid JSON.", "code": INVALID_JSON}
    )


def invalid_form_body(path: tuple[str, ...], code: str, message: str) -> DiscordError:
    """400/50035 with the error nested at ``path`` inside ``errors`` (capture 33's shape)."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {key: errors}
    return DiscordError(
        400, {"code": INVALID_FORM_BODY, "errors": errors, "message": "Invalid Form Body"}
    )


def outdated_command() -> DiscordError:
    """A stale command version: exactly capture 33, in Discord's English wording."""
    return invalid_form_body(
        ("data",),
        "INTERACTION_APPLICATION_COMMAND_INVALID_VERSION",
        "This command is outdated, please try again in a few minutes",
    )


def not_implemented(path: tuple[str, ...], what: str) -> DiscordError:
    """The simulator does not play this yet: a loud 400 rather than a silent 204."""
    return invalid_form_body(
        path, NOT_IMPLEMENTED, f"mjapi simulator: {what} is not implemented yet"
    )
