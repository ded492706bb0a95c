"""Validated requests as the engine receives them from the API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobOptions:
    """Fields every job-creating call shares (useapi's common fields)."""

    channel: str | None = None
    max_jobs: int | None = None
    reply_url: str | None = None
    reply_ref: str | None = None


@dataclass(frozen=True)
class ImagineRequest:
    """``POST jobs/imagine``."""

    prompt: str
    options: JobOptions = JobOptions()
