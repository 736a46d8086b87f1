"""Which partitions the ticker leaves out because the agent has not reached their last tick yet.

A tick that asks its partition's end offsets costs an end-offset request, and on
some brokers (the embedded one among them) that request costs in proportion to
the input topics' size. While the agent is still working through an earlier
tick of the partition (firing a burst of dues, reading a backlog), another one
adds nothing: the agent asks for the next as soon as it has finished (the
ticker's next round). Left unthrottled, a ticker sends one every interval, and
their end-offset requests took the embedded broker more CPU than the burst they
waited behind.

A tick not processed within ``patience`` seconds (lost to a rebalance, or a
burst longer than that) no longer holds its partition back, so the lag metric
those ticks carry is refreshed at least that often.
"""

from __future__ import annotations


class TicksInFlight:
    def __init__(self, patience: float) -> None:
        self.patience = patience
        self._sent_at: dict[int, float] = {}  # partition -> monotonic time its unprocessed tick was sent

    def waiting(self, now: float) -> set[int]:
        """Partitions with a tick sent less than ``patience`` seconds before ``now`` and not processed yet."""
        return {p for p, sent in self._sent_at.items() if now - sent < self.patience}

    def sent(self, partition: int, now: float) -> None:
        self._sent_at[partition] = now

    def processed(self, partition: int) -> None:
        self._sent_at.pop(partition, None)

    def clear(self) -> None:
        """After a rebalance: ticks sent before it may never reach this worker's agent."""
        self._sent_at.clear()
