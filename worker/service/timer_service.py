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
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from worker.decoding import Rejection, decode_event
from worker.domain.policy import Policy
from worker.domain.state_codec import from_micros, state_from_dict, state_to_dict
from worker.domain.timers import Step, TicketEngine, TicketState
from worker.messages import IncidentOpened, IncidentResponse, IncidentUpdate
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
    horizon: datetime = NEVER
    caught_up_at: datetime = NEVER
    lagging: bool = False


@dataclass(slots=True)
class Counters:
    """What happened, for metrics and tests; reset by the caller when read."""

    accepted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    orphans_dropped: int = 0
    fired_lagging: int = 0


class TimerService:
    def __init__(
        self,
        engine: TicketEngine,
        store: MutableMapping[str, dict],
        settings: ServiceSettings | None = None,
    ) -> None:
        self.engine = engine
        self.policy: Policy = engine.policy
        self.store = store
        self.settings = settings or ServiceSettings()
        self.partitions: dict[int, PartitionClock] = {}
        self.counters = Counters()

    # -- ownership -----------------------------------------------------------
    def assign(self, partitions: set[int]) -> None:
        """Own exactly these partitions; rebuild their due heaps from the store.

        Call after the store has finished recovering (never on the bare assignment signal).
        """
        self.partitions = {p: PartitionClock() for p in partitions}
        for ticket_id, value in self.store.items():
            clock = self.partitions.get(value["p"])
            due = value["state"]["d"]
            if clock is not None and due is not None:
                clock.heap.append((from_micros(due), ticket_id))
        for clock in self.partitions.values():
            heapq.heapify(clock.heap)

    def pending(self, partition: int) -> int:
        clock = self.partitions.get(partition)
        return len(clock.heap) if clock else 0

    # -- input -----------------------------------------------------------------
    def on_input(
        self, stream: str, topic: str, partition: int, offset: int, key: bytes | None, raw: bytes, now: datetime
    ) -> list[Record]:
        """One input record from ``stream`` ('opened', 'responses' or 'updates')."""
        decoded = decode_event(raw, self.policy, now, self.settings.max_future_skew, self.settings.max_event_bytes)
        if not isinstance(decoded, Rejection):
            decoded = self._check_routing(decoded, stream, key)
        if isinstance(decoded, Rejection):
            self.counters.rejected[decoded.reason] = self.counters.rejected.get(decoded.reason, 0) + 1
            return [dead_letter_record(key, raw, decoded.reason, decoded.detail, topic, partition, offset)]
        clock = self._clock(partition)
        state = self._load(decoded.ticket_id)
        step = self.engine.apply(state, decoded, now, horizon=clock.horizon, lagging=clock.lagging)
        if step.duplicate:
            self.counters.duplicates += 1
            return []
        self.counters.accepted += 1
        return self._commit(partition, decoded.ticket_id, step, state.due if state else None)

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
        """Fire the partition's due timers up to its horizon (SPEC 5).

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
        records: list[Record] = []
        heap = clock.heap
        while heap and heap[0][0] <= clock.horizon:
            due, ticket_id = heapq.heappop(heap)
            state = self._load(ticket_id)
            if state is None or state.due != due:
                continue  # stale entry: the ticket moved on since
            step = self.engine.advance(state, now, horizon=clock.horizon, lagging=clock.lagging)
            if clock.lagging:
                self.counters.fired_lagging += len(step.outputs)
            records.extend(self._commit(partition, ticket_id, step, None))
        return records

    # -- state -----------------------------------------------------------------
    def _clock(self, partition: int) -> PartitionClock:
        clock = self.partitions.get(partition)
        if clock is None:
            clock = self.partitions[partition] = PartitionClock()
        return clock

    def _load(self, ticket_id: str) -> TicketState | None:
        value = self.store.get(ticket_id)
        return None if value is None else state_from_dict(value["state"])

    def _commit(self, partition: int, ticket_id: str, step: Step, queued_due: datetime | None) -> list[Record]:
        """Write the ticket's new state and queue its next due time (unless already queued)."""
        self.counters.orphans_dropped += step.orphans_dropped
        if step.state is None:
            if ticket_id in self.store:
                del self.store[ticket_id]
        else:
            self.store[ticket_id] = {"p": partition, "state": state_to_dict(step.state)}
            due = step.state.due
            if due is not None and due != queued_due:
                heapq.heappush(self._clock(partition).heap, (due, ticket_id))
        return [output_record(output) for output in step.outputs]
