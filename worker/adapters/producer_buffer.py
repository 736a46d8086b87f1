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
processed. This flush hands over, in queue order, everything queued when it
starts, together with the task; it gives up only when handing over fails, and
then raises, so the commit does not happen.
"""

from __future__ import annotations

import asyncio

from faust.transport.producer import ProducerBuffer
from mode import Service


class CommitSafeProducerBuffer(ProducerBuffer):
    """A ProducerBuffer for the event loop's own producer (not ``producer_threaded``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._in_hand = 0  # the record being handed over
        self._handing_over = asyncio.Lock()  # one record at a time, task or flush: queue order

    @property
    def size(self) -> int:
        return self.pending.qsize() + self._in_hand

    @Service.task
    async def _handle_pending(self) -> None:
        while not self.should_stop:
            async with self._handing_over:  # held while waiting: a flush finds nothing queued then
                fut = await self.pending.get()
                self._in_hand = 1
                try:
                    await self._send_pending(fut)
                finally:
                    self._in_hand = 0
            self.message_sent.set()

    async def flush(self) -> None:
        while self.size:
            async with self._handing_over:  # waits for the record in hand
                if not self.pending.empty():
                    await self._send_pending(self.pending.get_nowait())
                    self.message_sent.set()
