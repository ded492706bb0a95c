"""``/_sim/...``: the control API over HTTP, a thin adapter over ``FaultControl``, ``SimControl``
and ``SimStats`` (docs/simulator.md documents every endpoint).

Production Discord has no ``/_sim`` path, so a client can never reach it by mistake. Errors use
Discord's error shape, ``{"message": ..., "code": 0}``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from mjapi.simulator.control import SimControl
from mjapi.simulator.errors import DiscordError
from mjapi.simulator.faults import FaultControl, FaultError
from mjapi.simulator.objects import JsonObject
from mjapi.simulator.stats import SimStats


class ControlApi:
    """The ``/_sim`` endpoints."""

    def __init__(self, faults: FaultControl, control: SimControl, stats: SimStats) -> None:
        self._faults = faults
        self._control = control
        self._stats = stats

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/health", self.health),
            Route("/stats", self.stats),
            Route("/faults", self.add_fault, methods=["POST"]),
            Route("/faults", self.list_faults),
            Route("/faults", self.clear_faults, methods=["DELETE"]),
            Route("/faults/{rule_id}", self.delete_fault, methods=["DELETE"]),
            Route("/gateway/{action}", self.gateway, methods=["POST"]),
            Route("/tokens/revoke", self.revoke, methods=["POST"]),
            Route("/tokens/restore", self.restore, methods=["POST"]),
            Route("/plans", self.plans, methods=["POST"]),
            Route("/commands/{name}/bump", self.bump, methods=["POST"]),
        ]

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self._stats.snapshot())

    # -- faults ------------------------------------------------------------------------------

    async def add_fault(self, request: Request) -> Response:
        try:
            rule = self._faults.add_json(await _body(request))
        except FaultError as error:
            raise _bad_request(str(error)) from None
        return JSONResponse(rule.to_json(), status_code=201)

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": [rule.to_json() for rule in self._faults.rules()]})

    async def clear_faults(self, request: Request) -> Response:
        self._faults.clear()
        return Response(status_code=204)

    async def delete_fault(self, request: Request) -> Response:
        if not self._faults.remove(request.path_params["rule_id"]):
            raise DiscordError(404, {"message": "Unknown fault rule", "code": 0})
        return Response(status_code=204)

    # -- gateway -----------------------------------------------------------------------------

    async def gateway(self, request: Request) -> Response:
        """``POST /_sim/gateway/{drop|reconnect|invalidate|close|zombie}``."""
        action = request.path_params["action"]
        body = await _body(request)
        token = _optional_text(body, "token")
        control = self._control
        if action == "drop":
            count = control.drop(token)
        elif action == "reconnect":
            count = control.reconnect(token)
        elif action == "invalidate":
            count = control.invalidate(_flag(body, "resumable"), token)
        elif action == "close":
            count = self._close(body, token)
        elif action == "zombie":
            count = control.zombie(token)
        else:
            raise DiscordError(404, {"message": "404: Not Found", "code": 0})
        return JSONResponse({"connections": count})

    def _close(self, body: JsonObject, token: str | None) -> int:
        code = body.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            raise _bad_request("code must be an integer close code")
        try:
            return self._control.close(code, token)
        except ValueError as error:
            raise _bad_request(str(error)) from None

    # -- accounts ----------------------------------------------------------------------------

    async def revoke(self, request: Request) -> Response:
        token = _required_text(await _body(request), "token")
        return JSONResponse({"revoked": True, "connections": self._control.revoke(token)})

    async def restore(self, request: Request) -> Response:
        token = _required_text(await _body(request), "token")
        self._control.restore(token)
        return JSONResponse({"revoked": False})

    async def plans(self, request: Request) -> Response:
        body = await _body(request)
        token, plan = _required_text(body, "token"), _required_text(body, "plan")
        try:
            self._control.set_plan(token, plan)
        except ValueError as error:
            raise _bad_request(str(error)) from None
        return JSONResponse({"token": token, "plan": plan})

    async def bump(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            version = self._control.bump_command(name)
        except KeyError:
            raise DiscordError(404, {"message": f"Unknown command {name!r}", "code": 0}) from None
        return JSONResponse({"version": version})


async def _body(request: Request) -> JsonObject:
    """The JSON object of the request (an empty body counts as ``{}``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _bad_request("the body must be a JSON object")
    return body


def _bad_request(message: str) -> DiscordError:
    return DiscordError(400, {"message": message, "code": 0})


def _optional_text(body: JsonObject, name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise _bad_request(f"{name} must be a non-empty string")
    return value


def _required_text(body: JsonObject, name: str) -> str:
    value = _optional_text(body, name)
    if value is None:
        raise _bad_request(f"{name} is required")
    return value


def _flag(body: JsonObject, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _bad_request(f"{name} must be true or false")
    return value
