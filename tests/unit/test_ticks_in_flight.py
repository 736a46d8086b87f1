"""The ticker leaves out a partition until the agent has finished its last tick, or patience runs out."""

from worker.service.ticks_in_flight import TicksInFlight


def test_a_partition_waits_for_its_tick_to_be_processed():
    ticks = TicksInFlight(patience=5.0)
    ticks.sent(0, now=100.0)
    ticks.sent(1, now=100.0)
    assert ticks.waiting(now=100.2) == {0, 1}
    ticks.processed(0)
    assert ticks.waiting(now=100.4) == {1}


def test_a_tick_unprocessed_for_longer_than_patience_no_longer_holds_its_partition():
    ticks = TicksInFlight(patience=5.0)
    ticks.sent(2, now=100.0)
    assert ticks.waiting(now=104.9) == {2}
    assert ticks.waiting(now=105.0) == set()
    ticks.sent(2, now=105.0)  # the ticker sent another: patience counts from it
    assert ticks.waiting(now=109.0) == {2}


def test_a_rebalance_forgets_every_tick_in_flight():
    ticks = TicksInFlight(patience=5.0)
    ticks.sent(0, now=1.0)
    ticks.sent(3, now=1.0)
    ticks.clear()
    assert ticks.waiting(now=1.1) == set()


def test_processing_a_partition_never_ticked_is_harmless():
    ticks = TicksInFlight(patience=5.0)
    ticks.processed(7)
    assert ticks.waiting(now=0.0) == set()
