"""SPEC 2 and 6: every kind of bad input maps to one clear reason."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from worker.decoding import Rejection, decode_event
from worker.domain.policy import Policy
from worker.messages import IncidentOpened, IncidentUpdate

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
GOOD = {"type": "incident.opened", "event_id": "e1", "ticket_id": "T-1",
        "occurred_at": "2026-03-02T10:00:00+01:00", "severity": "S1", "plan": "premium", "region": "eu"}


def decode(payload, **kwargs):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode_event(raw, Policy(), NOW, **kwargs)


def test_good_event_parses_with_its_offset():
    event = decode(GOOD)
    assert isinstance(event, IncidentOpened)
    assert event.occurred_at == NOW


def test_missing_region_takes_default_and_update_duration_parses():
    assert isinstance(decode({k: v for k, v in GOOD.items() if k != "region"}), IncidentOpened)
    update = decode({"type": "incident.update", "event_id": "e2", "ticket_id": "T-1",
                     "occurred_at": "2026-03-02T09:00:00Z", "status": "ongoing", "next_update_in": "PT2H"})
    assert isinstance(update, IncidentUpdate) and update.public is True
    assert update.stated_next_update() == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe not json", "not_json"),
        (b"[1, 2]", "not_an_object"),
        (b"[" * 100000 + b"]" * 100000, "not_json"),
        ({**GOOD, "type": "incident.deleted"}, "unknown_type"),
        ({k: v for k, v in GOOD.items() if k != "type"}, "unknown_type"),
        ({**GOOD, "occurred_at": "2026-03-02T10:00:00"}, "naive_timestamp"),
        ({**GOOD, "occurred_at": 1772442000}, "invalid"),
        ({**GOOD, "severity": "S9"}, "unknown_severity"),
        ({**GOOD, "plan": "gold"}, "unknown_plan"),
        ({**GOOD, "region": "mars"}, "unknown_region"),
        ({**GOOD, "occurred_at": "2026-03-02T09:06:00Z"}, "future_timestamp"),
        ({**GOOD, "ticket_id": 42}, "invalid"),
        ({**GOOD, "ticket_id": ""}, "invalid"),
        ({"type": "incident.update", "event_id": "e", "ticket_id": "T", "occurred_at": "2026-03-02T09:00:00Z",
          "status": "ongoing", "next_update_in": "PT1H", "next_update_at": "2026-03-02T11:00:00Z"}, "invalid"),
        ({"type": "incident.update", "event_id": "e", "ticket_id": "T", "occurred_at": "2026-03-02T09:00:00Z",
          "status": "ongoing", "next_update_at": "2026-03-02T08:00:00Z"}, "invalid"),
        ({"type": "incident.update", "event_id": "e", "ticket_id": "T", "occurred_at": "2026-03-02T09:00:00Z",
          "status": "paused"}, "invalid"),
        (b"{" + b'"a":' * 10 + b"1" + b"}" * 10, "not_json"),
    ],
)
def test_bad_input_reason(payload, reason):
    result = decode(payload)
    assert isinstance(result, Rejection), result
    assert result.reason == reason, result.detail
    assert result.detail


def test_size_limit_and_skew_are_configurable():
    assert decode(GOOD, max_bytes=10).reason == "too_large"
    assert isinstance(decode({**GOOD, "occurred_at": "2026-03-02T09:06:00Z"}, max_future_skew=timedelta(minutes=10)),
                      IncidentOpened)
    assert isinstance(decode({**GOOD, "occurred_at": "2099-01-01T00:00:00Z"}, max_future_skew=None), IncidentOpened)
