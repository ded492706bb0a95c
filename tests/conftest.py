"""Fixtures shared by every layer."""

from __future__ import annotations

import json
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
