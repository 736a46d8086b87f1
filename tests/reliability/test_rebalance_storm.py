"""Issue 6, scenario 3: three workers joining and leaving repeatedly while deadlines fall due."""

import asyncio
import random
import time
from datetime import timedelta

import pytest

from tests.integration.conftest import now, poll_until, produce
from tests.reliability.invariant import MINUTES_POLICY, check_live, ticket_stream

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

TICKETS = 6_000
CHANGES = 24
AFTER = timedelta(seconds=60)


def rebuilds(worker) -> int:
    return worker.log_text().count('"due index rebuilt"')


async def test_rebalance_storm_of_three_workers_loses_no_fact_and_invents_no_id(settings, workers):
    rng = random.Random("storm")
    overrides = {"policy": MINUTES_POLICY, "catch_up_bound": timedelta(minutes=10)}
    settings = settings.model_copy(update=overrides)
    started = time.monotonic()
    running = [workers("w", **overrides)]
    events: list[dict] = []
    chunk = TICKETS // CHANGES
    joins = leaves = kills = 0
    for k in range(CHANGES):
        t0 = now()
        tickets = ticket_stream(chunk, t0, rng, prefix=f"S{k}")
        events += tickets
        await produce(settings, tickets)
        before = {id(w): rebuilds(w) for w in running}
        if len(running) < 3 and (len(running) == 1 or rng.random() < 0.5):
            running.append(workers("w", **overrides))
            joins += 1
        else:
            leaving = running.pop(rng.randrange(len(running)))
            if rng.random() < 0.5:
                leaving.stop()  # SIGTERM: leaves the group
                leaves += 1
            else:
                leaving.kill()  # SIGKILL: the group notices at the session timeout
                kills += 1
        # The embedded broker's group coordinator can wedge when members come and go in the middle of a
        # rebalance (once no member was elected leader for minutes): let each rebalance finish first.
        await poll_until(lambda: all(rebuilds(w) > before.get(id(w), 0) for w in running), timeout=60,
                         what="every running worker has its partitions after the change")
        await asyncio.sleep(rng.uniform(0.5, 2))  # the storm's own schedule
    cut = t0 + AFTER
    verdict = await check_live(settings, events, cut, timeout=AFTER.total_seconds() + 180)
    print(f"\nRESULT storm tickets={TICKETS} events={len(events)} joins={joins} sigterm={leaves} sigkill={kills} "
          f"{verdict} seconds={time.monotonic() - started:.0f}")
