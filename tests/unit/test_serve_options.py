"""How ``mjapi serve`` runs uvicorn: the settings reach uvicorn's own configuration."""

from __future__ import annotations

from pathlib import Path

import uvicorn
from fastapi import FastAPI

from mjapi.cli import uvicorn_options
from mjapi.settings import Settings


def test_the_settings_become_uvicorns_configuration(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, port=8123, keep_alive=42, access_log=False, shutdown_grace=7
    )
    config = uvicorn.Config(FastAPI(), **uvicorn_options(settings))
    assert (config.host, config.port) == ("127.0.0.1", 8123)
    assert config.timeout_keep_alive == 42
    assert config.access_log is False
    assert config.timeout_graceful_shutdown == 7
    assert config.log_config is None  # mjapi's own logging (logs.configure) stays


def test_idle_connections_are_kept_longer_than_uvicorns_five_seconds(tmp_path: Path) -> None:
    """A client waiting for its job keeps its connection: a busy server accepts one new
    connection per event-loop turn, so clients that reconnect queue up (bench/README.md)."""
    assert uvicorn.Config(FastAPI()).timeout_keep_alive == 5
    assert uvicorn_options(Settings(data_dir=tmp_path))["timeout_keep_alive"] == 75
