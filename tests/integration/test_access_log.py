"""The access log of ``mjapi serve``: a redacted line per request, unless MJAPI_ACCESS_LOG=false."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

#: An API token in a query string, where no client should put it; the log must still mask it.
LEAKED = "user:1-SecretPartOfAToken0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def served_log(tmp_path: Path, settings: dict[str, str]) -> str:
    """Start ``mjapi serve``, GET /health (with LEAKED in the query), stop it; its log."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJAPI_")}
    env |= {"MJAPI_PORT": str(port), "MJAPI_DATA_DIR": str(tmp_path), "MJAPI_LOG_LEVEL": "INFO"}
    env |= {"MJAPI_DISCORD_URL": f"http://127.0.0.1:{free_port()}", **settings}
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "mjapi", "serve"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            up = await until_up(client)
            if up:
                reply = await client.get("/health", params={"token": LEAKED})
                assert reply.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(server.communicate(), 30)
    assert up, "the server did not come up: " + out.decode()[-2000:]
    return out.decode()


async def until_up(client: httpx.AsyncClient) -> bool:
    for _ in range(400):
        try:
            await client.get("/openapi.json")  # not /health: that line is the one looked for
            return True
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("settings", [{}, {"MJAPI_ACCESS_LOG": "true"}])
async def test_each_request_is_logged_with_its_secrets_masked(
    tmp_path: Path, settings: dict[str, str]
) -> None:
    text = await served_log(tmp_path, settings)
    lines = [line for line in text.splitlines() if "GET /health" in line]
    assert len(lines) == 1, text[-2000:]
    assert " INFO uvicorn.access: " in lines[0] and '" 200' in lines[0]
    assert "1-...secured..." in lines[0]
    assert "SecretPart" not in text
    # Lines buffered when SIGTERM came are written too (uvicorn re-raises it at the very end).
    assert "Finished server process" in text, text[-2000:]


async def test_the_access_log_can_be_turned_off(tmp_path: Path) -> None:
    text = await served_log(tmp_path, {"MJAPI_ACCESS_LOG": "false"})
    assert "GET /openapi.json" not in text and "GET /health" not in text
    assert "Application startup complete" in text, "the other INFO lines stay"
