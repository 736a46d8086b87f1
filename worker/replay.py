"""Offline replay: run the SLA engine over an event file on a simulated clock.

The simulated clock is a perfect worker: every timer is detected exactly at its
due instant, and while the events stamped ``t`` are applied the clock reads just
before ``t`` (so an event at exactly a due instant is in time). With
``arrival_order`` the file order is the arrival order and the clock never goes
back, which shows what late-arriving events do (retractions, lateness).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from worker.decoding import Rejection, decode_event
from worker.domain.policy import Policy
from worker.domain.timeline import Event
from worker.domain.timers import OutputMessage, Step, TicketEngine, TicketState, to_event

JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    raw: bytes
    rejection: Rejection


@dataclass(slots=True)
class TicketSummary:
    plan: str
    severity: str
    response: str


@dataclass(slots=True)
class ReplayResult:
    outputs: list[OutputMessage] = field(default_factory=list)
    tickets: dict[str, TicketSummary] = field(default_factory=dict)
    duplicates: int = 0
    orphans_dropped: int = 0
    events_applied: int = 0


def read_events(lines: Iterable[bytes], policy: Policy) -> Iterator[tuple[str, Event] | BadLine]:
    """Decode JSON lines; yields (ticket id, event) or the bad line with its reason."""
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        decoded = decode_event(raw, policy, now=datetime.max, max_future_skew=None)
        if isinstance(decoded, Rejection):
            yield BadLine(number, raw, decoded)
        else:
            yield decoded.ticket_id, to_event(decoded)


class Replay:
    """Drives a TicketEngine over events with a simulated clock and a due-time heap."""

    def __init__(self, engine: TicketEngine) -> None:
        self.engine = engine
        self.states: dict[str, TicketState] = {}
        self.heap: list[tuple[datetime, str]] = []
        self.result = ReplayResult()

    def _record(self, ticket_id: str, step: Step) -> None:
        result = self.result
        result.outputs.extend(step.outputs)
        result.orphans_dropped += step.orphans_dropped
        if step.timeline is not None:
            tl = step.timeline
            result.tickets[ticket_id] = TicketSummary(tl.plan, tl.severity, tl.response)
        if step.state is None:
            self.states.pop(ticket_id, None)
            return
        self.states[ticket_id] = step.state
        if step.state.due is not None:
            heapq.heappush(self.heap, (step.state.due, ticket_id))

    def advance_to(self, now: datetime) -> None:
        """Fire every ticket's timers due at or before ``now``, each at its own due instant."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            due, ticket_id = heapq.heappop(heap)
            state = self.states.get(ticket_id)
            if state is None or state.due != due:
                continue  # stale heap entry: the ticket moved on
            self._record(ticket_id, self.engine.advance(state, due))

    def apply(self, ticket_id: str, event: Event, now: datetime) -> None:
        step = self.engine.apply(self.states.get(ticket_id) or TicketState(ticket_id), event, now)
        if step.duplicate:
            self.result.duplicates += 1
            return
        self.result.events_applied += 1
        self._record(ticket_id, step)


def replay(
    events: list[tuple[str, Event]],
    engine: TicketEngine,
    arrival_order: bool = False,
    until: datetime | None = None,
) -> ReplayResult:
    """Replay ``events``; the clock ends at ``until`` (default: the latest occurred-at)."""
    if not arrival_order:
        events = sorted(events, key=lambda item: item[1].order)
    run = Replay(engine)
    clock: datetime | None = None
    for ticket_id, event in events:
        now = event.at - JUST_BEFORE
        clock = now if clock is None else max(clock, now)
        run.advance_to(clock)
        run.apply(ticket_id, event, clock)
    latest = max((e.at for _, e in events), default=None)
    end = until or latest
    if end is not None:
        run.advance_to(end)
    return run.result


def summarise(result: ReplayResult) -> str:
    """A table per plan and severity: tickets, response compliance, overdue updates."""
    rows: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for summary in result.tickets.values():
        row = rows[(summary.plan, summary.severity)]
        row["tickets"] += 1
        row[summary.response] += 1
    for output in result.outputs:
        if output.type == "sla.update_overdue":
            rows[(output.plan, output.severity)]["overdue"] += 1
    header = ("plan", "sev", "tickets", "on_time", "breached", "open", "closed_unanswered", "compliance", "overdue_updates")
    lines = [header]
    total: Counter = Counter()
    for (plan, severity), row in sorted(rows.items()):
        total.update(row)
        lines.append(_row(plan, severity, row))
    lines.append(_row("all", "", total))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = "\n".join("  ".join(str(v).rjust(w) for v, w in zip(line, widths)) for line in lines)
    extra = f"\nevents applied: {result.events_applied}, duplicates ignored: {result.duplicates}, " \
            f"orphan events dropped: {result.orphans_dropped}, output events: {len(result.outputs)}"
    return text + extra


def _row(plan: str, severity: str, row: Counter) -> tuple:
    breached = row["breached"] + row["late"]
    decided = row["met"] + breached
    compliance = f"{100.0 * row['met'] / decided:.1f}%" if decided else "-"
    return (plan, severity, row["tickets"], row["met"], breached, row["pending"], row["settled"], compliance, row["overdue"])
