"""The invariant every fault scenario checks (issue 6), and the stream of tickets they share.

Invariant: the breach and overdue facts on the output topics (up to a cut in event time)
equal what the offline replay computes for the same input; every fact carries
exactly one output id and every id names one fact (a redelivery repeats an id,
never invents one); every bad input is in the dead-letter topic with its reason.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from worker.domain.policy import load_policy
from worker.domain.timers import TicketEngine, to_event
from worker.messages import INPUT_EVENT
from worker.replay import replay

from tests.integration.conftest import collect, facts, opened, response, update

MINUTES_POLICY = Path(__file__).parent / "policy-minutes.yaml"
FACT_TYPES = {"sla.response_breached", "sla.update_overdue", "sla.update_overdue_cleared",
              "sla.responded_after_breach", "sla.response_breach_retracted"}


def fact_key(fact: dict) -> tuple:
    return (fact["type"], fact["ticket_id"], fact["due_at"], fact.get("overdue_count", 0))


def ticket_stream(count: int, t0: datetime, rng: random.Random, prefix: str = "T") -> list[dict]:
    """``count`` tickets opened in the 30 s before ``t0``: a third answered in time, some S1 with public
    updates and a resolution. Under the minutes policy every due falls 10 to 150 s after ``t0``, so
    tickets produced at ``t0`` never arrive after a deadline they decide (replay would then differ)."""
    events: list[dict] = []
    for i in range(count):
        ticket = f"{prefix}-{i}"
        severity = rng.choice(["S1", "S2", "S3", "S4"])
        at = t0 - timedelta(seconds=rng.uniform(0, 30))
        events.append(opened(ticket, at, severity=severity, plan=rng.choice(["premium", "standard"]),
                             region=rng.choice(["eu", "us", "apac"])))
        if i % 3 == 0:
            events.append(response(ticket, at + timedelta(seconds=rng.uniform(1, 5))))
        if severity == "S1" and i % 2 == 0:
            events.append(update(ticket, at + timedelta(seconds=8), f"{ticket}#u1"))
            if i % 4 == 0:
                events.append(update(ticket, at + timedelta(seconds=20), f"{ticket}#done", status="resolved"))
    return events


def expected_facts(events: list[dict], cut: datetime, policy: Path = MINUTES_POLICY) -> set[tuple]:
    """What the offline replay finds for these events, up to ``cut``."""
    engine = TicketEngine(load_policy(policy))
    decoded = [INPUT_EVENT.validate_python(e) for e in events]
    result = replay([(e.ticket_id, to_event(e)) for e in decoded], engine, until=cut)
    # Replay runs on to the last event; events stamped after the cut bring facts after it.
    found = [json.loads(o.model_dump_json()) for o in result.outputs]
    return {fact_key(f) for f in found if datetime.fromisoformat(f["fired_at"]) <= cut}


def up_to(records: list, cut: datetime) -> list[dict]:
    """Facts whose event time (``fired_at``: the due instant, the reminder's instant, the event's time) <= cut."""
    return [f for f in facts(records) if f["type"] in FACT_TYPES and datetime.fromisoformat(f["fired_at"]) <= cut]


async def live_facts(settings, expected: set[tuple], cut: datetime, timeout: float) -> list[dict]:
    """The output facts up to ``cut``, read until they cover ``expected`` or the deadline."""
    records = await collect(settings, [settings.topic_breaches, settings.topic_overdue],
                            lambda r: {fact_key(f) for f in up_to(r, cut)} >= expected, timeout=timeout)
    return up_to(records, cut)


@dataclass
class Verdict:
    facts: set[tuple]
    deliveries: int

    def __str__(self) -> str:
        return (f"facts={len(self.facts)} deliveries={self.deliveries} "
                f"redeliveries={self.deliveries - len(self.facts)}")


def check_facts(live: list[dict], expected: set[tuple]) -> Verdict:
    """Assert the invariant's first two parts; return counts for RELIABILITY.md."""
    got = {fact_key(f) for f in live}
    missing, unexpected = expected - got, got - expected
    assert got == expected, (
        f"{len(missing)} facts missing {dict(Counter(k[0] for k in missing))}, e.g. {sorted(missing)[:3]}; "
        f"{len(unexpected)} unexpected {dict(Counter(k[0] for k in unexpected))}, e.g. {sorted(unexpected)[:3]}"
    )
    ids_of: dict[tuple, set[str]] = defaultdict(set)
    facts_of: dict[str, set[tuple]] = defaultdict(set)
    for f in live:
        ids_of[fact_key(f)].add(f["id"])
        facts_of[f["id"]].add(fact_key(f))
    two_ids = [k for k, ids in ids_of.items() if len(ids) > 1]
    assert not two_ids, f"{len(two_ids)} facts delivered under two ids, e.g. {two_ids[:3]}"
    shared = [i for i, keys in facts_of.items() if len(keys) > 1]
    assert not shared, f"{len(shared)} ids name two facts, e.g. {shared[:3]}"
    return Verdict(got, len(live))


async def check_live(settings, events: list[dict], cut: datetime, timeout: float) -> Verdict:
    """The invariant's first two parts for ``events``: outputs read until they cover the replay's facts."""
    expected = expected_facts(events, cut)
    return check_facts(await live_facts(settings, expected, cut, timeout), expected)


def fingerprint(key: bytes | None, value: bytes) -> tuple:
    return key, hashlib.sha256(value).hexdigest()


def check_dead_letters(dead: list, bad: dict[tuple, str]) -> None:
    """Every bad input (fingerprint of key and original bytes -> reason) is a dead letter with that reason.

    Dead letters over 512 KiB keep their first bytes and a header with the original size.
    """
    found: dict[tuple, str] = {}
    for record in dead:
        headers = dict(record.headers)
        reason = headers["dlq_reason"].decode()
        found[fingerprint(record.key, record.value)] = reason
        if "dlq_truncated_from_bytes" in headers:
            found[("truncated", record.key, int(headers["dlq_truncated_from_bytes"]))] = reason
    missing = {k: r for k, r in bad.items() if k not in found}
    assert not missing, f"{len(missing)} bad inputs not in the dead-letter topic, e.g. {list(missing.items())[:3]}"
    wrong = {k: (r, found[k]) for k, r in bad.items() if found[k] != r}
    assert not wrong, f"dead letters with another reason (expected, found): {list(wrong.values())[:5]}"
