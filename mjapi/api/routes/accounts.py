"""``/v2/account/midjourney``: the Midjourney accounts of the caller."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mjapi.api import validation
from mjapi.api.body import read_body
from mjapi.api.deps import CallerDep, EngineDep
from mjapi.api.schemas import AccountBody, body_doc, error_docs
from mjapi.domain.accounts import Account
from mjapi.engine.engine import NO_CONFIGURATION
from mjapi.errors import NotFound

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
    return body


@router.post(
    "/midjourney",
    openapi_extra=body_doc(AccountBody),
    responses=error_docs(400, 401, 409, 502),
    summary="Add or update a Midjourney account (the DM channel is discovered)",
)
async def post_account(request: Request, caller: CallerDep, engine: EngineDep) -> JSONResponse:
    body = await read_body(request)
    token = validation.discord_token(body)
    account, created = await engine.add_account(caller, token, validation.max_jobs(body))
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
    accounts = await engine.accounts(caller)
    if not accounts:
        raise NotFound(NO_CONFIGURATION)
    return {a.channel: account_model(a) for a in accounts}
