"""The worker's metrics count under the labels they are queried by."""

from datetime import datetime, timedelta, timezone

from worker.adapters.metrics import Metrics
from worker.messages import ResponseBreached

DUE = datetime(2026, 3, 2, 9, 15, tzinfo=timezone.utc)


def _breach(severity: str, plan: str) -> ResponseBreached:
    return ResponseBreached(id="b", ticket_id="T-1", severity=severity, plan=plan, region="eu", due_at=DUE,
                            fired_at=DUE, detected_at=DUE + timedelta(seconds=0.3), lateness_seconds=0.3,
                            detected_while_lagging=False)


def test_outputs_are_counted_by_type_severity_and_plan():
    metrics = Metrics()
    for severity, plan in [("S1", "premium"), ("S1", "premium"), ("S2", "standard")]:
        metrics.emitted(_breach(severity, plan), lagging=False)
    count = lambda **labels: metrics.registry.get_sample_value(  # noqa: E731
        "incident_timer_output_events_total", {"type": "sla.response_breached", **labels})
    assert count(severity="S1", plan="premium") == 2
    assert count(severity="S2", plan="standard") == 1
    assert count(severity="S1", plan="standard") is None
    assert metrics.registry.get_sample_value("incident_timer_fire_delay_seconds_count") == 3


def test_inputs_and_open_timers_are_labelled_by_what_they_count():
    metrics = Metrics()
    metrics.received("incidents", "incident.opened")
    metrics.received("incidents", "incident.opened")
    metrics.open_timers({"response": 4, "update": 1}, held_events=2)
    metrics.open_timers({"response": 3, "update": 1}, held_events=0)
    assert metrics.registry.get_sample_value(
        "incident_timer_input_events_total", {"topic": "incidents", "type": "incident.opened"}) == 2
    assert metrics.registry.get_sample_value("incident_timer_open_timers", {"kind": "response"}) == 3
    assert metrics.registry.get_sample_value("incident_timer_orphan_events_held") == 0
