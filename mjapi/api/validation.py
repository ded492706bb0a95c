"""Checks on request fields, in useapi's wording. Pure: dict in, typed values or BadRequest out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mjapi.domain.accounts import MAX_JOBS_CEILING
from mjapi.engine.requests import (
    BlendRequest,
    ButtonRequest,
    DescribeRequest,
    ImagineRequest,
    JobOptions,
    SeedRequest,
)
from mjapi.errors import BadRequest
from mjapi.transports.base import BlendDimensions, ServerChannel

PROMPT_MAX = 5000
REPLY_MAX = 1024
URL_MAX = 2048
#: A Vary (Region) mask is a base64 PNG of the image's size.
MASK_MAX = 8_000_000


def text(body: dict[str, Any], name: str, *, max_len: int, required: bool = False) -> str | None:
    """A string field; empty counts as absent."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest(f"Required param {name} is missing or empty")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"Param {name} must be a string")
    if len(value) > max_len:
        raise BadRequest(f"Param {name} is too long ({len(value)}), maximum length is {max_len}")
    if not _storable(value):
        raise BadRequest(f"Param {name} contains characters that are not allowed")
    return value


def _storable(value: str) -> bool:
    """No NUL (PostgreSQL text refuses it) and no lone surrogate (not encodable as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(value: str, max_len: int) -> bool:
    """Could ``value`` be a key in the database (any store)? Longer than ``max_len``: no."""
    return len(value) <= max_len and _storable(value)


def max_jobs(body: dict[str, Any]) -> int | None:
    """``maxJobs``: a whole number from 1 to 15, as a number or a numeric string (form posts)."""
    value = body.get("maxJobs")
    if value is None or value == "":
        return None
    number = _whole_number(value)
    if number is None or number < 1:
        raise BadRequest(f"Param maxJobs ({value}) must be a number from 1 to {MAX_JOBS_CEILING}")
    if number > MAX_JOBS_CEILING:
        raise BadRequest(f"Required param maxJobs {number} can't be more that {MAX_JOBS_CEILING}")
    return number


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    digits = value.strip() if isinstance(value, str) else ""
    # isdecimal() alone admits other scripts' digits; int() would then fail or surprise.
    if digits.isascii() and digits.isdecimal() and len(digits) <= 6:
        return int(digits)
    return None


def reply_url(body: dict[str, Any]) -> str | None:
    url = text(body, "replyUrl", max_len=REPLY_MAX)
    if url is not None and not _is_http_url(url):
        raise BadRequest(f"Param replyUrl ({url}) is not a valid http(s) URL")
    return url


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def channel(body: dict[str, Any]) -> str | None:
    value = body.get("channel")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    found = text({"channel": value}, "channel", max_len=32)
    if found is not None and not found.isdigit():
        raise BadRequest(f"Param channel ({found}) is not a valid Discord channel id")
    return found


def job_options(body: dict[str, Any]) -> JobOptions:
    return JobOptions(
        channel=channel(body),
        max_jobs=max_jobs(body),
        reply_url=reply_url(body),
        reply_ref=text(body, "replyRef", max_len=REPLY_MAX),
        queue=queue(body),
    )


def queue(body: dict[str, Any]) -> bool | None:
    """mjapi's own opt-in ``queue``: wait in the durable queue instead of a 429 when busy."""
    value = body.get("queue")
    if value is None or isinstance(value, bool):
        return value
    # Form posts carry text, as they do for maxJobs.
    spelled = (
        {"true": True, "false": False}.get(value.strip().lower())
        if isinstance(value, str)
        else None
    )
    if spelled is None:
        raise BadRequest("Param queue must be true or false")
    return spelled


def imagine_request(body: dict[str, Any]) -> ImagineRequest:
    prompt = text(body, "prompt", max_len=PROMPT_MAX, required=True)
    assert prompt is not None
    return ImagineRequest(prompt=prompt, options=job_options(body))


def discord_token(body: dict[str, Any]) -> str:
    """A Discord token: printable ASCII only, since it travels in an HTTP header."""
    token = text(body, "discord", max_len=512, required=True)
    assert token is not None
    token = token.strip()
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise BadRequest("Param discord is not a valid Discord token")
    return token


def required_jobid(body: dict[str, Any]) -> str:
    found = text(body, "jobid", max_len=256, required=True)
    assert found is not None
    return found.strip()


def button_request(body: dict[str, Any]) -> ButtonRequest:
    label = text(body, "button", max_len=64, required=True)
    assert label is not None
    return ButtonRequest(
        jobid=required_jobid(body),
        button=label,
        prompt=text(body, "prompt", max_len=PROMPT_MAX),
        mask=text(body, "mask", max_len=MASK_MAX),
        options=job_options(body),
    )


def http_url(body: dict[str, Any], name: str, value: object) -> str:
    """One URL the server will download: a string, http(s), at most 2048 characters."""
    found = text({name: value}, name, max_len=URL_MAX, required=True)
    assert found is not None
    if not _is_http_url(found):
        raise BadRequest(f"Param {name} ({found}) is not a valid http(s) URL")
    return found


def blend_request(body: dict[str, Any]) -> BlendRequest:
    urls = body.get("blendUrls")
    if urls is None or urls == "" or urls == []:
        raise BadRequest("Required param blendUrls is missing or empty")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not 2 <= len(urls) <= 5:
        raise BadRequest("Param blendUrls must be a list of 2 to 5 image URLs")
    return BlendRequest(
        urls=tuple(http_url(body, "blendUrls", url) for url in urls),
        dimensions=blend_dimensions(body),
        options=job_options(body),
    )


def blend_dimensions(body: dict[str, Any]) -> BlendDimensions:
    value = body.get("blendDimensions")
    if value is None or value == "":
        return BlendDimensions.SQUARE
    try:
        return BlendDimensions(value)
    except ValueError:
        choices = ", ".join(d.value for d in BlendDimensions)
        raise BadRequest(f"Param blendDimensions ({value}) must be one of {choices}") from None


def describe_request(body: dict[str, Any]) -> DescribeRequest:
    return DescribeRequest(
        url=http_url(body, "describeUrl", body.get("describeUrl")), options=job_options(body)
    )


def seed_request(body: dict[str, Any]) -> SeedRequest:
    return SeedRequest(jobid=required_jobid(body), options=job_options(body))


def snowflake(body: dict[str, Any], name: str) -> str:
    """A required Discord id (legacy account fields ``server`` and ``channel``)."""
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    found = text({name: value}, name, max_len=32, required=True)
    assert found is not None
    if not found.isascii() or not found.isdecimal():
        raise BadRequest(f"Required param {name} ({found}) is not valid Discord {name} id")
    return found


def server_channel(body: dict[str, Any], path_channel: str) -> ServerChannel:
    """The legacy ``POST account/midjourney/{channel}`` body, with useapi's checks."""
    guild = snowflake(body, "server")
    channel_id = snowflake(body, "channel")
    if channel_id != path_channel:
        raise BadRequest(
            f"Required param channel ({channel_id}) not matching to /midjourney/channel "
            f"(/midjourney/{path_channel})"
        )
    return ServerChannel(guild, channel_id)


def jobid(value: str | None) -> str:
    if value is None or not value.strip():
        raise BadRequest("Query param jobid not provided")
    return value.strip()
