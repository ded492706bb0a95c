"""How the simulator behaves: timing, plans, command versions, Discord-era quirks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mjapi.simulator.ratelimits import DEFAULT_RATE_LIMITS, check_limits

#: fast jobs Midjourney runs at once per plan (reference §5; batdan/midjourney-api-php#6, BAI);
#: read-only: other plans or numbers are configured (``SimulatorConfig.plan_concurrency``)
PLAN_CONCURRENCY: Mapping[str, int] = MappingProxyType(
    {"Basic": 3, "Standard": 3, "Pro": 12, "Mega": 12}
)

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
    #: token -> plan name (a key of PLAN_CONCURRENCY or of ``plan_concurrency``)
    plans: Mapping[str, str] = field(default_factory=dict)
    #: plan name -> fast jobs run at once, over PLAN_CONCURRENCY: changes a Midjourney plan's
    #: concurrency or adds a plan no real account has (the benchmarks' "Bench" plan runs 15)
    plan_concurrency: Mapping[str, int] = field(default_factory=dict)
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
    #: draw the tile number and the prompt on the images; off, the pictures are the same
    #: (valid PNG/WebP of the same sizes) without the text, far cheaper to render:
    #: for load tests, where drawing text would cost most of the simulator's CPU
    captions: bool = True
    #: 0: every /imagine draws its own pictures. N (needs ``captions=False``): an /imagine's
    #: pictures are one of N variants picked by its job hash (colours no longer follow the
    #: prompt), each made once (grid, previews, PNG) and kept: for load tests, where encoding
    #: every job's previews would cost most of the simulator's CPU
    image_variants: int = 0
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
        _check_concurrency(self.plan_concurrency)
        known = self.known_plans()
        unknown = {self.default_plan, *self.plans.values()} - known
        if unknown:
            raise ValueError(f"unknown plan(s) {sorted(unknown)}; known: {sorted(known)}")
        if self.step_delay < 0 or self.wait_queue_size < 0:
            raise ValueError("step_delay and wait_queue_size must not be negative")
        if self.grid_size < 64 or self.preview_size < 16:
            raise ValueError("grid_size must be >= 64 and preview_size >= 16")
        _check_variants(self.image_variants, self.captions)
        if self.video_size < 32 or self.video_frames < 1 or self.video_fps < 1:
            raise ValueError("video_size must be >= 32, video_frames and video_fps >= 1")
        if self.resume_window < 0 or self.replay_limit < 1:
            raise ValueError("resume_window must not be negative and replay_limit must be >= 1")
        check_limits(self.rate_limits)

    def plan_for(self, token: str) -> str:
        """The plan of the account behind ``token``."""
        return self.plans.get(token, self.default_plan)

    def known_plans(self) -> frozenset[str]:
        """Every plan a token may have: Midjourney's and the configured extra ones."""
        return frozenset(PLAN_CONCURRENCY) | frozenset(self.plan_concurrency)

    def concurrency(self, plan: str) -> int:
        """Jobs a ``plan`` runs at once (KeyError for a plan not in ``known_plans()``)."""
        override = self.plan_concurrency.get(plan)
        return override if override is not None else PLAN_CONCURRENCY[plan]

    def version_overrides(self) -> dict[str, str]:
        """Command name -> version for every command whose version differs from capture 31."""
        return {**self.command_versions, "imagine": self.command_version_imagine}


def _check_concurrency(plan_concurrency: Mapping[str, int]) -> None:
    """ValueError unless every entry names a plan and runs at least one job."""
    for plan, jobs in plan_concurrency.items():
        if not isinstance(plan, str) or not plan:
            raise ValueError(f"plan_concurrency: a plan name must be a non-empty string: {plan!r}")
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"plan_concurrency[{plan!r}] must be an integer >= 1, not {jobs!r}")


def _check_variants(image_variants: int, captions: bool) -> None:
    """ValueError unless ``image_variants`` is a count and, when not 0, captions are off."""
    if isinstance(image_variants, bool) or not isinstance(image_variants, int):
        raise ValueError(f"image_variants must be an integer, not {image_variants!r}")
    if image_variants < 0:
        raise ValueError("image_variants must not be negative")
    if image_variants and captions:
        raise ValueError("image_variants needs captions=False: a caption shows the job's prompt")
