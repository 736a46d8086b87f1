"""A ticket's timeline: every SLA fact that follows from its events up to a horizon.

The timeline is a pure function of the *set* of known events and the horizon,
never of their arrival order: events are applied in occurred-at order (ties:
opened, response, update, then event id), and between two events every timer
due strictly before the next one fires. That is what makes replay in any order
give the same facts (SPEC 3), and an event at exactly a due instant in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from worker.domain.policy import Policy

OPENED, RESPONSE, UPDATE = 0, 1, 2
CLOSING_STATUSES = frozenset({"resolved", "closed"})

# Fact kinds (the output types without their "sla." prefix).
BREACHED = "response_breached"
RESPONDED_LATE = "responded_after_breach"
OVERDUE = "update_overdue"
CLEARED = "update_overdue_cleared"


@dataclass(frozen=True, slots=True)
class Event:
    """The part of an input event the timers need, with times in UTC."""

    at: datetime
    kind: int  # OPENED, RESPONSE or UPDATE
    event_id: str
    severity: str | None = None  # opened: initial severity; update: new severity
    plan: str | None = None  # opened only
    region: str | None = None  # opened only
    status: str | None = None  # update only
    public: bool = True  # update only; a response always communicates
    next_update_at: datetime | None = None  # stated next update, absolute

    @property
    def order(self) -> tuple[datetime, int, str]:
        return (self.at, self.kind, self.event_id)


@dataclass(frozen=True, slots=True)
class Fact:
    """One SLA fact. ``due`` is the instant the fact is about, ``fired`` when it happened."""

    kind: str
    due: datetime
    fired: datetime
    severity: str
    count: int = 0  # overdue reminders: 1, 2, ...; cleared: the count reached
    detail: str | None = None  # overdue: due_source; cleared: reason


@dataclass(slots=True)
class _Episode:
    """An update-overdue episode: one missed due instant and its reminders."""

    due: datetime
    source: str
    count: int
    next_at: datetime


@dataclass(slots=True)
class Timeline:
    plan: str
    region: str
    severity: str
    facts: list[Fact] = field(default_factory=list)
    response: str = "pending"  # pending, met, breached, late, settled (closed before any response)
    closed: bool = False
    next_at: datetime | None = None  # earliest fact instant after the horizon


class _Simulation:
    def __init__(self, policy: Policy, opened: Event) -> None:
        self.policy = policy
        self.opened_at = opened.at
        self.plan = opened.plan or "standard"
        self.region = opened.region or policy.default_region
        self.severity = opened.severity or "S4"
        self.facts: list[Fact] = []
        self.response = "pending"
        self.response_due = self._add(self.severity, self.opened_at, self._target().response)
        self.response_timer = self.response_due  # later than response_due after a late severity change
        self.closed = False
        self.cadence_started = False
        self.cadence_due: datetime | None = None
        self.cadence_source = "cadence"
        self.episode: _Episode | None = None

    # -- policy lookups ----------------------------------------------------
    def _target(self, severity: str | None = None):
        return self.policy.target(self.plan, severity or self.severity)

    def _add(self, severity: str, start: datetime, duration: timedelta) -> datetime:
        return self.policy.calendar(severity, self.region).add(start, duration)

    def _next_cadence_due(self, start: datetime) -> datetime | None:
        every = self._target().update_every
        return None if every is None else self._add(self.severity, start, every)

    # -- timers ------------------------------------------------------------
    def next_timer(self) -> datetime | None:
        if self.closed:
            return None
        candidates = []
        if self.response == "pending":
            candidates.append(self.response_timer)
        if self.episode is not None:
            candidates.append(self.episode.next_at)
        elif self.cadence_due is not None:
            candidates.append(self.cadence_due)
        return min(candidates) if candidates else None

    def run_timers(self, until: datetime, inclusive: bool) -> None:
        """Fire every timer due before ``until`` (or at it, when inclusive)."""
        while (at := self.next_timer()) is not None and (at < until or (inclusive and at == until)):
            self._fire(at)

    def _fire(self, at: datetime) -> None:
        if self.response == "pending" and self.response_timer == at:
            self.response = "breached"
            self.facts.append(Fact(BREACHED, self.response_due, at, self.severity))
        if self.episode is not None and self.episode.next_at == at:
            episode = self.episode
            episode.count += 1
            next_at = self._next_cadence_due(at)
            assert next_at is not None, "an episode only runs while the severity has a cadence"
            episode.next_at = next_at
            self.facts.append(Fact(OVERDUE, episode.due, at, self.severity, episode.count, episode.source))
        elif self.episode is None and self.cadence_due == at:
            self.episode = _Episode(at, self.cadence_source, 0, at)
            self.cadence_due = None
            self._fire(at)

    # -- events ------------------------------------------------------------
    def apply(self, at: datetime, event: Event) -> None:
        if event.kind == RESPONSE:
            self._respond(at)
            if not self.closed:
                self._communicate(at, event, "update")
            return
        communicates = event.public and event.status == "ongoing" and not self.closed
        if event.severity is not None and event.severity != self.severity:
            self._change_severity(at, event.severity, communicates)
        if event.status in CLOSING_STATUSES:
            self._close(at)
        elif self.closed:
            self._reopen(at, event)
        elif communicates:
            self._communicate(at, event, "update")

    def _respond(self, at: datetime) -> None:
        if self.response == "pending" and not self.closed:
            self.response = "met"  # every timer before `at` has fired, so at <= due
        elif self.response == "breached":
            self.response = "late"
            self.facts.append(Fact(RESPONDED_LATE, self.response_due, at, self.severity))

    def _clear_episode(self, at: datetime, reason: str) -> None:
        if self.episode is not None:
            self.facts.append(Fact(CLEARED, self.episode.due, at, self.severity, self.episode.count, reason))
            self.episode = None

    def _communicate(self, at: datetime, event: Event, reason: str) -> None:
        self._clear_episode(at, reason)
        self.cadence_started = True
        stated = event.next_update_at if event.public else None
        cadence_due = self._next_cadence_due(at)
        if cadence_due is None:
            self.cadence_due = None  # this severity has no cadence: stated times are not timed
        elif stated is not None and stated > at:
            self.cadence_due, self.cadence_source = stated, "stated"
        else:
            self.cadence_due, self.cadence_source = cadence_due, "cadence"

    def _close(self, at: datetime) -> None:
        if self.closed:
            return
        if self.response == "pending":
            self.response = "settled"
        self._clear_episode(at, "resolved")
        self.cadence_due = None
        self.closed = True

    def _reopen(self, at: datetime, event: Event) -> None:
        # The cadence restarts from the reopening; the response target is not re-armed.
        self.closed = False
        self._communicate(at, event, "update")

    def _change_severity(self, at: datetime, severity: str, communicates: bool) -> None:
        self.severity = severity
        if self.response == "pending" and not self.closed:
            target = self._target().response
            if self.policy.severity_change == "recompute_from_open":
                due = self._add(severity, self.opened_at, target)
            else:  # restart_at_change
                due = min(self.response_due, self._add(severity, at, target))
            self.response_due = due
            self.response_timer = max(due, at)  # already past: the breach instant is the change
        if self.cadence_started and not self.closed:
            next_due = self._next_cadence_due(at)
            if communicates:
                reason = "update"
            else:
                reason = "cadence_stopped" if next_due is None else "rescheduled"
            self._clear_episode(at, reason)
            self.cadence_due, self.cadence_source = next_due, "cadence"


def build_timeline(events: list[Event] | tuple[Event, ...], policy: Policy, horizon: datetime) -> Timeline | None:
    """Every fact with ``fired <= horizon`` and the next instant after it; None without an opened event.

    ``events`` must be sorted by ``Event.order``. Events before the opened time
    count as at the opened time (a response earlier than the opening is on time).
    """
    opened = next((e for e in events if e.kind == OPENED), None)
    if opened is None:
        return None
    simulation = _Simulation(policy, opened)
    start = opened.at
    others = [e for e in events if e.kind != OPENED]
    if others and others[0].at < start:
        others.sort(key=lambda e: (max(e.at, start), e.kind, e.event_id))
    for event in others:
        at = max(event.at, start)
        simulation.run_timers(at, inclusive=False)
        simulation.apply(at, event)
    simulation.run_timers(horizon, inclusive=True)

    facts = simulation.facts
    later = [f.fired for f in facts if f.fired > horizon]
    pending = simulation.next_timer()
    if pending is not None:
        later.append(pending)
    return Timeline(
        plan=simulation.plan,
        region=simulation.region,
        severity=simulation.severity,
        facts=[f for f in facts if f.fired <= horizon],
        response=simulation.response,
        closed=simulation.closed,
        next_at=min(later) if later else None,
    )
