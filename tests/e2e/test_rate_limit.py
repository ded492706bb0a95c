"""The per-user request rate limit through the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Stack


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    return {"rate_limit": 0.5, "rate_limit_burst": 3}


async def test_a_user_over_the_limit_gets_429_with_retry_after(stack: Stack) -> None:
    answers = [await stack.api.get("/v2/account") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[3]
    assert limited.status_code == 429
    assert limited.json()["code"] == 429 and "Too many requests" in limited.json()["error"]
    assert int(limited.headers["Retry-After"]) >= 1


async def test_each_user_has_its_own_allowance(stack: Stack) -> None:
    for _ in range(4):
        await stack.api.get("/v2/account")
    other = {"Authorization": f"Bearer {await stack.new_token()}"}
    assert (await stack.api.get("/v2/account", headers=other)).status_code == 200
