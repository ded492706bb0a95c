from __future__ import annotations

from typing import Any

import pytest

from mjapi.api import validation
from mjapi.errors import BadRequest


def error_of(body: dict[str, Any]) -> str:
    with pytest.raises(BadRequest) as caught:
        validation.imagine_request(body)
    return caught.value.message


@pytest.mark.parametrize("body", [{}, {"prompt": ""}, {"prompt": "   "}, {"prompt": None}])
def test_prompt_required(body: dict[str, Any]) -> None:
    assert error_of(body) == "Required param prompt is missing or empty"


def test_prompt_limits() -> None:
    assert validation.imagine_request({"prompt": "x" * 5000}).prompt == "x" * 5000
    assert error_of({"prompt": "x" * 5001}) == (
        "Param prompt is too long (5001), maximum length is 5000"
    )
    assert error_of({"prompt": 12}) == "Param prompt must be a string"


@pytest.mark.parametrize("field", ["replyUrl", "replyRef"])
def test_reply_fields_limited_to_1024(field: str) -> None:
    value = "https://example.com/" + "a" * 1010 if field == "replyUrl" else "r" * 1025
    assert "too long" in error_of({"prompt": "p", field: value})


@pytest.mark.parametrize("value", [0, 16, -1, "abc", 2.5, True, [3], "3.5"])
def test_max_jobs_out_of_range_or_not_a_number(value: object) -> None:
    assert "maxJobs" in error_of({"prompt": "p", "maxJobs": value})


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), (15, 15), ("7", 7), (3.0, 3), (None, None)]
)
def test_max_jobs_accepted(value: object, expected: int | None) -> None:
    assert (
        validation.imagine_request({"prompt": "p", "maxJobs": value}).options.max_jobs == expected
    )


def test_max_jobs_above_ceiling_uses_useapi_wording() -> None:
    assert error_of({"prompt": "p", "maxJobs": 16}) == (
        "Required param maxJobs 16 can't be more that 15"
    )


@pytest.mark.parametrize("url", ["ftp://x/y", "not a url", "http://", "javascript:alert(1)"])
def test_reply_url_must_be_http(url: str) -> None:
    assert "replyUrl" in error_of({"prompt": "p", "replyUrl": url})


def test_channel_must_be_a_snowflake() -> None:
    assert "channel" in error_of({"prompt": "p", "channel": "abc"})
    parsed = validation.imagine_request({"prompt": "p", "channel": 123, "replyRef": "r"})
    assert parsed.options.channel == "123" and parsed.options.reply_ref == "r"


def test_jobid_query() -> None:
    with pytest.raises(BadRequest, match="Query param jobid not provided"):
        validation.jobid(" ")
    assert validation.jobid(" job:1 ") == "job:1"


def test_error_text_with_a_lone_surrogate_can_be_sent() -> None:
    from mjapi.api.errors import envelope

    reply = envelope(400, "Param maxJobs (\ud800) must be a number from 1 to 15")
    assert b"\\\\ud800" in reply.body
