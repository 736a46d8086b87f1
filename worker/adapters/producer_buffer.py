"""faust's producer buffer, with a flush that hands over every record queued before it.

Writing a faust table entry queues its changelog record in the producer's
buffer; a background task hands the records to aiokafka one by one. Before
every offset commit (and on stop) faust flushes its producer: this buffer,
then aiokafka's, so that the commit never covers table changes Kafka does not
have. faust's buffer flush does not ensure that:

- it gives up once 0.1 s passes without a record handed over, and a record
  waits that long whenever aiokafka's batch for its partition is full and the
  broker has not yet taken the one before (a burst of dues, a slow broker);
- it does not count the record the task is handing over, which aiokafka's
  flush does not cover either, not being in a batch yet;
- on stop, the task stops taking records while the flush waits for it.

The commit then went ahead with changelog records still here, and a crash
before they left lost those ticket changes while their inputs counted as
processed. This flush waits, without giving up, until the task has handed over
everything queued when it started (the task wakes it then, not at every
record); with the task not running (not started, stopped, failed) it hands the
records over itself, in queue order. It gives up only when handing over fails,
and then raises, so the commit does not happen.
"""

from __future__ import annotations

import asyncio

from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from mode import Service


class CommitSafeProducerBuffer(ProducerBuffer):
    """A ProducerBuffer for the event loop's own producer (not ``producer_threaded``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._queued_total = 0  # records put since start
        self._handed_total = 0  # records handed over (or failed) since start, in queue order
        self._in_hand = 0  # the record the task is handing over
        self._taking = False  # the task takes records from the queue
        # (records to have been handed over, future): flushes, and the conductor holding the agents
        self._waiters: list[tuple[int, asyncio.Future]] = []

    def put(self, fut: FutureMessage) -> None:
        self._queued_total += 1
        super().put(fut)

    @property
    def size(self) -> int:
        return self.pending.qsize() + self._in_hand

    async def on_start(self) -> None:
        self._taking = True  # before the task is scheduled: no flush may hand over alongside it

    async def on_shutdown(self) -> None:
        """mode calls this once the service's tasks are cancelled. A task cancelled before its first step
        never reaches its ``finally``: without this, a later flush would wait for it for good."""
        self._taking = False
        self._wake_waiters()

    @Service.task
    async def _handle_pending(self) -> None:
        get_pending = self.pending.get
        hand_over = self._hand_over
        try:
            while not self.should_stop:
                fut = await get_pending()
                self._in_hand = 1
                try:
                    await hand_over(fut)
                finally:
                    self._in_hand = 0
                if self._waiters:
                    self._wake_waiters()
        finally:
            self._taking = False
            self._wake_waiters()  # they go on by themselves

    async def flush(self) -> None:
        target = self._queued_total
        while self._handed_total < target:
            if self._taking:
                await self._waiter(target)
            else:  # not started, stopped or failed: hand over here, in queue order
                await self._hand_over(self.pending.get_nowait())

    async def _hand_over(self, fut: FutureMessage) -> None:
        """Publish one record as faust does; counted even when that fails (it has left the queue)."""
        try:
            await self._send_pending(fut)
        finally:
            self._handed_total += 1
        self.message_sent.set()  # faust's flush_atmost, still part of the buffer's interface, waits on it

    async def wait_until_ebb(self) -> None:
        """faust's conductor calls this before every record it hands the agents: while more than
        ``max_messages`` wait here, hold them until that many more have been handed over, or 0.1 s
        passes without one (faust's rule). Woken once, not at every record, and without faust's
        warning and info line at every call (thousands in a burst of dues)."""
        if self.size <= self.max_messages:
            return
        target = self._handed_total + self.max_messages
        while self._taking and self._handed_total < target:
            seen = self._handed_total
            try:
                await asyncio.wait_for(self._waiter(target), timeout=0.1)
            except asyncio.TimeoutError:
                if self._handed_total == seen:
                    return

    def _waiter(self, target: int) -> asyncio.Future:
        """A future the task resolves once ``target`` records have been handed over, or once it stops taking."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        return waiter

    def _wake_waiters(self) -> None:
        waiting = []
        for target, waiter in self._waiters:
            if waiter.done():
                continue
            if self._handed_total >= target or not self._taking:
                waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._waiters = waiting
