"""Turning raw input bytes into a validated input event, or a clear rejection.

Pure: the clock and the policy are passed in. Every way an input can be bad
maps to one short ``reason`` (a metric label and the dead-letter reason) plus a
human-readable ``detail``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from worker.domain.policy import Policy
from worker.messages import INPUT_EVENT, IncidentOpened, InputEvent

DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_MAX_EVENT_BYTES = 256 * 1024

REASONS = (
    "too_large",
    "not_json",
    "not_an_object",
    "unknown_type",
    "naive_timestamp",
    "unknown_severity",
    "unknown_plan",
    "unknown_region",
    "future_timestamp",
    "invalid",
)


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


def _reason_for(exc: ValidationError) -> str:
    for error in exc.errors():
        field = str(error["loc"][-1]) if error["loc"] else ""
        if error["type"] == "union_tag_invalid" or error["type"] == "union_tag_not_found":
            return "unknown_type"
        if error["type"] == "timezone_aware":
            return "naive_timestamp"
        if error["type"] == "literal_error" and field == "severity":
            return "unknown_severity"
        if error["type"] == "literal_error" and field == "plan":
            return "unknown_plan"
    return "invalid"


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(p) for p in error["loc"]) or "(event)"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def decode_event(
    raw: bytes,
    policy: Policy,
    now: datetime,
    max_future_skew: timedelta | None = DEFAULT_MAX_FUTURE_SKEW,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> InputEvent | Rejection:
    """Parse and validate one input record; never raises for bad input.

    ``max_future_skew=None`` turns the future check off (offline replay of
    historical files, where ``now`` has no meaning yet).
    """
    if len(raw) > max_bytes:
        return Rejection("too_large", f"{len(raw)} bytes, more than the limit of {max_bytes}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejection("not_json", f"not a JSON document: {type(exc).__name__}: {str(exc)[:200]}")
    if not isinstance(data, dict):
        return Rejection("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    try:
        event = INPUT_EVENT.validate_python(data)
    except ValidationError as exc:
        return Rejection(_reason_for(exc), _describe(exc))
    except RecursionError:
        return Rejection("invalid", "nested too deeply")
    if isinstance(event, IncidentOpened) and (event.region or policy.default_region) not in policy.regions:
        return Rejection(
            "unknown_region",
            f"region {event.region!r} is not in the policy (known: {', '.join(sorted(policy.regions))})",
        )
    if max_future_skew is not None and event.occurred_at - now > max_future_skew:
        return Rejection(
            "future_timestamp",
            f"occurred_at {event.occurred_at.isoformat()} is more than {max_future_skew} after now "
            f"({now.isoformat()})",
        )
    return event
