"""No Discord token in plain text: not in responses, callbacks, logs or the database file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.e2e.conftest import DISCORD_TOKEN, Stack
from tests.e2e.helpers import add_account, click, imagine


async def test_the_token_never_shows(
    stack: Stack, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    await add_account(stack)
    grid = await imagine(stack, "a quiet pond")
    await click(stack, grid, "U1")
    await stack.api.post("/v2/account/midjourney", json={"discord": DISCORD_TOKEN, "maxJobs": 2})
    responses = [
        (await stack.api.get("/v2/account/midjourney")).text,
        (await stack.api.get("/v2/jobs/", params={"jobid": grid["jobid"]})).text,
    ]
    assert all(DISCORD_TOKEN not in text for text in responses)
    assert DISCORD_TOKEN not in caplog.text
    assert all(DISCORD_TOKEN not in str(body) for body in stack.sink.bodies)
    stored = database_bytes(tmp_path)
    assert stored and DISCORD_TOKEN.encode() not in stored


def database_bytes(data_dir: Path) -> bytes:
    """The SQLite file with its WAL: whatever the store has written so far."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("mjapi.sqlite3*")))
