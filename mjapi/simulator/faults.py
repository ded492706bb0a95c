"""Fault rules: what the simulator answers instead of its normal answer, for matching work. Pure.

A rule names a fault and optionally an account (``token``); job faults may also require a piece
of the prompt (``prompt_contains``), REST faults a route. A rule applies to the next ``times``
matching jobs or REST requests (None: until deleted), rules being tried in the order they were
added; a used-up rule is forgotten. ``/_sim/faults`` (``control_api.py``) is a thin adapter over
``FaultControl``; docs/simulator.md says what each fault looks like on the wire.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mjapi.simulator.objects import JsonObject
from mjapi.simulator.ratelimits import ROUTE_KEYS
from mjapi.simulator.users import user_id_of

#: faults of a job: the bot answers the job with this outcome instead of running it normally
JOB_FAULTS = frozenset(
    {
        "banned_prompt",
        "invalid_parameter",
        "invalid_link",
        "output_filter",
        "action_needed",
        "pending_mod_message",
        "captcha",
        "blocked",
        "subscription_required",
        "credits_exhausted",
        "queue_full",
        "job_queued",
        "unrecognized",
        "silent",
        "interaction_failure",
        "stall",
    }
)
#: job faults under which the job still starts: they change how it runs, not whether
RUNNING_FAULTS = frozenset({"job_queued", "output_filter", "stall"})
#: faults of the next REST requests
REST_FAULTS = frozenset({"rate_limit", "server_error"})
#: what a REST fault's ``route`` may name
REST_ROUTES = frozenset({"any", *ROUTE_KEYS})

DEFAULT_RETRY_AFTER = 1.0
DEFAULT_STATUS = 502

#: the fields every rule may carry, and those only some faults may carry
_COMMON_FIELDS = frozenset({"fault", "token", "times"})
_FIELDS_OF: Mapping[str, frozenset[str]] = {
    **{name: frozenset({"prompt_contains"}) for name in JOB_FAULTS},
    "job_queued": frozenset({"prompt_contains", "delay"}),
    "rate_limit": frozenset({"route", "retry_after", "global"}),
    "server_error": frozenset({"route", "status"}),
}


class FaultError(ValueError):
    """A rule the simulator cannot store (HTTP 400)."""


@dataclass
class FaultRule:
    """One stored fault rule."""

    id: str
    fault: str
    token: str | None = None
    prompt_contains: str | None = None
    #: how many matches it applies to; None: until deleted
    times: int | None = 1
    route: str = "any"
    retry_after: float = DEFAULT_RETRY_AFTER
    is_global: bool = False
    status: int = DEFAULT_STATUS
    #: job_queued: seconds between the "Job queued" embed and the start (None: 2 × step_delay)
    delay: float | None = None
    remaining: int | None = field(init=False)
    #: the user behind ``token``: jobs know their user, not the token it authenticated with
    user_id: str | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.remaining = self.times
        self.user_id = user_id_of(self.token) if self.token is not None else None

    @property
    def is_job_fault(self) -> bool:
        return self.fault in JOB_FAULTS

    def to_json(self) -> JsonObject:
        """The rule as ``/_sim/faults`` shows it: the fields that mean something for its fault."""
        shown: JsonObject = {"id": self.id, "fault": self.fault, "token": self.token}
        if self.is_job_fault:
            shown["prompt_contains"] = self.prompt_contains
        else:
            shown["route"] = self.route
        if self.fault == "rate_limit":
            shown["retry_after"] = self.retry_after
            shown["global"] = self.is_global
        elif self.fault == "server_error":
            shown["status"] = self.status
        elif self.fault == "job_queued":
            shown["delay"] = self.delay
        shown.update(times=self.times, remaining=self.remaining)
        return shown

    def matches_job(self, user_id: str, prompt: str) -> bool:
        return (
            self.is_job_fault
            and self.user_id in (None, user_id)
            and (self.prompt_contains is None or self.prompt_contains in prompt)
        )

    def matches_request(self, token: str | None, route: str) -> bool:
        return (
            not self.is_job_fault and self.token in (None, token) and self.route in ("any", route)
        )


class FaultControl:
    """The stored fault rules: add, list, delete, and take the one that applies."""

    def __init__(self) -> None:
        self._rules: dict[str, FaultRule] = {}
        self._ids = itertools.count(1)

    def add(
        self,
        fault: str,
        *,
        token: str | None = None,
        prompt_contains: str | None = None,
        times: int | None = 1,
        route: str | None = None,
        retry_after: float | None = None,
        is_global: bool | None = None,
        status: int | None = None,
        delay: float | None = None,
    ) -> FaultRule:
        """Store a rule (the in-process twin of ``POST /_sim/faults``); FaultError if invalid."""
        optional = {
            "token": token,
            "prompt_contains": prompt_contains,
            "route": route,
            "retry_after": retry_after,
            "global": is_global,
            "status": status,
            "delay": delay,
        }
        body: dict[str, object] = {"fault": fault, "times": times}
        body.update({key: value for key, value in optional.items() if value is not None})
        return self.add_json(body)

    def add_json(self, body: object) -> FaultRule:
        """Store a rule from its JSON body; FaultError naming what is wrong."""
        rule = parse_rule(f"fault-{next(self._ids)}", body)
        self._rules[rule.id] = rule
        return rule

    def rules(self) -> list[FaultRule]:
        return list(self._rules.values())

    def remove(self, rule_id: str) -> bool:
        return self._rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self._rules.clear()

    def take_job(self, user_id: str, prompt: str) -> FaultRule | None:
        """The rule that applies to this job now (one use of it is spent), if any."""
        return self._take(lambda rule: rule.matches_job(user_id, prompt))

    def take_request(self, token: str | None, route: str) -> FaultRule | None:
        """The rule that applies to this REST request now (one use spent), if any."""
        return self._take(lambda rule: rule.matches_request(token, route))

    def _take(self, applies: Callable[[FaultRule], bool]) -> FaultRule | None:
        for rule in self._rules.values():
            if not applies(rule):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    del self._rules[rule.id]
            return rule
        return None


# -- parsing --------------------------------------------------------------------------------


def parse_rule(rule_id: str, body: object) -> FaultRule:
    """A rule from the JSON body of ``POST /_sim/faults``, or FaultError."""
    if not isinstance(body, dict):
        raise FaultError("the body must be a JSON object")
    fault = body.get("fault")
    if not isinstance(fault, str) or fault not in _FIELDS_OF:
        raise FaultError(f"unknown fault {fault!r}; known: {sorted(_FIELDS_OF)}")
    allowed = _COMMON_FIELDS | _FIELDS_OF[fault]
    extra = sorted(set(body) - allowed)
    if extra:
        raise FaultError(f"field(s) {extra} do not apply to {fault!r}; allowed: {sorted(allowed)}")
    fields = {key: value for key, value in body.items() if value is not None}
    retry_after = _seconds(fields, "retry_after")
    return FaultRule(
        id=rule_id,
        fault=fault,
        token=_text(fields, "token"),
        prompt_contains=_text(fields, "prompt_contains"),
        times=_times(body),
        route=_route(fields),
        retry_after=DEFAULT_RETRY_AFTER if retry_after is None else retry_after,
        is_global=_flag(fields, "global"),
        status=_status(fields),
        delay=_seconds(fields, "delay"),
    )


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise FaultError(f"{name} must be a non-empty string")
    return value


def _times(body: dict[str, Any]) -> int | None:
    # absent: once; null: until deleted
    if "times" not in body:
        return 1
    value = body["times"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FaultError("times must be an integer >= 1, or null for 'until deleted'")
    return value


def _route(fields: dict[str, Any]) -> str:
    value = fields.get("route", "any")
    if value not in REST_ROUTES:
        raise FaultError(f"unknown route {value!r}; known: {sorted(REST_ROUTES)}")
    return str(value)


def _seconds(fields: dict[str, Any], name: str) -> float | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultError(f"{name} must be a number of seconds >= 0")
    return float(value)


def _flag(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name, False)
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false")
    return value


def _status(fields: dict[str, Any]) -> int:
    value = fields.get("status", DEFAULT_STATUS)
    if isinstance(value, bool) or not isinstance(value, int) or not 500 <= value <= 599:
        raise FaultError("status must be an integer from 500 to 599")
    return value
