"""Every error mjapi raises on purpose.

Hierarchy::

    MjapiError                      root; carries the HTTP status and useapi message
    ├── BadRequest          400     invalid input (useapi wording)
    ├── Unauthorized        401     missing or unknown API token
    ├── NotFound            404     unknown job or account
    ├── Conflict            409     e.g. an upscale button already executed
    ├── Moderated           422     Midjourney refused the prompt
    ├── Busy                429     every eligible account is at maxJobs (carries executingJobs)
    ├── RateLimited         429     Discord answered 429
    ├── TooManyRequests     429     the API user exceeded its request rate (Retry-After)
    ├── UpstreamTimeout     504     Midjourney queued the job / did not answer
    ├── PendingModeration   596     the account waits for a moderation acknowledgement
    ├── AccountDisabled     596     the account is disabled (reason in the message)
    ├── DuplicateKey        409     a store insert hit an existing key
    └── TransportError      502     Discord could not be reached or refused a request
        ├── DiscordHTTPError        a non-2xx answer from Discord REST (status, code, message)
        └── DiscordAuthError        Discord rejected the token (401 / close 4004)

Mapping to the useapi envelope ``{"error": ..., "code": N}`` happens once, in ``mjapi.api.errors``.
Library exceptions are translated into these at the adapter boundary.
"""

from __future__ import annotations


class MjapiError(Exception):
    """Root of every mjapi error."""

    status: int = 500
    default_message = "Internal error"

    def __init__(self, message: str | None = None, *, details: str | None = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross from the Discord worker process to the server pickled. Exception's own
        # pickling calls ``cls(*args)``, which the subclasses with other constructor arguments
        # (Busy, RateLimited, DiscordHTTPError ...) do not accept: restore attributes instead.
        return (_restored, (type(self), self.args, dict(vars(self))))


def _restored(
    cls: type[MjapiError], args: tuple[object, ...], state: dict[str, object]
) -> MjapiError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    vars(error).update(state)
    return error


class BadRequest(MjapiError):
    """The request does not satisfy the useapi contract."""

    status = 400
    default_message = "Bad request"


class Unauthorized(MjapiError):
    """No API token, or an unknown one."""

    status = 401
    default_message = "Unauthorized"


class NotFound(MjapiError):
    """The job or account does not exist for this API token."""

    status = 404
    default_message = "Not found"


class Conflict(MjapiError):
    """The request conflicts with existing state."""

    status = 409
    default_message = "Conflict"


class DuplicateKey(Conflict):
    """A store insert hit an existing primary key."""

    default_message = "Already exists"


class Moderated(MjapiError):
    """Midjourney refused the prompt or image."""

    status = 422
    default_message = "Moderated or invalid prompt"


class Busy(MjapiError):
    """No eligible account has a free slot."""

    status = 429
    default_message = (
        "API query is full and can not accept new jobs/imagine requests or Discord rate limit "
        "detected. Please wait at least 10..30 seconds and retry again."
    )

    def __init__(
        self,
        executing_jobs: list[str],
        message: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.executing_jobs = executing_jobs
        #: seconds the client should wait (sent as ``Retry-After``)
        self.retry_after = retry_after


class RateLimited(MjapiError):
    """Discord answered 429 to a request made for this job."""

    status = 429
    default_message = "Discord rate limit detected. Please wait at least 10..30 seconds and retry."

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(MjapiError):
    """The API user made more requests than ``MJAPI_RATE_LIMIT`` allows."""

    status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"Too many requests for this API user; retry in {max(1, round(retry_after))} s"
        )
        self.retry_after = retry_after


class UpstreamTimeout(MjapiError):
    """Midjourney did not start the job in time."""

    status = 504
    default_message = "Midjourney did not acknowledge the job in time"


class PendingModeration(MjapiError):
    """The account has a pending Midjourney moderation message."""

    status = 596
    default_message = (
        "Your Discord account has received a pending moderation message from Midjourney. "
        "Please address this issue and reset pendingModMessage before making any new API calls"
    )


class AccountDisabled(MjapiError):
    """Every account the call could use is disabled (token rejected, blocked, no subscription).

    useapi has no such state; it answers like a pending moderation message (596), the other
    "the account needs its owner" case: fix it, then ``POST .../{channel}/reset``.
    """

    status = 596
    default_message = "The Midjourney account is disabled"


class TransportError(MjapiError):
    """Discord could not be reached, or refused a request."""

    status = 502
    default_message = "Discord request failed"


class DiscordHTTPError(TransportError):
    """A non-2xx answer from Discord REST."""

    def __init__(self, http_status: int, code: int | None, message: str) -> None:
        super().__init__(f"Discord answered {http_status}: {message}")
        self.http_status = http_status
        self.code = code
        self.discord_message = message


class DiscordAuthError(TransportError):
    """Discord rejected the account token."""

    status = 400
    default_message = "Discord rejected the token"
