"""How the simulator behaves: timing, plans, command versions, Discord-era quirks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mjapi.simulator.ratelimits import DEFAULT_RATE_LIMITS, check_limits

#: fast jobs Midjourney runs at once per plan (reference §5; batdan/midjourney-api-php#6, BAI)
PLAN_CONCURRENCY: Mapping[str, int] = {"Basic": 3, "Standard": 3, "Pro": 12, "Mega": 12}

#: the imagine version of the 2024 command index (capture 31, reference §1.3)
IMAGINE_VERSION = "1237876415471554623"


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a test or a demo may tune; every field has a working default."""

    #: seconds between two steps of the bot (interaction ack, each progress update, the result)
    step_delay: float = 0.7
    #: the percentages the progress MESSAGE_UPDATEs show (capture 03)
    progress_points: tuple[int, ...] = (0, 15, 31, 46, 62, 78, 93)
    #: the op 10 HELLO interval Discord announces
    heartbeat_interval_ms: int = 41250
    #: plan of every token not listed in ``plans``
    default_plan: str = "Standard"
    #: token -> plan name (a key of PLAN_CONCURRENCY)
    plans: Mapping[str, str] = field(default_factory=dict)
    #: jobs Midjourney keeps waiting beyond the plan's concurrency before "Queue full"
    wait_queue_size: int = 10
    #: tokens refused although well-formed (REST 401, gateway close 4004)
    rejected_tokens: frozenset[str] = frozenset()
    #: the final result MESSAGE_CREATE carries the nonce (Discord since ~2025-05; False = 2023)
    final_nonce: bool = True
    #: add the style-5 link button ``https://www.midjourney.com/jobs/<hash>`` (capture 20)
    web_link_button: bool = True
    #: appended to the prompt the bot echoes, e.g. " --v 7", to mimic Midjourney's rewriting
    prompt_suffix: str = ""
    #: echo links in a prompt as ``<https://s.mj.run/...>`` like Midjourney (capture 21)
    shorten_links: bool = True
    #: width = height of the final PNG grid
    grid_size: int = 1024
    #: width = height of the webp progress previews (capture 07: 512)
    preview_size: int = 512
    #: version of /imagine in the command index
    command_version_imagine: str = IMAGINE_VERSION
    #: command name -> version, for any other command of the index
    command_versions: Mapping[str, str] = field(default_factory=dict)
    #: the CDN keeps at most this many files; the oldest are forgotten first
    max_stored_attachments: int = 5000
    #: longer side of a video batch MP4 (a 2×2 batch; each clip is half of it)
    video_size: int = 256
    #: frames per clip and their rate (12 at 12 fps: one second)
    video_frames: int = 12
    video_fps: int = 12
    #: REST route key (``ratelimits.ROUTE_KEYS``, or "default" for the others) -> (requests,
    #: window seconds) per token; the default is generous enough that tests never meet it
    rate_limits: Mapping[str, tuple[int, float]] = field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    #: seconds a gateway session stays resumable after its connection went away
    resume_window: float = 60.0
    #: dispatches each gateway session keeps for a RESUME replay
    replay_limit: int = 2000
    #: end a session whose client closed its socket with 1000 or 1001, as Discord does (clients
    #: that mean to resume close with another code); off: every session stays resumable
    client_close_ends_session: bool = False

    def __post_init__(self) -> None:
        unknown = {self.default_plan, *self.plans.values()} - PLAN_CONCURRENCY.keys()
        if unknown:
            raise ValueError(
                f"unknown plan(s) {sorted(unknown)}; known: {sorted(PLAN_CONCURRENCY)}"
            )
        if self.step_delay < 0 or self.wait_queue_size < 0:
            raise ValueError("step_delay and wait_queue_size must not be negative")
        if self.grid_size < 64 or self.preview_size < 16:
            raise ValueError("grid_size must be >= 64 and preview_size >= 16")
        if self.video_size < 32 or self.video_frames < 1 or self.video_fps < 1:
            raise ValueError("video_size must be >= 32, video_frames and video_fps >= 1")
        if self.resume_window < 0 or self.replay_limit < 1:
            raise ValueError("resume_window must not be negative and replay_limit must be >= 1")
        check_limits(self.rate_limits)

    def plan_for(self, token: str) -> str:
        """The plan of the account behind ``token``."""
        return self.plans.get(token, self.default_plan)

    def version_overrides(self) -> dict[str, str]:
        """Command name -> version for every command whose version differs from capture 31."""
        return {**self.command_versions, "imagine": self.command_version_imagine}
