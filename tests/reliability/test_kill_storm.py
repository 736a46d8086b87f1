"""Issue 6, scenario 1: the worker killed with SIGKILL at 20 random moments during a stream of 10,000 tickets;
and the same with graceful stops (SIGTERM) on RocksDB, whose restarts take back the timers saved at stop."""

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
    verdict, _ = await storm(settings, workers, store, graceful=False)
    print(f"\nRESULT kill-storm store={store} tickets={TICKETS} events={verdict.pop('events')} kills={KILLS} "
          f"{verdict['text']} seconds={verdict['seconds']:.0f}")


async def test_twenty_sigterms_on_rocksdb_take_back_saved_timers_and_lose_no_fact(settings, workers):
    """Graceful stops while the stream is processed: each restart takes back the timers saved at the stop,
    less the states not written out yet (their inputs are read again)."""
    verdict, stopped = await storm(settings, workers, "rocksdb", graceful=True)
    restored = [line for worker in stopped for line in worker.log_text().splitlines()
                if '"due index rebuilt"' in line and '"restored_partitions":[]' not in line
                and '"restored_partitions": []' not in line]
    print(f"\nRESULT sigterm-storm store=rocksdb tickets={TICKETS} events={verdict.pop('events')} stops={KILLS} "
          f"restarts_with_saved_timers={len(restored)} {verdict['text']} seconds={verdict['seconds']:.0f}")
    assert len(restored) >= KILLS // 2, "most graceful restarts should take their saved timers back"


async def storm(settings, workers, store: str, graceful: bool):
    rng = random.Random(f"kill-storm-{store}" + ("-sigterm" if graceful else ""))
    overrides = {"policy": MINUTES_POLICY, "catch_up_bound": timedelta(minutes=10), "store": store}
    settings = settings.model_copy(update=overrides)
    started = time.monotonic()
    worker = workers("w", **overrides)
    stopped = []
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
        if graceful:
            worker.stop()
        else:
            worker.kill()
        stopped.append(worker)
        worker = workers("w", **overrides)
    stopped.append(worker)
    cut = t0 + AFTER
    verdict = await check_live(settings, events, cut, timeout=AFTER.total_seconds() + 180)
    return {"events": len(events), "text": verdict, "seconds": time.monotonic() - started}, stopped
