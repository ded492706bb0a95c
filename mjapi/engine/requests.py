"""Validated requests as the engine receives them from the API."""

from __future__ import annotations

from dataclasses import dataclass

from mjapi.transports.base import BlendDimensions, Setting


@dataclass(frozen=True)
class JobOptions:
    """Fields every job-creating call shares (useapi's common fields)."""

    channel: str | None = None
    max_jobs: int | None = None
    reply_url: str | None = None
    reply_ref: str | None = None
    #: wait in the durable queue when no slot is free (None: the server's default)
    queue: bool | None = None


@dataclass(frozen=True)
class ImagineRequest:
    """``POST jobs/imagine``."""

    prompt: str
    options: JobOptions = JobOptions()


@dataclass(frozen=True)
class ButtonRequest:
    """``POST jobs/button``."""

    jobid: str
    button: str
    prompt: str | None = None
    mask: str | None = None
    options: JobOptions = JobOptions()


@dataclass(frozen=True)
class BlendRequest:
    """``POST jobs/blend``."""

    urls: tuple[str, ...]
    dimensions: BlendDimensions = BlendDimensions.SQUARE
    options: JobOptions = JobOptions()


@dataclass(frozen=True)
class DescribeRequest:
    """``POST jobs/describe``."""

    url: str
    options: JobOptions = JobOptions()


@dataclass(frozen=True)
class SeedRequest:
    """``POST jobs/seed_async``."""

    jobid: str
    options: JobOptions = JobOptions()


@dataclass(frozen=True)
class SettingRequest:
    """``POST jobs/info | fast | relax | turbo | variability | remix``."""

    setting: Setting
    options: JobOptions = JobOptions()
