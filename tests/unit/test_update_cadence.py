"""SPEC 3.3: the ongoing-update cadence (premium S1 by default)."""

from datetime import timedelta

from worker.domain.policy import Policy, parse_policy

from tests.unit.builders import at, kinds, opened, response, run, update


def premium_cadence(severity: str, every: str):
    """The default policy, with an update cadence for one more premium severity."""
    plans = Policy().model_dump(mode="json")["plans"]
    plans["premium"][severity]["update_every"] = every
    return parse_policy({"plans": plans})


def overdue_and_cleared(result):
    return [(k, due, fired, n) for (k, due, fired, n) in kinds(result) if "overdue" in k]


def test_cadence_reminders_then_cleared_by_update():
    events = [opened(), response(at(10)), update(at(80), "u1")]
    result = run(events, until=at(100))
    assert overdue_and_cleared(result) == [
        ("update_overdue", at(40), at(40), 1),
        ("update_overdue", at(40), at(70), 2),
        ("update_overdue_cleared", at(40), at(80), 2),
    ]
    assert [o.due_source for o in result.outputs if o.type == "sla.update_overdue"] == ["cadence", "cadence"]
    assert result.outputs[-1].reason == "update"


def test_update_at_exactly_due_is_in_time():
    result = run([opened(), response(at(10)), update(at(40), "u1"), update(at(70), "u2")], until=at(99))
    assert overdue_and_cleared(result) == []


def test_internal_update_is_not_a_communication():
    result = run([opened(), response(at(10)), update(at(30), "u1", public=False)], until=at(45))
    assert overdue_and_cleared(result) == [("update_overdue", at(40), at(40), 1)]


def test_stated_next_update_longer_than_cadence():
    events = [opened(), response(at(10), next_update_at=at(130))]
    result = run(events, until=at(170))
    assert overdue_and_cleared(result) == [
        ("update_overdue", at(130), at(130), 1),
        ("update_overdue", at(130), at(160), 2),
    ]
    assert {o.due_source for o in result.outputs if o.type == "sla.update_overdue"} == {"stated"}


def test_stated_next_update_shorter_than_cadence():
    events = [opened(), response(at(10)), update(at(15), "u1", next_update_at=at(25))]
    result = run(events, until=at(30))
    assert overdue_and_cleared(result) == [("update_overdue", at(25), at(25), 1)]


def test_cadence_starts_at_first_communication_even_before_response():
    # A public update counts as a communication; the response is still pending.
    result = run([opened(), update(at(5), "u1")], until=at(36))
    assert ("update_overdue", at(35), at(35), 1) in overdue_and_cleared(result)


def test_no_cadence_without_any_communication():
    result = run([opened(severity="S1")], until=at(300))
    assert overdue_and_cleared(result) == []


def test_standard_plan_has_no_cadence():
    result = run([opened(plan="standard"), response(at(5))], until=at(500))
    assert overdue_and_cleared(result) == []


def test_resolution_stops_every_timer_and_clears():
    events = [opened(), response(at(10)), update(at(50), "u1", status="resolved")]
    result = run(events, until=at(500))
    assert overdue_and_cleared(result) == [
        ("update_overdue", at(40), at(40), 1),
        ("update_overdue_cleared", at(40), at(50), 1),
    ]
    assert result.outputs[-1].reason == "resolved"


def test_reopen_restarts_cadence_from_reopening_but_not_response_target():
    events = [
        opened(),
        update(at(5), "u1", status="resolved"),  # before any response: target settled
        update(at(100), "u2", status="ongoing"),  # reopened
    ]
    result = run(events, until=at(131))
    assert overdue_and_cleared(result) == [("update_overdue", at(130), at(130), 1)]
    assert [k for k in kinds(result) if "breach" in k[0]] == []


def test_severity_change_to_no_cadence_stops_it_with_cleared():
    events = [opened(), response(at(10)), update(at(45), "u1", severity="S2", public=False)]
    result = run(events, until=at(300))
    assert overdue_and_cleared(result) == [
        ("update_overdue", at(40), at(40), 1),
        ("update_overdue_cleared", at(40), at(45), 1),
    ]
    assert result.outputs[-1].reason == "cadence_stopped"


def test_severity_change_reanchors_started_cadence_at_change():
    # S2 has no cadence; the response starts the cadence (none applies); raised to S1 at +50.
    events = [opened(severity="S2"), response(at(10)), update(at(50), "u1", severity="S1", public=False)]
    result = run(events, until=at(81))
    assert overdue_and_cleared(result) == [("update_overdue", at(80), at(80), 1)]


def test_severity_change_before_first_communication_only_chooses_cadence():
    events = [opened(severity="S2"), update(at(5), "u1", severity="S1", public=False), response(at(10))]
    result = run(events, until=at(41))
    assert overdue_and_cleared(result) == [("update_overdue", at(40), at(40), 1)]


def test_overdue_during_episode_rescheduled_by_severity_change_to_other_cadence():
    policy = premium_cadence("S2", "PT60M")
    events = [opened(), response(at(10)), update(at(45), "u1", severity="S2", public=False)]
    result = run(events, until=at(106), policy=policy)
    assert overdue_and_cleared(result) == [
        ("update_overdue", at(40), at(40), 1),
        ("update_overdue_cleared", at(40), at(45), 1),
        ("update_overdue", at(105), at(105), 1),
    ]
    assert result.outputs[1].reason == "rescheduled"


def test_reminder_ids_differ_by_count_and_repeat_on_replay():
    events = [opened(), response(at(10))]
    first = [o.id for o in run(events, until=at(200)).outputs]
    assert len(first) == len(set(first)) == 6  # reminders at 40, 70, ..., 190
    assert first == [o.id for o in run(events, until=at(200)).outputs]


def test_cadence_in_support_hours_counts_only_open_time():
    # Give S3 a 2-hour cadence; S3 counts support hours (Mon-Fri in Berlin).
    policy = premium_cadence("S3", "PT2H")
    from datetime import datetime, timezone
    friday_2230_berlin = datetime(2026, 3, 6, 21, 30, tzinfo=timezone.utc)
    events = [opened(friday_2230_berlin, severity="S3"), response(friday_2230_berlin + timedelta(minutes=1))]
    result = run(events, until=friday_2230_berlin + timedelta(days=3), policy=policy)
    first = next(o for o in result.outputs if o.type == "sla.update_overdue")
    # 89 minutes left on Friday, 31 more from Monday 00:00 Berlin (Sunday 23:00 UTC).
    assert first.due_at == datetime(2026, 3, 8, 23, 31, tzinfo=timezone.utc)


def test_a_month_of_reminders_is_one_fact_and_every_reminder_is_emitted():
    from worker.domain.policy import Policy
    from worker.domain.timeline import OVERDUE, build_timeline

    events = [opened(), response(at(10))]
    horizon = at(10 + 30 * 24 * 60)
    timeline = build_timeline(events, Policy(), horizon)
    runs = [f for f in timeline.facts if f.kind == OVERDUE]
    assert len(runs) == 1 and (runs[0].first, runs[0].count) == (1, 1440)
    outputs = [o for o in run(events, until=horizon).outputs if o.type == "sla.update_overdue"]
    assert [o.overdue_count for o in outputs] == list(range(1, 1441))
    assert outputs[-1].fired_at == at(40 + 1439 * 30)
    assert len({o.id for o in outputs}) == 1440


def test_a_run_of_reminders_is_cut_at_the_horizon_when_a_later_event_is_known():
    from worker.domain.policy import Policy
    from worker.domain.timeline import OVERDUE, build_timeline

    # An internal update far ahead (clock skew) must not let reminders past the horizon out.
    events = [opened(), response(at(10)), update(at(300), "u1", public=False)]
    timeline = build_timeline(events, Policy(), at(100))
    runs = [f for f in timeline.facts if f.kind == OVERDUE]
    assert [(f.first, f.count, f.fired) for f in runs] == [(1, 3, at(100))]
    assert timeline.next_at == at(130)
