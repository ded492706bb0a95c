"""The command line: token creation against a real SQLite file, and the documented flags."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mjapi.cli import app
from mjapi.domain.tokens import hash_token
from mjapi.settings import Settings
from mjapi.storage.crypto import TokenCipher
from mjapi.storage.sqlite import SqliteStore


async def owner_of(data_dir: Path, token: str) -> int | None:
    store = SqliteStore(
        Settings(data_dir=data_dir).sqlite_path(), TokenCipher.from_settings(data_dir, None)
    )
    await store.open()
    try:
        return await store.token_owner(hash_token(token))
    finally:
        await store.close()


def test_token_create_prints_a_working_token_last(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["token", "create", "--data-dir", str(tmp_path)])
    second = runner.invoke(app, ["token", "create", "--data-dir", str(tmp_path), "--user", "1"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    token_a = first.output.strip().splitlines()[-1]
    token_b = second.output.strip().splitlines()[-1]
    assert token_a.startswith("user:1-") and token_b.startswith("user:1-") and token_a != token_b
    assert asyncio.run(owner_of(tmp_path, token_a)) == 1
    assert asyncio.run(owner_of(tmp_path, token_b)) == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("mjapi.sqlite3*"))
    assert token_a.encode() not in raw


@pytest.mark.parametrize("command", ["serve", "demo", "simulator", "token"])
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(
        app, [command, "--help"], env={"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    )
    assert result.exit_code == 0
    if command == "serve":
        for flag, env in [
            ("--host", "MJAPI_HOST"),
            ("--port", "MJAPI_PORT"),
            ("--data-dir", "MJAPI_DATA_DIR"),
            ("--discord-url", "MJAPI_DISCORD_URL"),
        ]:
            assert flag in result.output and env in result.output
