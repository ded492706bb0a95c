"""Async orchestration: accounts, slots, submission, event handling, watchdog."""

from mjapi.engine.engine import Engine
from mjapi.engine.requests import ImagineRequest

__all__ = ["Engine", "ImagineRequest"]
