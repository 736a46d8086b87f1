"""SPEC 5 under a frozen broker (issue 6, scenario 2): SIGSTOP for 30 s mid-stream, then SIGCONT."""

import json
import urllib.request
from datetime import timedelta

import pytest

from worker.adapters.embedded_broker import free_port

from tests.integration.conftest import collect, facts, now, opened, produce

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


async def test_broker_frozen_for_30_s_loses_no_breach_and_the_worker_survives(broker, settings, workers):
    port = free_port()
    worker = workers("worker", http_port=port)
    t0 = now()
    # Dues from +4 s to +40 s: some before the freeze, many during it, some after.
    tickets = {f"F-{i}": t0 + timedelta(seconds=i) for i in range(36)}
    await produce(settings, [opened(ticket, at) for ticket, at in tickets.items()])
    await collect(settings, [settings.topic_breaches], lambda r: len(r) >= 3, timeout=60)

    broker.pause()
    try:
        # Nothing can be awaited on a frozen broker; the freeze itself is the wait.
        import asyncio

        await asyncio.sleep(30)
    finally:
        broker.resume()

    records = await collect(settings, [settings.topic_breaches],
                            lambda r: {f["ticket_id"] for f in facts(r)} >= set(tickets), timeout=120)
    found = facts(records)
    assert {f["ticket_id"] for f in found} == set(tickets)
    ids = {}
    for f in found:
        ids.setdefault(f["ticket_id"], set()).add(f["id"])
    assert all(len(v) == 1 for v in ids.values()), "a breach under two ids"
    assert worker.process.poll() is None, "the worker died during the freeze"
    late = [f for f in found if f["lateness_seconds"] > 10]
    assert late, "breaches due during the freeze should report their real lateness"
    lines = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
    stalls = [line for line in lines if line["event"].startswith("Kafka answered the ticker late")]
    assert stalls and stalls[0]["seconds"] >= 25, "the outage is not reported in the logs"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        exposition = response.read().decode()
    stalled = [line for line in exposition.splitlines() if line.startswith("incident_timer_broker_stalls_total ")]
    assert stalled and float(stalled[0].split()[1]) >= 1, "the outage is not reported in the metrics"
