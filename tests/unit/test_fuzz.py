"""Decoder and engine fuzzing (hypothesis): no input makes an exception escape or corrupts state."""

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.decoding import REASONS, Rejection, decode_event
from worker.domain.policy import Policy
from worker.domain.state_codec import dumps, loads
from worker.domain.timers import TicketEngine
from worker.service.timer_service import TimerService
from worker.settings import STREAM_OF_TYPE

POLICY = Policy()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
FIELDS = ["type", "event_id", "ticket_id", "occurred_at", "severity", "plan", "region", "status", "public",
          "next_update_at", "next_update_in", "title", "responder"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
    st.sampled_from(["incident.opened", "incident.response", "incident.update", "S1", "S4", "S9", "premium",
                     "gold", "eu", "mars", "ongoing", "resolved", "PT2H", "P-1D", "2026-03-02T09:00:00Z",
                     "2026-03-02T09:00:00", "2026-03-02T10:00:00+01:00", "9999-12-31T23:59:59Z", ""]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
OBJECTS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=len(FIELDS))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(st.binary(max_size=300), OBJECTS.map(lambda d: json.dumps(d).encode())))
def test_decoder_never_raises_and_names_a_known_reason(raw):
    result = decode_event(raw, POLICY, NOW)
    if isinstance(result, Rejection):
        assert result.reason in REASONS and result.detail
    else:
        assert result.occurred_at.tzinfo is not None


def _valid_events():
    ticket = st.sampled_from(["T-1", "T-2"])
    moment = st.integers(-600, 6000).map(lambda m: (NOW + timedelta(minutes=m)).isoformat())
    opened = st.fixed_dictionaries({
        "type": st.just("incident.opened"), "event_id": st.text("abc", min_size=1, max_size=3),
        "ticket_id": ticket, "occurred_at": moment, "severity": st.sampled_from(["S1", "S2", "S3", "S4"]),
        "plan": st.sampled_from(["premium", "standard"]), "region": st.sampled_from(["eu", "us", "apac"])})
    response = st.fixed_dictionaries({
        "type": st.just("incident.response"), "event_id": st.text("def", min_size=1, max_size=3),
        "ticket_id": ticket, "occurred_at": moment})
    update = st.fixed_dictionaries({
        "type": st.just("incident.update"), "event_id": st.text("ghi", min_size=1, max_size=3),
        "ticket_id": ticket, "occurred_at": moment, "status": st.sampled_from(["ongoing", "resolved", "closed"]),
        "public": st.booleans()}, optional={
        "severity": st.sampled_from(["S1", "S2", "S3", "S4"]), "next_update_in": st.sampled_from(["PT5M", "PT2H"])})
    return st.lists(st.one_of(opened, response, update), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_valid_events(), ticks=st.lists(st.integers(0, 8000), max_size=5))
def test_engine_and_service_survive_any_event_sequence_and_state_stays_loadable(events, ticks):
    store: dict = {}
    service = TimerService(TicketEngine(POLICY), store)
    service.assign({0})
    for offset, event in enumerate(events):
        raw = json.dumps(event).encode()
        service.on_input(STREAM_OF_TYPE[event["type"]], "t", 0, offset, event["ticket_id"].encode(), raw, NOW + timedelta(days=5))
    for minutes in sorted(ticks):
        service.on_tick(0, NOW + timedelta(minutes=minutes), caught_up=True)
    engine = TicketEngine(POLICY)
    for ticket_id, stored in store.items():
        state = loads(dumps(stored.state))
        assert state == stored.state
        assert state.ticket_id == ticket_id
        assert list(state.events) == sorted(state.events, key=lambda e: e.order)
        assert len({e.event_id for e in state.events}) == len(state.events)
        engine.advance(state, NOW + timedelta(days=30))  # must not raise
    accepted = service.observer.accepted_events
    assert accepted == len(events), "every generated event is valid and must be accepted"
