"""``/v2/account`` (the caller's profile) and ``/v2/account/midjourney`` (their accounts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from mjapi.api import validation
from mjapi.api.body import read_body
from mjapi.api.deps import REPLY_URL_CHECKED, CallerDep, EngineDep
from mjapi.api.schemas import (
    AccountBody,
    ProfileBody,
    ServerAccountBody,
    body_doc,
    error_docs,
)
from mjapi.domain.accounts import Account
from mjapi.domain.model import iso_ms
from mjapi.engine.accounts import NO_CONFIGURATION
from mjapi.errors import BadRequest, NotFound

router = APIRouter(prefix="/v2/account", tags=["accounts"])


def account_model(account: Account) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": account.channel,
        "discord": account.masked_token,
        "maxJobs": account.max_jobs,
    }
    if account.server:
        body["server"] = account.server
    if account.pending_mod_message:
        body["pendingModMessage"] = account.pending_mod_message
    if account.disabled_reason:
        body["error"] = account.disabled_reason
    return body


@router.get("", responses=error_docs(401), summary="Your API account (default replyUrl)")
async def get_profile(caller: CallerDep, engine: EngineDep) -> dict[str, Any]:
    profile = await engine.accounts.profile(caller)
    body: dict[str, Any] = {
        "email": "",
        "created": iso_ms(profile.created),
        "name": profile.name or f"user:{caller}",
        "verified": "",
        "sub": "self-hosted",
    }
    if profile.reply_url:
        body["replyUrl"] = profile.reply_url
    body["code"] = 200
    return body


@router.post(
    "",
    dependencies=REPLY_URL_CHECKED,
    status_code=204,
    openapi_extra=body_doc(ProfileBody),
    responses=error_docs(400, 401),
    summary="Set your name and the default replyUrl (an empty replyUrl clears it)",
)
async def post_profile(request: Request, caller: CallerDep, engine: EngineDep) -> Response:
    body = await read_body(request)
    if "replyUrl" in body and isinstance(body["replyUrl"], str) and len(body["replyUrl"]) > 1024:
        raise BadRequest("replyUrl is too long")
    await engine.accounts.update_profile(
        caller,
        name=validation.text(body, "name", max_len=256),
        reply_url=validation.reply_url(body),
        clear_reply_url=body.get("replyUrl") == "",
    )
    return Response(status_code=204)


@router.post(
    "/midjourney",
    dependencies=REPLY_URL_CHECKED,
    openapi_extra=body_doc(AccountBody),
    responses=error_docs(400, 401, 409, 502),
    summary="Add or update a Midjourney account (the DM channel is discovered)",
)
async def post_account(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    body = await read_body(request)
    token = validation.discord_token(body)
    account, created = await engine.accounts.add(caller, token, validation.max_jobs(body))
    engine.wake(account.channel)  # maybe more slots now
    status = 201 if created else 200
    reply = {
        "discord": account.masked_token,
        "channel": account.channel,
        "maxJobs": account.max_jobs,
        "code": status,
    }
    return JSONResponse(reply, status_code=status)


@router.get(
    "/midjourney",
    responses=error_docs(401, 404),
    summary="All Midjourney accounts, keyed by channel",
)
async def get_accounts(caller: CallerDep, engine: EngineDep) -> dict[str, Any]:
    accounts = await engine.accounts.list(caller)
    if not accounts:
        raise NotFound(NO_CONFIGURATION)
    return {a.channel: account_model(a) for a in accounts}


@router.get(
    "/midjourney/{channel}", responses=error_docs(401, 404), summary="One Midjourney account"
)
async def get_account(channel: str, caller: CallerDep, engine: EngineDep) -> dict[str, Any]:
    account = await engine.accounts.get(caller, channel)
    return {**account_model(account), "code": 200}


@router.post(
    "/midjourney/{channel}",
    dependencies=REPLY_URL_CHECKED,
    status_code=204,
    openapi_extra=body_doc(ServerAccountBody),
    responses=error_docs(400, 401, 409, 502),
    summary="Legacy: an account working in a channel of your own Discord server",
)
async def post_server_account(
    channel: str, request: Request, caller: CallerDep, engine: EngineDep
) -> Response:
    body = await read_body(request)
    token = validation.discord_token(body)
    where = validation.server_channel(body, channel)
    max_jobs = validation.max_jobs(body)
    if max_jobs is None:
        raise BadRequest("Required param maxJobs is missing or empty")
    await engine.accounts.add_server_channel(caller, token, where, max_jobs)
    return Response(status_code=204)


@router.delete(
    "/midjourney/{channel}",
    status_code=204,
    responses=error_docs(401, 404),
    summary="Remove a Midjourney account (its gateway is disconnected)",
)
async def delete_account(channel: str, caller: CallerDep, engine: EngineDep) -> Response:
    await engine.accounts.delete(caller, channel)
    engine.wake(channel)  # its waiting jobs can no longer run: they fail now
    return Response(status_code=204)


@router.post(
    "/midjourney/{channel}/reset",
    dependencies=REPLY_URL_CHECKED,
    status_code=204,
    responses=error_docs(401, 404),
    summary="Clear pendingModMessage: the account rejoins the rotation",
)
async def reset_account(channel: str, caller: CallerDep, engine: EngineDep) -> Response:
    await engine.accounts.reset(caller, channel)
    engine.wake(channel)  # back in rotation: its waiting jobs may start
    return Response(status_code=204)
