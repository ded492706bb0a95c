"""Counters of what the simulator saw and did, for tests of a client's behaviour (``/_sim/stats``).

Plain numbers, incremented where things happen; nothing here is ever reset but by a new
simulator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mjapi.simulator.objects import JsonObject


@dataclass
class GatewayStats:
    """Gateway counters, all cumulative since the simulator started."""

    #: websocket connections accepted
    connections: int = 0
    #: IDENTIFY (op 2) frames received
    identifies: int = 0
    #: RESUME (op 6) frames received
    resumes: int = 0
    #: RESUMEs that succeeded (RESUMED dispatched)
    resumed: int = 0
    #: dispatches sent again by successful RESUMEs
    replayed_events: int = 0
    #: INVALID_SESSION (op 9) frames sent
    invalid_sessions: int = 0
    #: connections made to stop acknowledging heartbeats (``/_sim/gateway/zombie``)
    zombies: int = 0


@dataclass
class JobStats:
    """Jobs of the fake bot (imagine, blend, describe, the buttons that start a job)."""

    #: jobs whose first message ("Waiting to start", or describe's first reply) went out
    started: int = 0
    #: jobs that delivered their result
    completed: int = 0
    #: jobs a fault rule applied to
    faulted: int = 0


@dataclass
class SimStats:
    """Everything ``GET /_sim/stats`` reports."""

    #: REST requests under /api/v9 and /api/v10 (faulted and refused ones included)
    rest_requests: int = 0
    #: 429 answers (injected, early, over the limit)
    rate_limited: int = 0
    #: requests sent before the moment the simulator had announced (reference §1.8)
    early_requests: int = 0
    #: 5xx answers injected by ``server_error`` faults
    server_errors: int = 0
    gateway: GatewayStats = field(default_factory=GatewayStats)
    jobs: JobStats = field(default_factory=JobStats)

    def snapshot(self) -> JsonObject:
        """The counters as JSON (a copy)."""
        return asdict(self)
