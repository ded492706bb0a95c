"""Request and response shapes, for the OpenAPI document.

Requests are parsed by ``mjapi.api.validation`` (to keep useapi's error wording and accept form
posts); these models describe the same fields for ``/openapi.json`` and ``/docs``.
"""

from __future__ import annotations

from typing import Any, Literal

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


class ButtonBody(JobOptionsBody):
    """``POST /v2/jobs/button``."""

    jobid: str = Field(..., description="A completed imagine, button or blend job.")
    button: str = Field(..., description="One of the job's buttons, e.g. U1, V2, Vary (Strong).")
    prompt: str | None = Field(
        None, max_length=5000, description="Custom Zoom (required) or remix prompt."
    )
    mask: str | None = Field(None, description="Vary (Region): base64 PNG, white = region.")


class BlendBody(JobOptionsBody):
    """``POST /v2/jobs/blend``."""

    blendUrls: list[str] = Field(..., min_length=2, max_length=5, description="Image URLs.")
    blendDimensions: Literal["Portrait", "Square", "Landscape"] | None = Field(
        None, description="Aspect of the result (default Square)."
    )


class DescribeBody(JobOptionsBody):
    """``POST /v2/jobs/describe``."""

    describeUrl: str = Field(..., description="URL of the image to describe.")


class SeedBody(JobOptionsBody):
    """``POST /v2/jobs/seed_async``."""

    jobid: str = Field(..., description="A completed image job (not a video).")


class AccountBody(BaseModel):
    """``POST /v2/account/midjourney``."""

    discord: str = Field(..., description="Discord user token of the Midjourney account.")
    maxJobs: int | None = Field(None, ge=1, le=15, description="Concurrent jobs (default 3).")


class ServerAccountBody(BaseModel):
    """Legacy ``POST /v2/account/midjourney/{channel}`` (an account in your own server)."""

    discord: str = Field(..., description="Discord user token.")
    server: str = Field(..., description="Discord server (guild) id.")
    channel: str = Field(..., description="Channel id; must equal the path's.")
    maxJobs: int = Field(..., ge=1, le=15, description="Concurrent jobs.")


class ProfileBody(BaseModel):
    """``POST /v2/account``."""

    name: str | None = Field(None, description="A name for your own reference.")
    replyUrl: str | None = Field(
        None, max_length=1024, description="Default callback for calls without replyUrl."
    )


class ErrorBody(BaseModel):
    """useapi's error envelope."""

    error: str
    errorDetails: str | None = None
    executingJobs: list[str] | None = None
    code: int


def body_doc(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` describing ``model`` as the JSON (or form) request body."""
    schema = model.model_json_schema()
    content = {"schema": schema}
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": content,
                "application/x-www-form-urlencoded": content,
            },
        }
    }


def error_docs(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}
