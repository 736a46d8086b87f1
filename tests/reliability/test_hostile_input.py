"""Issue 6, scenarios 4 and 6: hostile input at 1 % of a live stream, and clock trouble."""

import json
import os
import random
import time
from datetime import datetime, timedelta

import pytest

from tests.integration.conftest import collect, now, opened, produce, response, update
from tests.reliability.invariant import MINUTES_POLICY, check_dead_letters, check_live, fingerprint, ticket_stream

pytestmark = pytest.mark.reliability

AFTER = timedelta(seconds=60)
MIB = 1024 * 1024


def hostile_records(settings, t0: datetime, rng: random.Random, count: int) -> dict[tuple, tuple]:
    """``count`` bad records: fingerprint -> (topic, key, value, reason). Kinds cycle through the issue's list."""
    base = opened("H", t0, severity="S2")
    kinds = [
        ("random_bytes", lambda i: (settings.topic_opened, b"\xff" + os.urandom(rng.randint(1, 2000))), "not_json"),
        ("huge", lambda i: (settings.topic_updates, json.dumps({**base, "pad": "x" * (MIB + 200_000)}).encode()),
         "too_large"),
        ("nested", lambda i: (settings.topic_responses, b"[" * 100_000 + b"]" * 100_000), "not_json"),
        ("nested_in_event", lambda i: (settings.topic_opened, json.dumps(base)[:-1].encode()
                                       + b', "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"), "not_json"),
        ("wrong_types", lambda i: (settings.topic_opened, json.dumps({**base, "occurred_at": 12345}).encode()),
         "invalid"),
        ("ticket_not_a_string", lambda i: (settings.topic_responses, json.dumps(
            {**response("H", t0), "ticket_id": 17}).encode()), "invalid"),
        ("naive", lambda i: (settings.topic_opened, json.dumps(base).replace("+00:00", "").encode()),
         "naive_timestamp"),
        ("far_future", lambda i: (settings.topic_responses, json.dumps(
            response("H", t0 + timedelta(days=3650))).encode()), "future_timestamp"),
        ("unknown_severity", lambda i: (settings.topic_opened, json.dumps({**base, "severity": "S9"}).encode()),
         "unknown_severity"),
        ("unknown_type", lambda i: (settings.topic_updates, json.dumps({**base, "type": "incident.deleted"}).encode()),
         "unknown_type"),
        ("unknown_region", lambda i: (settings.topic_opened, json.dumps({**base, "region": "mars"}).encode()),
         "unknown_region"),
        ("unknown_status", lambda i: (settings.topic_updates, json.dumps(
            update("H", t0, "H#u", status="paused")).encode()), "invalid"),
        ("not_an_object", lambda i: (settings.topic_responses, b"null"), "not_an_object"),
    ]
    bad: dict[tuple, tuple] = {}
    for i in range(count):
        name, make, reason = kinds[i % len(kinds)]
        topic, value = make(i)
        key = f"H-{name}-{i}".encode()
        mark = ("truncated", key, len(value)) if len(value) > 512 * 1024 else fingerprint(key, value)
        bad[mark] = (topic, key, value, reason)
    return bad


async def test_one_percent_hostile_input_all_in_dead_letters_and_no_fact_lost(settings, workers):
    rng = random.Random("hostile")
    overrides = {"policy": MINUTES_POLICY, "catch_up_bound": timedelta(minutes=5)}
    settings = settings.model_copy(update=overrides)
    t0 = now()
    good = ticket_stream(3000, t0, rng, prefix="G")
    bad = hostile_records(settings, t0, rng, count=len(good) // 100 + 13)
    flooded = next(e for e in good if e["type"] == "incident.response")
    flood = [flooded] * 500  # one event id, 500 times: applied once, never a dead letter
    stream: list = list(good) + flood
    for topic, key, value, _ in bad.values():
        stream.insert(rng.randrange(len(stream)), (topic, key, value))
    workers("w", **overrides)
    started = time.monotonic()
    await produce(settings, stream)

    cut = t0 + AFTER
    verdict = await check_live(settings, good, cut, timeout=AFTER.total_seconds() + 120)
    dead = await collect(settings, [settings.topic_dead_letters], lambda r: len(r) >= len(bad), timeout=30)
    check_dead_letters(dead, {mark: reason for mark, (_, _, _, reason) in bad.items()})
    assert len(dead) == len(bad), f"{len(dead) - len(bad)} dead letters too many: a good event was rejected"
    print(f"\nRESULT hostile good_events={len(good)} flood={len(flood)} bad={len(bad)} dead_letters={len(dead)} "
          f"{verdict} seconds={time.monotonic() - started:.0f}")


async def test_clock_trouble_counts_early_events_at_the_opening_and_rejects_only_beyond_the_skew(settings, workers):
    rng = random.Random("clock")
    overrides = {"policy": MINUTES_POLICY, "max_future_skew": timedelta(minutes=2)}
    settings = settings.model_copy(update=overrides)
    t0 = now()
    good = ticket_stream(300, t0, rng, prefix="C")
    trouble: list[dict] = []
    beyond: dict[tuple, str] = {}
    for i in range(100):
        ticket = f"CT-{i}"
        at = t0 - timedelta(seconds=rng.uniform(0, 30))
        trouble.append(opened(ticket, at, severity=rng.choice(["S1", "S2", "S3"])))
        kind = i % 4
        if kind == 0:  # answered "before" it was opened: counts at the opening, so never breaches
            trouble.append(response(ticket, at - timedelta(minutes=10)))
        elif kind == 1:  # an update from before the opening
            trouble.append(update(ticket, at - timedelta(seconds=30), f"{ticket}#early"))
        elif kind == 2:  # a response stamped in the future, within the allowed skew
            trouble.append(response(ticket, t0 + timedelta(seconds=rng.uniform(10, 100))))
        else:  # beyond the skew: a dead letter, and the ticket breaches as if unanswered
            late = response(ticket, t0 + timedelta(hours=1))
            beyond[fingerprint(ticket.encode(), json.dumps(late).encode())] = "future_timestamp"
            trouble.append(late)
    accepted = good + [e for e in trouble if fingerprint(e["ticket_id"].encode(), json.dumps(e).encode()) not in beyond]
    workers("w", **overrides)
    await produce(settings, good + trouble)

    cut = t0 + AFTER
    verdict = await check_live(settings, accepted, cut, timeout=AFTER.total_seconds() + 120)
    assert any(k[1].startswith("CT-") for k in verdict.facts), "the clock-trouble tickets should have facts too"
    dead = await collect(settings, [settings.topic_dead_letters], lambda r: len(r) >= len(beyond), timeout=30)
    check_dead_letters(dead, beyond)
    assert len(dead) == len(beyond)
    print(f"\nRESULT clock-trouble events={len(good) + len(trouble)} beyond_skew={len(beyond)} {verdict}")
