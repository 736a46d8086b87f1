"""SPEC 3.2: the initial response target."""

from datetime import datetime, timedelta

from worker.domain.policy import Policy, parse_policy

from tests.unit.builders import T0, UTC, at, kinds, opened, response, run, update


def test_premium_s1_without_response_breaches_once_at_due():
    result = run([opened(severity="S1")], until=at(600))
    assert kinds(result) == [("response_breached", at(20), at(20), 0)]
    assert result.outputs[0].severity == "S1" and result.outputs[0].plan == "premium"


def test_standard_targets_are_the_slower_column():
    for severity, target in (("S1", 60), ("S2", 180)):
        result = run([opened(severity=severity, plan="standard")], until=at(1000))
        assert kinds(result) == [("response_breached", at(target), at(target), 0)]


def test_response_at_exactly_due_is_on_time():
    result = run([opened(), response(at(20))], until=at(25))
    assert [k for k in kinds(result) if k[0] == "response_breached"] == []
    assert result.tickets["T-1"].response == "met"


def test_late_response_gives_breach_then_responded_after_breach():
    result = run([opened(severity="S2"), response(at(95))], until=at(100))
    assert kinds(result) == [
        ("response_breached", at(90), at(90), 0),
        ("responded_after_breach", at(90), at(95), 0),
    ]


def test_response_before_opened_counts_as_at_opened():
    result = run([opened(severity="S2"), response(at(-30))], until=at(200))
    assert kinds(result) == []
    assert result.tickets["T-1"].response == "met"


def test_resolved_before_or_at_due_settles_without_breach():
    for when in (10, 90):
        result = run([opened(severity="S2"), update(at(when), "u", status="resolved")], until=at(300))
        assert kinds(result) == []
        assert result.tickets["T-1"].response == "settled"


def test_closed_at_due_wins_over_breach_by_tie_rule():
    result = run([opened(severity="S2"), update(at(90), "u", status="closed", public=False)], until=at(300))
    assert kinds(result) == []


def test_severity_raised_before_response_recomputes_from_open_and_breaches_at_change():
    # S3 premium: 6 support hours. Raised to S1 after 30 minutes: S1's 20 minutes already past.
    events = [opened(severity="S3"), update(at(30), "u1", severity="S1", public=False)]
    result = run(events, until=at(31))
    assert kinds(result)[0] == ("response_breached", at(20), at(30), 0)
    assert result.outputs[0].severity == "S1"


def test_severity_lowered_before_response_moves_due_later():
    events = [opened(severity="S1"), update(at(10), "u1", severity="S2", public=False)]
    result = run(events, until=at(200))
    assert kinds(result) == [("response_breached", at(90), at(90), 0)]


def test_severity_change_after_response_does_not_reopen_response():
    events = [opened(severity="S3"), response(at(5)), update(at(30), "u1", severity="S1", public=False)]
    result = run(events, until=at(600))
    assert [k for k in kinds(result) if "breach" in k[0]] == []
    assert result.tickets["T-1"].response == "met"


def test_restart_at_change_takes_the_earlier_of_old_due_and_change_plus_target():
    policy = parse_policy({"severity_change": "restart_at_change"})
    # S2 premium (90 min) raised to S1 at +30: min(+90, +30+20) = +50.
    events = [opened(severity="S2"), update(at(30), "u1", severity="S1", public=False)]
    assert kinds(run(events, until=at(200), policy=policy))[0] == ("response_breached", at(50), at(50), 0)
    # Default policy recomputes from open: +20 is past at +30, so the breach instant is +30.
    assert kinds(run(events, until=at(200)))[0] == ("response_breached", at(20), at(30), 0)
    # Lowered S1 -> S4 at +10 under restart_at_change: the old due (+20) stays.
    lowered = [opened(severity="S1"), update(at(10), "u1", severity="S4", public=False)]
    assert kinds(run(lowered, until=at(200), policy=policy))[0] == ("response_breached", at(20), at(20), 0)


def test_support_hours_target_skips_the_weekend():
    # Premium S4 = 24 support hours. Friday 6 March 2026 12:00 Berlin (11:00 UTC) -> Monday 12:00 Berlin.
    friday_noon = datetime(2026, 3, 6, 11, 0, tzinfo=UTC)
    result = run([opened(friday_noon, severity="S4")], until=friday_noon + timedelta(days=5))
    assert kinds(result) == [
        ("response_breached", friday_noon + timedelta(days=3), friday_noon + timedelta(days=3), 0)
    ]


def test_breach_id_is_deterministic_and_distinct_per_ticket():
    first = run([opened()], until=at(60))
    again = run([opened()], until=at(60))
    other = run([opened()], until=at(60), ticket_id="T-2")
    assert first.outputs[0].id == again.outputs[0].id
    assert first.outputs[0].id != other.outputs[0].id


def test_default_policy_is_spec_table():
    policy = Policy()
    assert policy.target("premium", "S1").response == timedelta(minutes=20)
    assert policy.target("premium", "S1").update_every == timedelta(minutes=30)
    assert policy.target("standard", "S4").response == timedelta(hours=48)
    assert policy.target("standard", "S1").update_every is None
    assert T0.tzinfo is UTC
