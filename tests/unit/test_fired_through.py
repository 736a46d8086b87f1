"""States fired by ticks are kept out of the changelog; a new owner brings them forward to the partition's
fired-through instant: it emits what the old owner would have emitted from there on, and nothing it emitted."""

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.domain.policy import Policy
from worker.domain.timers import EngineSettings, TicketEngine
from worker.service.staged_store import StagedStore
from worker.service.timer_service import NEVER, ServiceSettings, TimerService

from tests.unit.builders import at

ENGINE_SETTINGS = EngineSettings(orphan_ttl=timedelta(hours=2), closed_retention=timedelta(hours=3))
TICK = timedelta(minutes=7)


class Table(dict):
    """A faust table in miniature: every write and deletion also goes to its changelog."""

    def __init__(self) -> None:
        super().__init__()
        self.changelog: dict = {}

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.changelog[key] = value

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self.changelog.pop(key, None)


class Worker:
    """A service on a table, applying writes as the runtime does: ticks' unlogged, inputs' logged."""

    def __init__(self, table: Table, fired_through=None) -> None:
        self.table = table
        self.store = StagedStore(table, lambda key, value: dict.__setitem__(table, key, value))
        self.service = TimerService(TicketEngine(Policy(), ENGINE_SETTINGS), self.store, ServiceSettings())
        self.service.assign({0}, fired_through)
        self.ids: list[str] = []

    def input(self, event: dict, now) -> None:
        raw = json.dumps(event).encode()
        handled = self.service.on_input(event["stream"], "in", 0, 0, event["ticket_id"].encode(), raw, now)
        assert handled.rejection is None, handled.rejection
        self.store.apply()
        self.ids += [json.loads(r.value)["id"] for r in handled.records]

    def tick(self, now) -> None:
        records = self.service.on_tick(0, now, caught_up=True)
        self.store.apply(unlogged=True)
        self.ids += [json.loads(r.value)["id"] for r in records]


@st.composite
def streams(draw):
    """A few tickets' events in arrival order, each at a minute of a 10-hour day (Monday, 09:00 UTC on)."""
    events = []
    for n in range(draw(st.integers(1, 4))):
        ticket = f"T-{n}"
        start = draw(st.integers(0, 300))
        events.append((start, {"stream": "opened", "type": "incident.opened", "ticket_id": ticket,
                               "severity": draw(st.sampled_from(["S1", "S2", "S3"])),
                               "plan": draw(st.sampled_from(["premium", "standard"])),
                               "region": draw(st.sampled_from(["eu", "us"]))}))
        if draw(st.booleans()):
            events.append((start + draw(st.integers(1, 120)), {"stream": "responses", "type": "incident.response",
                                                               "ticket_id": ticket}))
        for i in range(draw(st.integers(0, 3))):
            events.append((start + draw(st.integers(-20, 400)), {
                "stream": "updates", "type": "incident.update", "ticket_id": ticket,
                "status": draw(st.sampled_from(["ongoing", "ongoing", "resolved"])), "public": draw(st.booleans()),
                "severity": draw(st.none() | st.sampled_from(["S1", "S2"]))}))
    events.sort(key=lambda e: e[0])
    for i, (minute, event) in enumerate(events):
        event.update(event_id=f"e{i}", occurred_at=at(minute).isoformat())
    return events


def run(worker: Worker, events, start: int, end: int) -> None:
    """The events of minutes [start, end) as they happen, and the ticks (every TICK from minute 0) among them."""
    ticks = [(k * TICK.total_seconds() / 60, None) for k in range(1, int(end * 60 / TICK.total_seconds()) + 1)]
    for minute, event in sorted(ticks + events, key=lambda action: (action[0], action[1] is not None)):
        if not start <= minute < end:
            continue
        if event is None:
            worker.tick(at(minute))
        else:
            worker.input(event, at(minute))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=streams(), crash=st.integers(0, 900))
def test_a_new_owner_emits_exactly_what_the_old_one_would_have(events, crash):
    end = 1200
    whole = Worker(Table())
    run(whole, events, 0, end)

    before = Worker(Table())
    run(before, events, 0, crash)
    logged = Table()
    logged.update(before.table.changelog)
    after = Worker(logged, {0: before.service.fired_through(0)})
    run(after, events, crash, end)

    assert len(set(whole.ids)) == len(whole.ids)
    assert before.ids + after.ids == whole.ids


def test_ticks_write_fired_tickets_without_a_changelog_record_and_inputs_with_one():
    worker = Worker(Table())
    opened = {"stream": "opened", "type": "incident.opened", "ticket_id": "T-1", "event_id": "e1",
              "occurred_at": at(0).isoformat(), "severity": "S1", "plan": "premium", "region": "eu"}
    worker.input(opened, at(0))
    logged_at_opening = worker.table.changelog["T-1"]
    worker.tick(at(21))  # premium S1: response due at 20 min
    assert len(worker.ids) == 1, "the breach"
    assert worker.table["T-1"] is not logged_at_opening and worker.table.changelog["T-1"] is logged_at_opening
    assert worker.service.fired_through(0) == at(21)


def test_without_a_fired_through_instant_a_new_owner_fires_the_logged_states_again_under_the_same_ids():
    worker = Worker(Table())
    opened = {"stream": "opened", "type": "incident.opened", "ticket_id": "T-1", "event_id": "e1",
              "occurred_at": at(0).isoformat(), "severity": "S1", "plan": "premium", "region": "eu"}
    worker.input(opened, at(0))
    worker.tick(at(21))
    logged = Table()
    logged.update(worker.table.changelog)
    again = Worker(logged)
    assert again.service.fired_through(0) == NEVER
    again.tick(at(22))
    assert again.ids == worker.ids
