"""The live worker's logic per input partition, independent of faust.

For each owned partition it keeps a due-time heap of its tickets and a
*horizon*: the latest instant up to which facts may be emitted. The runtime
calls ``on_input`` for each input record and ``on_tick`` for each periodic tick
of a partition, telling whether the partition's inputs were read to their end
(SPEC 5). Ticket state lives in a dict-like store (the changelog-backed table),
written during the same call that produces the outputs.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, MutableMapping
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from worker.decoding import Rejection, decode_event
from worker.domain import state_codec
from worker.domain.policy import Policy
from worker.domain.timers import OutputMessage, Step, TicketEngine, TicketState
from worker.messages import IncidentOpened, IncidentResponse, IncidentUpdate, InputEvent
from worker.service.records import Record, dead_letter_record, output_record

NEVER = datetime.min.replace(tzinfo=timezone.utc)
EXPECTED_TYPE = {"opened": IncidentOpened, "responses": IncidentResponse, "updates": IncidentUpdate}


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    catch_up_bound: timedelta = timedelta(seconds=30)
    """While inputs are behind, timers more than this overdue fire anyway, marked as lagging."""
    max_future_skew: timedelta = timedelta(minutes=5)
    max_event_bytes: int = 256 * 1024


@dataclass(slots=True)
class PartitionClock:
    heap: list[tuple[datetime, str]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # TIMER_KINDS codes, and "h": orphan events held
    horizon: datetime = NEVER
    caught_up_at: datetime = NEVER
    lagging: bool = False


class Observer(Protocol):
    """What the service reports as it goes: metrics, or a tally in tests."""

    def received(self, topic: str, event_type: str) -> None: ...
    def rejected(self, reason: str) -> None: ...
    def duplicate(self) -> None: ...
    def emitted(self, output: OutputMessage, lagging: bool) -> None: ...
    def orphans_dropped(self, events: int) -> None: ...
    def open_timers(self, counts: dict[str, int], held_events: int) -> None: ...


TIMER_KINDS = {"r": "response", "u": "update", "o": "orphan"}


TimerEntry = tuple[str, int, str, int, "datetime | None"]
"""What the due heaps need of a stored ticket: its id, partition, timer kinds, held count and due time."""


@dataclass(frozen=True, slots=True)
class PartitionTimers:
    """A partition's due heap and timer counts, as ``timers`` hands them out and ``assign`` takes them back.

    The heap may hold stale entries (a ticket's earlier due times, deleted
    tickets), as a running service's does: firing skips them.
    """

    heap: list[tuple[datetime, str]]
    counts: dict[str, int]

    def before(self, changes: Iterable[tuple[str, StoredTicket | None, StoredTicket | None]]) -> PartitionTimers:
        """These timers as they stand for a store that lacks ``changes``: (ticket id, the version the store
        holds, the version these timers count) for each ticket changed since, None where there is none.

        The stored versions' due times join the heap; the entries of the
        versions counted stay, stale, as firing skips them.
        """
        heap, counts = list(self.heap), Counter(self.counts)
        for ticket_id, stored, counted in changes:
            _recount(counts, _timers_of(counted), _timers_of(stored))
            if stored is not None and stored.due is not None:
                heapq.heappush(heap, (stored.due, ticket_id))
        return PartitionTimers(heap, {code: count for code, count in counts.items() if count})


@dataclass(slots=True)
class Counters:
    """An Observer that tallies, for tests and for callers without metrics."""

    accepted_events: int = 0  # received and valid (duplicates included)
    duplicates: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    fired_lagging: int = 0
    dropped_orphans: int = 0
    timers: dict[str, int] = field(default_factory=dict)
    held_events: int = 0

    def received(self, topic: str, event_type: str) -> None:
        self.accepted_events += event_type != "rejected"

    def rejected(self, reason: str) -> None:
        self.rejections[reason] = self.rejections.get(reason, 0) + 1

    def duplicate(self) -> None:
        self.duplicates += 1

    def emitted(self, output: OutputMessage, lagging: bool) -> None:
        self.outputs[output.type] = self.outputs.get(output.type, 0) + 1
        self.fired_lagging += lagging

    def orphans_dropped(self, events: int) -> None:
        self.dropped_orphans += events

    def open_timers(self, counts: dict[str, int], held_events: int) -> None:
        self.timers = dict(counts)
        self.held_events = held_events


class StoredTicket:
    """A ticket as kept in the state store: its state plus what the service needs without decoding it.

    A ticket read back from the changelog may keep its state encoded (``encoded``)
    until the state is first read: rebuilding the due heaps after a restart needs
    only ``due``, and decoding every state took most of a restart at a million
    tickets (BENCHMARKS.md). Treated as immutable: a change is a new StoredTicket.
    """

    __slots__ = ("partition", "kinds", "held", "due", "_state")

    def __init__(self, partition: int, kinds: str, held: int, state: TicketState) -> None:
        self.partition = partition
        self.kinds = kinds  # codes of TIMER_KINDS held by the ticket
        self.held = held  # events held while the opened event is missing
        self.due = state.due  # the state's next due time
        self._state: TicketState | bytes = state

    @classmethod
    def encoded(cls, partition: int, kinds: str, held: int, due: datetime | None, state: bytes) -> StoredTicket:
        """A ticket whose state is ``state_codec`` bytes, decoded when first read; ``due`` is the state's."""
        stored = cls.__new__(cls)
        stored.partition, stored.kinds, stored.held, stored.due, stored._state = partition, kinds, held, due, state
        return stored

    @property
    def state(self) -> TicketState:
        state = self._state
        if state.__class__ is bytes:
            state = self._state = state_codec.loads(state)  # type: ignore[arg-type]
        return state  # type: ignore[return-value]

    @property
    def encoded_state(self) -> bytes | None:
        """The state's ``state_codec`` bytes while it has not been decoded; else None."""
        state = self._state
        return state if state.__class__ is bytes else None  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredTicket):
            return NotImplemented
        return (self.partition, self.kinds, self.held, self.due, self.state) == (
            other.partition, other.kinds, other.held, other.due, other.state)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StoredTicket({self.partition!r}, {self.kinds!r}, {self.held!r}, {self.state!r})"


@dataclass(frozen=True, slots=True)
class Handled:
    """What became of one input record."""

    records: list[Record]
    event: InputEvent | None = None  # the valid event (None when rejected)
    rejection: Rejection | None = None
    duplicate: bool = False


class TimerService:
    def __init__(
        self,
        engine: TicketEngine,
        store: MutableMapping[str, StoredTicket],
        settings: ServiceSettings | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.engine = engine
        self.policy: Policy = engine.policy
        self.store = store
        self.settings = settings or ServiceSettings()
        self.observer: Observer = observer or Counters()
        self.partitions: dict[int, PartitionClock] = {}
        self.timer_counts: Counter[str] = Counter()  # the sum of the partitions' counts
        self._timers_changed = False

    # -- ownership -----------------------------------------------------------
    def assign(self, partitions: set[int], restored: Mapping[int, PartitionTimers] | None = None,
               entries: Iterable[TimerEntry] | None = None) -> None:
        """Own exactly these partitions; rebuild their due heaps from the store, except those ``restored``.

        ``restored`` holds what ``timers`` gave for some partitions when the store
        last held exactly what it holds now (saved at a graceful stop): at a
        million tickets, reading every ticket back is most of a restart.
        ``entries``, when given, lists the store's tickets of the other
        partitions (see TimerEntry) for a store that can do so more cheaply
        than its items. Call after the store has finished recovering (never on
        the bare assignment signal).
        """
        restored = {p: timers for p, timers in (restored or {}).items() if p in partitions}
        self.partitions = clocks = {p: PartitionClock() for p in partitions}
        for partition, timers in restored.items():
            clocks[partition] = PartitionClock(timers.heap, Counter(timers.counts))
        if len(restored) < len(partitions):
            if entries is None:
                entries = ((ticket_id, stored.partition, stored.kinds, stored.held, stored.due)
                           for ticket_id, stored in self.store.items())
            self._rebuild({p: clock for p, clock in clocks.items() if p not in restored}, entries)
        self.timer_counts = Counter()
        for clock in clocks.values():
            self.timer_counts.update(clock.counts)
        self._timers_changed = True
        self._report_timers()

    @staticmethod
    def _rebuild(clocks: dict[int, PartitionClock], entries: Iterable[TimerEntry]) -> None:
        """Fill these partitions' heaps and counts from the store's tickets."""
        tickets_by_kinds: dict[int, dict[str, int]] = {p: {} for p in clocks}  # a few distinct values: counted
        held_by_partition: dict[int, int] = dict.fromkeys(clocks, 0)  # once each, not per ticket
        for ticket_id, partition, kinds, held, due in entries:
            clock = clocks.get(partition)
            if clock is None:
                continue
            if due is not None:
                clock.heap.append((due, ticket_id))
            tally = tickets_by_kinds[partition]
            tally[kinds] = tally.get(kinds, 0) + 1
            held_by_partition[partition] += held
        for partition, clock in clocks.items():
            heapq.heapify(clock.heap)
            clock.counts["h"] = held_by_partition[partition]
            for kinds, tickets in tickets_by_kinds[partition].items():
                for code in kinds:
                    clock.counts[code] += tickets

    def timers(self, partition: int) -> PartitionTimers:
        """The partition's due heap (itself, not a copy) and timer counts, for ``assign`` to restore."""
        clock = self._clock(partition)
        return PartitionTimers(clock.heap, {code: count for code, count in clock.counts.items() if count})

    def pending(self, partition: int) -> int:
        clock = self.partitions.get(partition)
        return len(clock.heap) if clock else 0

    def may_fire_by(self, partition: int, instant: datetime) -> bool:
        """Whether a tick of ``partition`` at ``instant`` may have a timer to fire (True until it is owned)."""
        clock = self.partitions.get(partition)
        return clock is None or bool(clock.heap) and clock.heap[0][0] <= instant

    # -- input -----------------------------------------------------------------
    def on_input(
        self, stream: str, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes, now: datetime
    ) -> Handled:
        """One input record from ``stream`` ('opened', 'responses' or 'updates')."""
        decoded = decode_event(raw, self.policy, now, self.settings.max_future_skew, self.settings.max_event_bytes)
        if not isinstance(decoded, Rejection):
            decoded = self._check_routing(decoded, stream, key)
        if isinstance(decoded, Rejection):
            self.observer.received(topic, "rejected")
            self.observer.rejected(decoded.reason)
            record = dead_letter_record(key, raw, decoded.reason, decoded.detail, topic, partition, offset)
            return Handled([record], rejection=decoded)
        clock = self._clock(partition)
        stored = self.store.get(decoded.ticket_id)
        step = self.engine.apply(
            stored.state if stored else None, decoded, now, horizon=clock.horizon, lagging=clock.lagging
        )
        self.observer.received(topic, decoded.type)
        if step.duplicate:
            self.observer.duplicate()
            return Handled([], decoded, duplicate=True)
        records = self._commit(partition, decoded.ticket_id, step, stored, old_due_queued=True)
        self._report_timers()
        return Handled(records, decoded)

    def _check_routing(self, event, stream: str, key: bytes | None):
        expected = EXPECTED_TYPE[stream]
        if not isinstance(event, expected):
            return Rejection("wrong_topic", f"{event.type} event on the {stream} topic")
        if key is None or key.decode("utf-8", "replace") != event.ticket_id:
            return Rejection(
                "key_mismatch",
                f"record key {key!r} is not the ticket id {event.ticket_id!r}: inputs must be keyed by ticket id",
            )
        return event

    # -- time ------------------------------------------------------------------
    def on_tick(
        self, partition: int, now: datetime, caught_up: bool, as_of: datetime | None = None
    ) -> list[Record]:
        """Fire the partition's due timers up to its horizon (SPEC 5): ``advance``, then ``fire`` them all."""
        self.advance(partition, now, caught_up, as_of)
        return self.fire(partition, now)

    def advance(self, partition: int, now: datetime, caught_up: bool, as_of: datetime | None = None) -> None:
        """Move the partition's horizon: the instant up to which its timers may fire.

        ``caught_up`` says the partition's inputs were read up to their end as
        of ``as_of`` (default ``now``): facts up to that instant are safe.
        Otherwise only timers overdue by more than the catch-up bound fire.
        """
        clock = self._clock(partition)
        if caught_up:
            clock.caught_up_at = max(clock.caught_up_at, min(as_of or now, now))
            horizon = clock.caught_up_at
        else:
            horizon = max(clock.caught_up_at, now - self.settings.catch_up_bound)
        clock.lagging = not caught_up
        clock.horizon = max(clock.horizon, horizon)

    def due(self, partition: int) -> bool:
        """Whether the partition has a timer due up to its horizon (``fire`` has work)."""
        clock = self.partitions.get(partition)
        return clock is not None and bool(clock.heap) and clock.heap[0][0] <= clock.horizon

    def fire(self, partition: int, now: datetime, limit: int | None = None) -> list[Record]:
        """Fire the partition's timers due up to its horizon, at most ``limit`` tickets of them.

        Those left stay due: the caller can send these outputs before it fires the rest.
        """
        clock = self._clock(partition)
        records: list[Record] = []
        fired = 0
        while self.due(partition) and (limit is None or fired < limit):
            due, ticket_id = heapq.heappop(clock.heap)
            stored = self.store.get(ticket_id)
            if stored is None or stored.due != due:
                continue  # stale entry: the ticket moved on since
            fired += 1
            step = self.engine.advance(stored.state, now, horizon=clock.horizon, lagging=clock.lagging)
            records.extend(self._commit(partition, ticket_id, step, stored, old_due_queued=False))
        self._report_timers()
        return records

    # -- state -----------------------------------------------------------------
    def _clock(self, partition: int) -> PartitionClock:
        clock = self.partitions.get(partition)
        if clock is None:
            clock = self.partitions[partition] = PartitionClock()
        return clock

    def _commit(
        self, partition: int, ticket_id: str, step: Step, old: StoredTicket | None, old_due_queued: bool
    ) -> list[Record]:
        """Write the ticket's new state, queue its next due time, count its timers, report its outputs."""
        if step.orphans_dropped:
            self.observer.orphans_dropped(step.orphans_dropped)
        clock = self._clock(partition)
        kinds, held = "", 0
        if step.state is None:
            if ticket_id in self.store:
                del self.store[ticket_id]
        else:
            kinds = _timer_kinds(step)
            held = len(step.state.events) if kinds == "o" else 0
            self.store[ticket_id] = StoredTicket(partition, kinds, held, step.state)
            due = step.state.due
            old_due = old.due if old is not None and old_due_queued else None
            if due is not None and due != old_due:
                heapq.heappush(clock.heap, (due, ticket_id))
        old_timers, new_timers = _timers_of(old), (kinds, held)
        if new_timers != old_timers:
            for counts in (clock.counts, self.timer_counts):  # the partition's (see timers), and the total
                _recount(counts, old_timers, new_timers)
            self._timers_changed = True
        lagging = clock.lagging
        for output in step.outputs:
            self.observer.emitted(output, lagging)
        return [output_record(output) for output in step.outputs]

    def _report_timers(self) -> None:
        if self._timers_changed:
            self._timers_changed = False
            counts = {name: self.timer_counts[code] for code, name in TIMER_KINDS.items()}
            self.observer.open_timers(counts, self.timer_counts["h"])


def _recount(counts: Counter[str], old: tuple[str, int], new: tuple[str, int]) -> None:
    """Move a ticket's share of ``counts`` from its old (timer kinds, held events) to its new."""
    (old_kinds, old_held), (kinds, held) = old, new
    for code in old_kinds:  # not Counter.subtract/update: a quarter of their cost, once per fired ticket
        counts[code] -= 1
    for code in kinds:
        counts[code] += 1
    counts["h"] += held - old_held


def _timers_of(stored: StoredTicket | None) -> tuple[str, int]:
    """A stored ticket's (timer kinds, held events); none for no ticket."""
    return ("", 0) if stored is None else (stored.kinds, stored.held)


def _timer_kinds(step: Step) -> str:
    """Which timers a ticket holds, as codes of TIMER_KINDS."""
    timeline = step.timeline
    if timeline is None:
        return "o"
    kinds = ""
    if timeline.response == "pending" and not timeline.closed:
        kinds += "r"
    if timeline.awaiting_update:
        kinds += "u"
    return kinds
