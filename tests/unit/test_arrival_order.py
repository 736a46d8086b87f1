"""SPEC 3 and 6: arrival order, late events, retractions, orphans, duplicates."""

from datetime import timedelta

from worker.domain.policy import Policy
from worker.domain.timers import EngineSettings, TicketEngine, TicketState

from tests.unit.builders import T0, at, kinds, opened, response, run, update

ENGINE = TicketEngine(Policy())


def test_on_time_response_arriving_after_breach_retracts_it():
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    fired = ENGINE.advance(state, now=at(21))
    assert [o.type for o in fired.outputs] == ["sla.response_breached"]
    late = ENGINE.apply(fired.state, response(at(15)), now=at(25))
    assert [o.type for o in late.outputs] == ["sla.response_breach_retracted"]
    assert late.outputs[0].due_at == fired.outputs[0].due_at == at(20)
    # Nothing more to say about it later.
    assert ENGINE.advance(late.state, now=at(26)).outputs == []


def test_late_update_arriving_after_overdue_clears_it_as_retracted():
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    state = ENGINE.apply(state, response(at(10)), now=at(10)).state
    fired = ENGINE.advance(state, now=at(41))
    assert [(o.type, o.overdue_count) for o in fired.outputs] == [("sla.update_overdue", 1)]
    late = ENGINE.apply(fired.state, update(at(35), "u1"), now=at(42))
    assert [(o.type, o.reason) for o in late.outputs] == [("sla.update_overdue_cleared", "retracted")]


def test_detection_lateness_is_measured_from_fired_instant():
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    step = ENGINE.advance(state, now=at(20) + timedelta(seconds=3))
    assert step.outputs[0].lateness_seconds == 3.0
    assert step.outputs[0].detected_at == at(20) + timedelta(seconds=3)


def test_due_tells_when_to_advance():
    step = ENGINE.apply(TicketState("T-1"), opened(), now=at(0))
    assert step.state.due == at(20)
    assert ENGINE.advance(step.state, now=at(19)).outputs == []


def test_response_before_its_opened_event_is_held_then_applied():
    held = ENGINE.apply(TicketState("T-1"), response(at(5)), now=at(6))
    assert held.outputs == [] and held.state.held_since == at(6)
    assert held.state.due == at(6) + EngineSettings().orphan_ttl
    step = ENGINE.apply(held.state, opened(), now=at(7))
    assert step.outputs == [] and step.timeline.response == "met"
    assert step.state.held_since is None


def test_orphans_are_dropped_after_ttl_with_count():
    engine = TicketEngine(Policy(), EngineSettings(orphan_ttl=timedelta(hours=1)))
    state = engine.apply(TicketState("T-1"), response(at(5)), now=at(5)).state
    state = engine.apply(state, update(at(6), "u1"), now=at(6)).state
    assert engine.advance(state, now=at(64)).state is not None
    dropped = engine.advance(state, now=at(65))
    assert dropped.state is None and dropped.orphans_dropped == 2


def test_duplicate_event_ids_apply_once():
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    again = ENGINE.apply(state, opened(), now=at(1))
    assert again.duplicate and again.state is state
    result = run([opened(), response(at(30)), response(at(30))], until=at(59))
    assert result.duplicates == 1
    assert [k[0] for k in kinds(result)] == ["response_breached", "responded_after_breach"]


def test_same_instant_events_apply_opened_response_update_then_event_id():
    # Resolution and response at the same instant as the due: both in time.
    events = [update(at(20), "b", status="resolved"), response(at(20)), opened()]
    assert kinds(run(events, until=at(100), arrival_order=False)) == []
    assert run(events, until=at(100)).tickets["T-1"].response == "met"


def test_closed_ticket_is_forgotten_after_retention():
    engine = TicketEngine(Policy(), EngineSettings(closed_retention=timedelta(days=2)))
    state = engine.apply(TicketState("T-1"), opened(), now=at(0)).state
    step = engine.apply(state, update(at(5), "u1", status="closed"), now=at(5))
    assert step.state.due == at(5) + timedelta(days=2)
    assert engine.advance(step.state, now=at(5) + timedelta(days=2)).state is None


def test_open_ticket_without_pending_timer_is_kept():
    # Responded, standard plan (no cadence), still ongoing: nothing due, nothing dropped.
    state = ENGINE.apply(TicketState("T-1"), opened(plan="standard"), now=at(0)).state
    step = ENGINE.apply(state, response(at(5)), now=at(5))
    assert step.state.due is None
    assert ENGINE.advance(step.state, now=T0 + timedelta(days=365)).state is not None


def test_a_lower_horizon_later_never_retracts_emitted_facts():
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    fired = ENGINE.advance(state, now=at(21))
    assert [o.type for o in fired.outputs] == ["sla.response_breached"]
    # A worker that took over with a horizon still at the start must not retract it.
    step = ENGINE.apply(fired.state, update(at(22), "u1", public=False), now=at(22), horizon=at(0))
    assert step.outputs == []
    assert ENGINE.advance(step.state, now=at(23), horizon=at(1)).outputs == []
