"""Bad input gets useapi's envelope and status, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack

IMAGINE_400 = [
    ({}, "Required param prompt is missing or empty"),
    ({"prompt": ""}, "Required param prompt is missing or empty"),
    ({"prompt": "x" * 5001}, "Param prompt is too long (5001), maximum length is 5000"),
    ({"prompt": "p", "replyUrl": "https://e.com/" + "a" * 1024}, "Param replyUrl is too long"),
    ({"prompt": "p", "replyRef": "r" * 1025}, "Param replyRef is too long (1025)"),
    ({"prompt": "p", "maxJobs": 0}, "Param maxJobs (0) must be a number from 1 to 15"),
    ({"prompt": "p", "maxJobs": 16}, "Required param maxJobs 16 can't be more that 15"),
    ({"prompt": "p", "maxJobs": "many"}, "Param maxJobs (many) must be a number from 1 to 15"),
    ({"prompt": ["p"]}, "Param prompt must be a string"),
    ({"prompt": "p", "maxJobs": "²"}, "Param maxJobs (²) must be a number from 1 to 15"),
    ({"prompt": "p", "maxJobs": "9" * 5000}, "Param maxJobs (999"),
    ({"prompt": "p", "replyUrl": "http://[::1"}, "Param replyUrl (http://[::1) is not a valid"),
    ({"prompt": "p", "replyUrl": "http://h:99999/x"}, "Param replyUrl (http://h:99999/x) is not"),
    ({"prompt": "a\x00b"}, "Param prompt contains characters that are not allowed"),
]


def assert_envelope(body: dict[str, Any], code: int, text: str) -> None:
    assert body["code"] == code
    assert body["error"].startswith(text), body


@pytest.mark.parametrize(("body", "message"), IMAGINE_400)
async def test_imagine_validation(stack: Stack, body: dict[str, Any], message: str) -> None:
    reply = await stack.api.post("/v2/jobs/imagine", json=body)
    assert reply.status_code == 400
    assert_envelope(reply.json(), 400, message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "Request body is not valid JSON"),
        (b"[1, 2]", "Request body must be a JSON object"),
        (b"\xff\xfe", "Request body is not valid JSON"),
        (b'{"prompt": "p", "maxJobs": 1e309}', "Param maxJobs (inf) must be a number from 1 to"),
        (b'{"prompt": "\\ud800"}', "Param prompt contains characters that are not allowed"),
        (b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "Request body is nested"),
    ],
)
async def test_malformed_bodies(stack: Stack, raw: bytes, message: str) -> None:
    reply = await stack.api.post(
        "/v2/jobs/imagine", content=raw, headers={"Content-Type": "application/json"}
    )
    assert reply.status_code == 400
    assert_envelope(reply.json(), 400, message)


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "user:1-x"])
async def test_missing_or_unknown_token(stack: Stack, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in [
        ("POST", "/v2/jobs/imagine"),
        ("GET", "/v2/jobs"),
        ("GET", "/v2/account/midjourney"),
    ]:
        request = stack.api.build_request(method, path, json={"prompt": "p"})
        if header is None:
            del request.headers["Authorization"]
        else:
            request.headers.update(headers)
        reply = await stack.api.send(request)
        assert reply.status_code == 401
        assert reply.json() == {"error": "Unauthorized", "code": 401}


async def test_unknown_and_missing_jobid(stack: Stack) -> None:
    missing = await stack.api.get("/v2/jobs/")
    assert missing.status_code == 400
    assert_envelope(missing.json(), 400, "Query param jobid not provided")
    unknown = await stack.api.get("/v2/jobs/", params={"jobid": "job:1-user:1-channel:1"})
    assert unknown.status_code == 404
    assert_envelope(unknown.json(), 404, "Unable to locate job job:1-user:1-channel:1")


async def test_account_validation(stack: Stack) -> None:
    empty = await stack.api.post("/v2/account/midjourney", json={})
    assert_envelope(empty.json(), 400, "Required param discord is missing or empty")
    too_many = await stack.api.post(
        "/v2/account/midjourney", json={"discord": "x" * 30, "maxJobs": 99}
    )
    assert_envelope(too_many.json(), 400, "Required param maxJobs 99 can't be more that 15")


@pytest.mark.parametrize("token", ["tökén-with-non-ascii-chars-0123", "token\twith-tab-0123456789"])
async def test_account_token_must_be_a_header_value(stack: Stack, token: str) -> None:
    reply = await stack.api.post("/v2/account/midjourney", json={"discord": token})
    assert reply.status_code == 400
    assert_envelope(reply.json(), 400, "Param discord is not a valid Discord token")


async def test_account_token_rejected_by_discord(stack: Stack) -> None:
    reply = await stack.api.post("/v2/account/midjourney", json={"discord": "short"})
    assert reply.status_code == 400
    assert_envelope(reply.json(), 400, "Discord rejected the token")


async def test_form_posts_are_accepted(stack: Stack) -> None:
    reply = await stack.api.post("/v2/jobs/imagine", data={"prompt": "p", "maxJobs": "abc"})
    assert_envelope(reply.json(), 400, "Param maxJobs (abc) must be a number from 1 to 15")


async def test_unknown_route_and_method(stack: Stack) -> None:
    assert_envelope((await stack.api.get("/v2/nothing")).json(), 404, "Not found")
    assert_envelope((await stack.api.delete("/v2/jobs/imagine")).json(), 405, "Method not allowed")
