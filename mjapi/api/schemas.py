"""Request and response shapes, for the OpenAPI document.

Requests are parsed by ``mjapi.api.validation`` (to keep useapi's error wording and accept form
posts); these models describe the same fields for ``/openapi.json`` and ``/docs``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class JobOptionsBody(BaseModel):
    """Fields every job-creating call accepts."""

    channel: str | None = Field(None, description="Account to use; random free one if omitted.")
    maxJobs: int | None = Field(None, ge=1, le=15, description="Per-call limit of running jobs.")
    replyUrl: str | None = Field(None, max_length=1024, description="Callback URL.")
    replyRef: str | None = Field(None, max_length=1024, description="Your reference, echoed.")


class ImagineBody(JobOptionsBody):
    """``POST /v2/jobs/imagine``."""

    prompt: str = Field(..., min_length=1, max_length=5000, description="Midjourney prompt.")


class AccountBody(BaseModel):
    """``POST /v2/account/midjourney``."""

    discord: str = Field(..., description="Discord user token of the Midjourney account.")
    maxJobs: int | None = Field(None, ge=1, le=15, description="Concurrent jobs (default 3).")


class ErrorBody(BaseModel):
    """useapi's error envelope."""

    error: str
    errorDetails: str | None = None
    executingJobs: list[str] | None = None
    code: int


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` describing ``model`` as the JSON (or form) request body."""
    schema = model.model_json_schema()
    content = {"schema": schema}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": content,
                "application/x-www-form-urlencoded": content,
            },
        }
    }


def error_docs(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}
