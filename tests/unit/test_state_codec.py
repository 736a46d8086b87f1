"""Ticket state survives serialisation unchanged, and stays small."""

from datetime import timedelta

import pytest
from hypothesis import given, settings

from worker.domain.policy import Policy
from worker.domain.state_codec import dumps, loads, state_from_dict, state_to_dict
from worker.domain.timers import TicketEngine, TicketState

from tests.unit.builders import at, opened, response, update
from tests.unit.test_properties import ticket_events

ENGINE = TicketEngine(Policy())


@settings(max_examples=100, deadline=None)
@given(events=ticket_events())
def test_roundtrip_then_continue_gives_the_same_outputs(events):
    state = TicketState("T-1")
    for event in events:
        state = ENGINE.apply(state, event, now=event.at).state or TicketState("T-1")
    restored = loads(dumps(state))
    assert restored == state
    later = max(e.at for e in events) + timedelta(hours=5)
    assert ENGINE.advance(restored, later).outputs == ENGINE.advance(state, later).outputs


def test_typical_ticket_is_a_few_hundred_bytes():
    state = TicketState("1-364285768")
    for event in [opened(), response(at(10)), update(at(50), "u1"), update(at(90), "u2", status="resolved")]:
        state = ENGINE.apply(state, event, now=at(100)).state
    assert len(dumps(state)) < 600


def test_unknown_version_is_refused():
    data = state_to_dict(TicketState("T"))
    data["v"] = 99
    with pytest.raises(ValueError, match="version 99"):
        state_from_dict(data)


def test_table_codec_roundtrips_a_stored_ticket():
    from worker.adapters.ticket_table import TicketCodec
    from worker.service.timer_service import StoredTicket

    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    stored = StoredTicket(3, "r", 0, state)
    codec = TicketCodec()
    assert codec.loads(codec.dumps(stored)) == stored


def test_table_codec_reads_the_changelog_of_earlier_versions_and_writes_non_ascii_as_utf8():
    """Earlier versions wrote the value with the json module, non-ASCII text escaped; a restart reads both."""
    import json

    from worker.adapters.ticket_table import TicketCodec
    from worker.service.timer_service import StoredTicket

    state = ENGINE.apply(TicketState("T-Örebro-1"), opened(event_id="öppnad"), now=at(0)).state
    stored = StoredTicket(3, "r", 0, state)
    codec = TicketCodec()
    earlier = json.dumps({"p": 3, "k": "r", "h": 0, "state": state_to_dict(state)}, separators=(",", ":")).encode()
    assert b"\\u00d6" in earlier and "Ö".encode() in codec.dumps(stored)
    assert codec.loads(earlier) == stored == codec.loads(codec.dumps(stored))


def test_decoded_tickets_share_their_repeated_values():
    """A million open tickets in memory: severity, plan, region and the empty fact set are one object each."""
    first, second = (loads(dumps(ENGINE.apply(TicketState(t), opened(), now=at(0)).state))
                     for t in ("T-1", "T-2"))
    a, b = first.events[0], second.events[0]
    assert (a.severity, a.plan, a.region) == (b.severity, b.plan, b.region)
    assert a.severity is b.severity and a.plan is b.plan and a.region is b.region
    assert first.emitted is second.emitted and not first.emitted
