"""A ticket's timeline: every SLA fact that follows from its events up to a horizon.

The timeline is a pure function of the *set* of known events and the horizon,
never of their arrival order: events are applied in occurred-at order (ties:
opened, response, update, then event id), and between two events every timer
due strictly before the next one fires. That is what makes replay in any order
give the same facts (SPEC 3), and an event at exactly a due instant in time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from worker.domain.policy import Policy
from worker.domain.support_time import Calendar

OPENED, RESPONSE, UPDATE = 0, 1, 2
CLOSING_STATUSES = frozenset({"resolved", "closed"})

# Fact kinds (the output types without their "sla." prefix).
BREACHED = "response_breached"
RESPONDED_LATE = "responded_after_breach"
OVERDUE = "update_overdue"
CLEARED = "update_overdue_cleared"


def shared(text: str | None) -> str | None:
    """One string object per distinct severity, plan, region or status.

    A million open tickets repeat a handful of these values; decoded from JSON
    each would be a string of its own (about 160 bytes per ticket).
    """
    return None if text is None else sys.intern(text)


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
    """One SLA fact. ``due`` is the instant the fact is about, ``fired`` when it happened.

    Overdue reminders come as a run: reminders ``first`` to ``count`` of one
    episode, reminder ``n`` at ``reminder_at(calendar, n)``, ``fired`` being the
    last one's instant. A ticket overdue for a month is one fact, not 1,440.
    """

    kind: str
    due: datetime
    fired: datetime
    severity: str
    count: int = 0  # overdue: the last reminder of the run; cleared: the count reached
    detail: str | None = None  # overdue: due_source; cleared: reason
    first: int = 0  # overdue: the first reminder of the run
    period: timedelta | None = None  # overdue: the cadence between reminders
    first_at: datetime | None = None  # overdue: the first reminder's instant

    @property
    def starts(self) -> datetime:
        return self.first_at or self.fired

    def reminder_at(self, calendar: Calendar, n: int) -> datetime:
        """Instant of overdue reminder ``n`` (1 at the due time, then one every period)."""
        assert self.period is not None
        return calendar.add(self.due, (n - 1) * self.period)


def count_instants(calendar: Calendar, start: datetime, period: timedelta, until: datetime, inclusive: bool) -> int:
    """How many of ``add(start, k * period)``, k = 0, 1, ..., lie before ``until`` (or at it, when inclusive).

    Constant time on 24/7 calendars: no stepping through the instants.
    """
    if start > until or (start == until and not inclusive):
        return 0

    def within(k: int) -> bool:
        t = calendar.add(start, k * period)
        return t < until or (inclusive and t == until)

    n = calendar.elapsed(start, until) // period + 1  # k * period <= elapsed: add(start, k * period) <= until
    while n > 0 and not within(n - 1):
        n -= 1
    return n


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
    awaiting_update: bool = False  # a cadence is running: an update is due or overdue
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
        """Fire every timer due before ``until`` (or at it, when inclusive).

        The response timer and the update cadence are independent of each other,
        so each fires on its own; reminders fire as one run per call.
        """
        def due(at: datetime | None) -> bool:
            return at is not None and (at < until or (inclusive and at == until))

        if self.closed:
            return
        if self.response == "pending" and due(self.response_timer):
            self.response = "breached"
            self.facts.append(Fact(BREACHED, self.response_due, self.response_timer, self.severity))
        if self.episode is None and due(self.cadence_due):
            assert self.cadence_due is not None
            self.episode = _Episode(self.cadence_due, self.cadence_source, 0, self.cadence_due)
            self.cadence_due = None
        if self.episode is not None and due(self.episode.next_at):
            self._fire_reminders(until, inclusive)

    def _fire_reminders(self, until: datetime, inclusive: bool) -> None:
        episode = self.episode
        assert episode is not None
        period = self._target().update_every
        assert period is not None, "an episode only runs while the severity has a cadence"
        calendar = self.policy.calendar(self.severity, self.region)
        count = count_instants(calendar, episode.due, period, until, inclusive)
        run = Fact(OVERDUE, episode.due, episode.due, self.severity, count, episode.source, episode.count + 1, period)
        run = replace(run, fired=run.reminder_at(calendar, count), first_at=episode.next_at)
        self.facts.append(run)
        episode.count = count
        episode.next_at = run.reminder_at(calendar, count + 1)

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

    facts: list[Fact] = []
    later: list[datetime] = []
    for fact in sorted(simulation.facts, key=lambda f: f.starts):
        if fact.fired <= horizon:
            facts.append(fact)
        elif fact.kind != OVERDUE:
            later.append(fact.fired)
        else:  # a run of reminders that straddles the horizon: keep the part up to it
            calendar = policy.calendar(fact.severity, simulation.region)
            upto = count_instants(calendar, fact.due, fact.period, horizon, inclusive=True)
            if upto >= fact.first:
                facts.append(replace(fact, count=upto, fired=fact.reminder_at(calendar, upto)))
            later.append(fact.reminder_at(calendar, max(upto + 1, fact.first)))
    pending = simulation.next_timer()
    if pending is not None:
        later.append(pending)
    return Timeline(
        plan=simulation.plan,
        region=simulation.region,
        severity=simulation.severity,
        facts=facts,
        response=simulation.response,
        closed=simulation.closed,
        awaiting_update=not simulation.closed and (simulation.episode is not None or simulation.cadence_due is not None),
        next_at=min(later) if later else None,
    )
