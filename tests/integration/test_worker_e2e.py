"""SPEC 3 to 5 end to end: the worker process on a real Kafka-protocol broker, policy in seconds."""

from datetime import timedelta

from tests.integration.conftest import collect, facts, now, opened, produce, response, update


def by_ticket(found: list[dict], ticket: str, kind: str) -> list[dict]:
    return [f for f in found if f["ticket_id"] == ticket and f["type"] == kind]


async def test_breach_on_time_response_cadence_and_late_response(settings, workers):
    workers("worker")
    t0 = now()
    await produce(settings, [
        opened("breach", t0),                      # no response: one breach at +4 s
        opened("on-time", t0), response("on-time", t0 + timedelta(seconds=1)),  # in Kafka before the due
        opened("late", t0),                        # breach, then the response arrives late
        opened("cadence", t0), response("cadence", t0 + timedelta(seconds=0.5)),  # reminders every 3 s
        opened("sentinel", t0, severity="S2"),     # breaches at +6 s, after every S1 due above
    ])
    outputs = [settings.topic_breaches, settings.topic_overdue]

    def first_phase(records):
        found = facts(records)
        return (by_ticket(found, "sentinel", "sla.response_breached")
                and by_ticket(found, "late", "sla.response_breached")
                and len(by_ticket(found, "cadence", "sla.update_overdue")) >= 2)

    found = facts(await collect(settings, outputs, first_phase, timeout=90))
    assert by_ticket(found, "on-time", "sla.response_breached") == []
    assert len({f["id"] for f in by_ticket(found, "breach", "sla.response_breached")}) == 1
    breach = by_ticket(found, "breach", "sla.response_breached")[0]
    assert breach["due_at"] == (t0 + timedelta(seconds=4)).isoformat().replace("+00:00", "Z")
    assert breach["lateness_seconds"] >= 0 and breach["detected_while_lagging"] is False
    reminders = by_ticket(found, "cadence", "sla.update_overdue")
    assert [r["overdue_count"] for r in reminders][:2] == [1, 2]

    t1 = now()
    await produce(settings, [response("late", t1), update("cadence", t1, "cadence#u1")])

    def second_phase(records):
        found = facts(records)
        return (by_ticket(found, "late", "sla.responded_after_breach")
                and by_ticket(found, "cadence", "sla.update_overdue_cleared"))

    found = facts(await collect(settings, outputs, second_phase, timeout=60))
    assert by_ticket(found, "cadence", "sla.update_overdue_cleared")[0]["reason"] == "update"
    assert by_ticket(found, "on-time", "sla.response_breached") == []
    # one id per fact: redelivery may repeat a record, never with a new id
    ids = {(f["type"], f["ticket_id"], f["due_at"], f.get("overdue_count", 0)): f["id"] for f in found}
    assert len(set(ids.values())) == len(ids)


async def test_cloudevents_headers_on_every_output(settings, workers):
    workers("worker")
    await produce(settings, [opened("ce", now())])
    records = await collect(settings, [settings.topic_breaches], lambda r: len(r) >= 1, timeout=60)
    assert records, "no breach arrived"
    record = records[0]
    headers = {k: v.decode() for k, v in record.headers}
    body = facts([record])[0]
    assert record.key == b"ce"
    assert headers["ce_specversion"] == "1.0" and headers["ce_id"] == body["id"]
    assert headers["ce_type"] == "sla.response_breached" and headers["content-type"] == "application/json"
    assert headers["ce_source"] and headers["ce_time"].endswith("Z")
