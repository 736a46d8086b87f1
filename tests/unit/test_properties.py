"""Property tests (SPEC 3 and 5): arrival order never changes the facts, ids are stable."""

import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.domain.policy import Policy
from worker.domain.timeline import build_timeline
from worker.domain.timers import OUTPUT_ID_NAMESPACE, EngineSettings, TicketEngine, output_id
from worker.replay import replay

from tests.unit.builders import T0, opened, response, update

POLICY = Policy()
ENGINE = TicketEngine(POLICY, EngineSettings(orphan_ttl=timedelta(days=60), closed_retention=timedelta(days=60)))
FACT_TYPES = {"sla.response_breached", "sla.responded_after_breach", "sla.update_overdue", "sla.update_overdue_cleared"}


@st.composite
def ticket_events(draw):
    start = T0 + timedelta(minutes=draw(st.integers(0, 14 * 24 * 60)))  # any weekday or weekend
    offset = lambda: timedelta(minutes=draw(st.integers(-30, 3000)), seconds=draw(st.sampled_from([0, 0, 30])))  # noqa: E731
    events = [opened(start, draw(st.sampled_from(["S1", "S2", "S3", "S4"])),
                     draw(st.sampled_from(["premium", "standard"])), draw(st.sampled_from(["eu", "us", "apac"])))]
    if draw(st.booleans()):
        stated = draw(st.none() | st.integers(1, 240))
        t = start + offset()
        events.append(response(t, "r", next_update_at=t + timedelta(minutes=stated) if stated else None))
    for i in range(draw(st.integers(0, 6))):
        t = start + offset()
        stated = draw(st.none() | st.integers(1, 240))
        events.append(update(
            t, f"u{i}",
            status=draw(st.sampled_from(["ongoing", "ongoing", "ongoing", "resolved", "closed"])),
            public=draw(st.booleans()),
            severity=draw(st.none() | st.sampled_from(["S1", "S2", "S3", "S4"])),
            next_update_at=t + timedelta(minutes=stated) if stated else None,
        ))
    return events


def _run(events, arrival_order, until):
    return replay([("T-1", e) for e in events], ENGINE, arrival_order=arrival_order, until=until)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_arrival_order_loses_no_fact_and_retracts_what_it_got_wrong(data):
    events = data.draw(ticket_events())
    arrival = data.draw(st.permutations(events))
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=3))
    until = max(e.at for e in events) + timedelta(hours=6)

    in_order = _run(events, False, until)
    shuffled = _run(list(arrival) + duplicates, True, until)

    facts = {o.id for o in in_order.outputs}
    emitted = [o.id for o in shuffled.outputs]
    assert len(emitted) == len(set(emitted)), "an output id was emitted twice"
    assert facts <= set(emitted), "a fact of the in-order replay was never emitted"
    assert all(o.type in FACT_TYPES for o in in_order.outputs), "in-order replay never retracts"

    fact_dues = {(o.type, o.due_at) for o in in_order.outputs}
    retracted = {o.due_at for o in shuffled.outputs if o.type == "sla.response_breach_retracted"}
    cleared = {o.due_at for o in shuffled.outputs if o.type == "sla.update_overdue_cleared"}
    for wrong in (o for o in shuffled.outputs if o.id not in facts and o.type in FACT_TYPES):
        if wrong.type == "sla.response_breached":
            assert wrong.due_at in retracted
        elif wrong.type == "sla.update_overdue":
            # either a reminder of an episode that really happened (and was cleared or still runs),
            # or an episode that never happened, closed with a 'retracted' clear
            assert ("sla.update_overdue", wrong.due_at) in fact_dues or wrong.due_at in cleared
    assert shuffled.tickets == in_order.tickets


@settings(max_examples=200, deadline=None)
@given(events=ticket_events(), order=st.randoms(use_true_random=False))
def test_timeline_depends_on_the_set_of_events_only(events, order):
    horizon = max(e.at for e in events) + timedelta(hours=6)
    shuffled = list(events)
    order.shuffle(shuffled)
    by_order = sorted(shuffled, key=lambda e: e.order)
    assert build_timeline(by_order, POLICY, horizon) == build_timeline(sorted(events, key=lambda e: e.order), POLICY, horizon)


@settings(max_examples=100, deadline=None)
@given(events=ticket_events(), arrival_order=st.booleans())
def test_replaying_twice_gives_identical_output_ids(events, arrival_order):
    until = max(e.at for e in events) + timedelta(hours=6)
    first = [o.id for o in _run(events, arrival_order, until).outputs]
    second = [o.id for o in _run(events, arrival_order, until).outputs]
    assert first == second


def test_output_id_is_a_function_of_ticket_kind_due_and_count():
    a = output_id("T-1", "update_overdue", T0, 1)
    assert a == output_id("T-1", "update_overdue", T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")), 1)
    assert len({a, output_id("T-1", "update_overdue", T0, 2), output_id("T-2", "update_overdue", T0, 1),
                output_id("T-1", "update_overdue", T0 + timedelta(microseconds=1), 1),
                output_id("T-1", "response_breached", T0, 1)}) == 5


@settings(max_examples=300, deadline=None)
@given(ticket_id=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=256),
       kind=st.sampled_from(sorted(FACT_TYPES)),
       due=st.datetimes(timezones=st.just(timezone.utc)),
       count=st.integers(0, 10_000))
def test_output_ids_are_the_rfc_4122_uuid5_of_their_name(ticket_id, kind, due, count):
    """Pagers deduplicate on ids already emitted: the id of an output must not change between versions."""
    name = f"{ticket_id}\x1f{kind}\x1f{due.isoformat(timespec='microseconds')}\x1f{count}"
    assert output_id(ticket_id, kind, due, count) == str(uuid.uuid5(uuid.UUID(str(OUTPUT_ID_NAMESPACE)), name))


def test_output_ids_keep_the_namespace_they_were_first_made_with():
    assert output_id("T-1", "update_overdue", datetime(2026, 3, 2, 9, 15, tzinfo=timezone.utc), 1) == (
        str(uuid.uuid5(uuid.UUID("6f0c1f9e-4c47-5d1a-9d55-7c1b3a9e2f10"),
                       "T-1\x1fupdate_overdue\x1f2026-03-02T09:15:00.000000+00:00\x1f1")))
