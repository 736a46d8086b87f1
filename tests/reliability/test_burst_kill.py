"""A worker killed halfway through a burst of dues: what it settled stays fired, the rest fires again.

A tick settles a burst every SETTLE_EVERY tickets (outputs acknowledged, then
their states written); the tick's offset is committed only after the last
settlement. One partition, so that one tick fires the whole burst, and the kill
falls after its first settlement and before its last.
"""

import time
from datetime import timedelta

import pytest

from tests.integration.conftest import now, opened, poll_until, produce
from tests.reliability.invariant import MINUTES_POLICY, check_live
from worker.adapters.faust_runtime import SETTLE_EVERY

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

BURST = 12_000  # two settlements and a remainder, all due in the same second
RESPONSE_TARGET = timedelta(seconds=60)  # standard S1 under the minutes policy
LEAD = timedelta(seconds=45)  # for the worker to apply the opened events before they fall due


async def test_a_kill_halfway_through_a_burst_loses_no_fact_and_invents_no_id(settings, workers):
    overrides = {"policy": MINUTES_POLICY, "catch_up_bound": timedelta(minutes=10), "partitions": 1}
    settings = settings.model_copy(update=overrides)
    started = time.monotonic()
    worker = workers("w", **overrides)
    due = now() + LEAD
    events = [opened(f"B-{i}", due - RESPONSE_TARGET, severity="S1", plan="standard") for i in range(BURST)]
    await produce(settings, events)

    def logged_outputs() -> int:  # a settlement logs its outputs, then writes their states out
        return worker.log_text().count('"output emitted"')

    await poll_until(lambda: logged_outputs() >= SETTLE_EVERY, timeout=LEAD.total_seconds() + 60,
                     what="the burst's first settlement")
    worker.kill()
    logged = logged_outputs()
    assert logged < BURST, f"the kill came after the whole burst was settled ({logged} outputs logged)"
    workers("w", **overrides)
    verdict = await check_live(settings, events, due + timedelta(seconds=5), timeout=180)
    assert len(verdict.facts) == BURST
    print(f"\nRESULT burst-kill burst={BURST} logged_before_kill={logged} {verdict} "
          f"seconds={time.monotonic() - started:.0f}")
