"""What the server and the worker agree on: the start-up settings and the calls forwarded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerConfig:
    """What the worker needs to build its ``DiscordTransport``."""

    discord_url: str
    ready_timeout: float
    log_level: str = "INFO"


#: ``Transport`` coroutine methods the worker runs for the server.
CALLS = frozenset(
    {
        "identify",
        "identify_server_channel",
        "attach",
        "resume",
        "detach",
        "imagine",
        "button",
        "blend",
        "describe",
        "seed",
        "setting",
    }
)
