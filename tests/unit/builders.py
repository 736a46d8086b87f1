"""Small builders for timeline events, shared by the engine tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from worker.domain.policy import Policy
from worker.domain.timeline import OPENED, RESPONSE, UPDATE, Event
from worker.domain.timers import EngineSettings, TicketEngine
from worker.replay import ReplayResult, replay

UTC = timezone.utc
# Monday 2 March 2026, 09:00 UTC (10:00 in Berlin).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def at(offset_minutes: float) -> datetime:
    return T0 + minutes(offset_minutes)


def opened(t: datetime = T0, severity="S1", plan="premium", region="eu", event_id="open") -> Event:
    return Event(t, OPENED, event_id, severity, plan, region)


def response(t: datetime, event_id="resp", next_update_at: datetime | None = None) -> Event:
    return Event(t, RESPONSE, event_id, next_update_at=next_update_at)


def update(
    t: datetime,
    event_id: str,
    status="ongoing",
    public=True,
    severity=None,
    next_update_at: datetime | None = None,
) -> Event:
    return Event(t, UPDATE, event_id, severity=severity, status=status, public=public, next_update_at=next_update_at)


def run(
    events: list[Event],
    until: datetime | None = None,
    policy: Policy | None = None,
    arrival_order: bool = False,
    ticket_id: str = "T-1",
    settings: EngineSettings | None = None,
) -> ReplayResult:
    engine = TicketEngine(policy or Policy(), settings)
    return replay([(ticket_id, e) for e in events], engine, arrival_order=arrival_order, until=until)


def kinds(result: ReplayResult) -> list[tuple]:
    """(type, due, fired, count) of each output, in emission order."""
    return [
        (o.type.removeprefix("sla."), o.due_at, o.fired_at, getattr(o, "overdue_count", 0))
        for o in result.outputs
    ]
