"""Issue 6, scenario 1: the worker killed with SIGKILL at 20 random moments during a stream of 10,000 tickets."""

import asyncio
import random
import time
from datetime import timedelta

import pytest

from tests.integration.conftest import now, poll_until, produce
from tests.reliability.invariant import MINUTES_POLICY, check_live, ticket_stream

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TICKETS = 10_000
KILLS = 20
AFTER = timedelta(seconds=60)  # facts up to this long after the last tickets are checked


@pytest.mark.parametrize("store", ["memory", "rocksdb"])
async def test_twenty_sigkills_lose_no_fact_and_invent_no_id(settings, workers, store):
    rng = random.Random(f"kill-storm-{store}")
    overrides = {"policy": MINUTES_POLICY, "catch_up_bound": timedelta(minutes=10), "store": store}
    settings = settings.model_copy(update=overrides)
    started = time.monotonic()
    worker = workers("w", **overrides)
    events: list[dict] = []
    chunk = TICKETS // KILLS
    for k in range(KILLS):
        t0 = now()
        tickets = ticket_stream(chunk, t0, rng, prefix=f"K{k}")
        events += tickets
        await produce(settings, tickets)
        await poll_until(lambda: "due index rebuilt" in worker.log_text(), timeout=60,
                         what="the restarted worker has recovered and is processing")
        # A random moment while it processes: the fault schedule is the wait here.
        await asyncio.sleep(rng.uniform(0.2, 3.0))
        worker.kill()
        worker = workers("w", **overrides)
    cut = t0 + AFTER
    verdict = await check_live(settings, events, cut, timeout=AFTER.total_seconds() + 180)
    print(f"\nRESULT kill-storm store={store} tickets={TICKETS} events={len(events)} kills={KILLS} {verdict} "
          f"seconds={time.monotonic() - started:.0f}")
