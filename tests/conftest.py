"""Fixtures shared by every layer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

CAPTURES = Path(__file__).parent / "captures"


def load_capture(name: str) -> Any:
    """A file from tests/captures, parsed."""
    return json.loads((CAPTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def capture() -> Any:
    return load_capture


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The event loops an async test runs on: asyncio's; for tests marked ``both_loops`` also
    uvloop's, the one ``mjapi serve`` runs on (its futures, tasks and transports are other
    classes). pytest-asyncio wants a mapping for every test once the hook exists; one entry
    adds no test id."""
    if item.get_closest_marker("both_loops") is None:
        return {"asyncio": asyncio.new_event_loop}
    import uvloop

    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
