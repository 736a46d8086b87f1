"""The live worker and the offline replay agree on the facts for the same real events."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from worker.domain.policy import load_policy
from worker.domain.timers import TicketEngine, to_event
from worker.messages import INPUT_EVENT
from worker.replay import replay

from tests.integration.conftest import SECONDS_POLICY, collect, facts, now, produce

VOLVO = Path(__file__).resolve().parents[3] / "shared" / "data" / "volvo-incidents-2010-2012.jsonl"
TICKETS = 300
SPEED = 3600  # an hour of the log becomes a second, to match the policy in seconds


def volvo_tickets_in_the_past(count: int, end: datetime) -> list[dict]:
    """``count`` tickets of the Volvo log (its S1 ones, then the first others), time compressed,
    the last event just before ``end``."""
    assert VOLVO.exists(), f"the shared Volvo data set is needed here: {VOLVO}"
    rows = [json.loads(line) for line in VOLVO.open()]
    opened = [e for e in rows if e["type"] == "incident.opened"]
    chosen = {e["ticket_id"] for e in opened if e["severity"] == "S1"}
    for event in opened:
        if len(chosen) >= count:
            break
        chosen.add(event["ticket_id"])
    events = [e for e in rows if e["ticket_id"] in chosen]
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    first, last = min(times), max(times)
    span = (last - first) / SPEED
    for event, t in zip(events, times):
        event["occurred_at"] = (end - timedelta(seconds=1) - span + (t - first) / SPEED).isoformat()
        if "next_update_in" in event:
            event["next_update_in"] = "PT%.6fS" % (4 * 3600 / SPEED)  # the data's PT4H, compressed
    return events


def fact_key(f: dict) -> tuple:
    return (f["type"], f["ticket_id"], f["due_at"], f.get("overdue_count", 0))


async def test_live_worker_and_replay_give_the_same_facts(settings, workers):
    cut = now()
    events = volvo_tickets_in_the_past(TICKETS, cut)
    engine = TicketEngine(load_policy(SECONDS_POLICY))
    decoded = [INPUT_EVENT.validate_python(e) for e in events]
    offline = replay([(e.ticket_id, to_event(e)) for e in decoded], engine, until=cut)
    expected = {fact_key(json.loads(o.model_dump_json())) for o in offline.outputs}
    assert len(expected) > 100 and {k[0] for k in expected} >= {"sla.response_breached", "sla.update_overdue"}

    await produce(settings, events)  # all of it in Kafka before the worker starts
    workers("worker")

    def until_cut(records) -> set:
        cut_text = cut.astimezone(timezone.utc)
        return {fact_key(f) for f in facts(records) if datetime.fromisoformat(f["fired_at"]) <= cut_text}

    records = await collect(settings, [settings.topic_breaches, settings.topic_overdue],
                            lambda r: len(until_cut(r)) >= len(expected), timeout=120)
    live = until_cut(records)
    assert live == expected, f"only live: {sorted(live - expected)[:5]}, only replay: {sorted(expected - live)[:5]}"
