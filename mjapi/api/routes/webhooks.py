"""``/v2/webhooks``: the caller's callback deliveries (list, one, replay) and signing secret.

mjapi's own endpoints (useapi has none): each callback is a stored delivery with its attempts,
so a client can see why a callback did not arrive and ask for it again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from mjapi.api import validation
from mjapi.api.deps import CallerDep, get_store
from mjapi.api.schemas import error_docs
from mjapi.domain.deliveries import Attempt, Delivery, DeliveryStatus
from mjapi.errors import BadRequest, NotFound
from mjapi.storage.base import Store
from mjapi.webhooks.outbox import Outbox

router = APIRouter(prefix="/v2/webhooks", tags=["webhooks"])

#: Most deliveries one list answer holds.
LIST_LIMIT = 1000
#: Longest jobid or event id looked up (real ones are far shorter).
KEY_LIMIT = 200


async def get_outbox(request: Request) -> Outbox:
    outbox: Outbox = request.app.state.outbox
    return outbox


OutboxDep = Annotated[Outbox, Depends(get_outbox)]
StoreDep = Annotated[Store, Depends(get_store)]


@router.get(
    "/deliveries",
    responses=error_docs(400, 401),
    summary="The caller's callbacks, newest first, with every attempt",
)
async def list_deliveries(
    caller: CallerDep,
    store: StoreDep,
    jobid: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None,
    limit: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    found = await store.list_deliveries(
        caller, jobid=_jobid(jobid), status=_status(status), limit=_limit(limit)
    )
    return JSONResponse([delivery_model(d) for d in found])


@router.get(
    "/deliveries/{event_id}",
    responses=error_docs(401, 404),
    summary="One callback delivery with every attempt",
)
async def get_delivery(event_id: str, caller: CallerDep, store: StoreDep) -> JSONResponse:
    found = await store.get_delivery(event_id) if _known_shape(event_id) else None
    if found is None or found.owner != caller:
        raise NotFound(f"Unable to locate delivery {event_id}")
    return JSONResponse(delivery_model(found))


@router.post(
    "/deliveries/{event_id}/replay",
    responses=error_docs(401, 404),
    summary="Send a callback again now (same event id), with a fresh retry period",
)
async def replay(event_id: str, caller: CallerDep, outbox: OutboxDep) -> JSONResponse:
    if not _known_shape(event_id):
        raise NotFound(f"Unable to locate delivery {event_id}")
    return JSONResponse(delivery_model(await outbox.replay(caller, event_id)))


@router.get(
    "/secret",
    responses=error_docs(401),
    summary="The secret that signs the caller's callbacks (webhook-signature header)",
)
async def get_secret(caller: CallerDep, outbox: OutboxDep) -> JSONResponse:
    return JSONResponse({"secret": await outbox.secrets.secret(caller)})


@router.post(
    "/secret",
    responses=error_docs(401),
    summary="Replace the signing secret; callbacks from now on use the new one",
)
async def rotate_secret(caller: CallerDep, outbox: OutboxDep) -> JSONResponse:
    return JSONResponse({"secret": await outbox.secrets.rotate(caller)})


def delivery_model(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the API shows it (camelCase like the job model)."""
    model: dict[str, Any] = {
        "eventId": delivery.event_id,
        "jobid": delivery.jobid,
        "event": delivery.event,
        "url": delivery.url,
        "status": delivery.status.value,
        "created": _time(delivery.created),
        "expires": _time(delivery.expires),
        "attempts": [_attempt_model(a) for a in delivery.attempts],
    }
    if delivery.status is DeliveryStatus.PENDING:
        model["nextAttempt"] = _time(delivery.next_attempt)
    return model


def _attempt_model(attempt: Attempt) -> dict[str, Any]:
    model: dict[str, Any] = {
        "number": attempt.number,
        "at": _time(attempt.at),
        "durationMs": attempt.duration_ms,
    }
    if attempt.status_code is not None:
        model["statusCode"] = attempt.status_code
    if attempt.error is not None:
        model["error"] = attempt.error
    return model


def _time(moment: Any) -> str:
    return str(moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def _status(value: str | None) -> DeliveryStatus | None:
    if value is None:
        return None
    try:
        return DeliveryStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in DeliveryStatus)
        raise BadRequest(f"Param status must be one of {allowed}") from None


def _limit(value: str | None) -> int:
    if value is None:
        return 100
    # ASCII digits only, and few: isdigit() admits "²" and other scripts, which int() refuses.
    digits = value.isascii() and value.isdecimal() and len(value) <= 4
    if not digits or not 1 <= int(value) <= LIST_LIMIT:
        raise BadRequest(f"Param limit must be a whole number from 1 to {LIST_LIMIT}")
    return int(value)


def _jobid(value: str | None) -> str | None:
    if value is not None and not validation.storable(value, KEY_LIMIT):
        raise BadRequest("Param jobid is not a job id")
    return value


def _known_shape(event_id: str) -> bool:
    """Anything the store could not even hold is certainly no delivery of ours."""
    return validation.storable(event_id, KEY_LIMIT)
