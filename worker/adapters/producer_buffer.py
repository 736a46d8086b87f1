"""faust's producer buffer, handing its records to aiokafka as record batches.

Writing a faust table entry queues its changelog record in the producer's
buffer (``send_soon``). faust's buffer task publishes them one at a time
(``Topic.publish_message``: sensors, a per-record aiokafka ``send``, future and
callback), and while more than ``max_messages`` wait, faust's conductor holds
every agent until that many more have gone, one ``wait_for`` per record, with a
log line each time. In a burst of dues one tick writes tens of thousands of
tickets, and that path was about a third of the worker's CPU (BENCHMARKS.md).

This buffer takes everything queued at once and hands it over with
``record_batches.send_in_turns``: grouped by topic and partition in queue
order, a batch per partition in turn. Each message's future then gets its
record's metadata (the batch's first offset plus its place in the batch) and
its callback runs, as ``publish_message`` would do it (tables keep the
changelog offsets of RocksDB stores that way). faust's sensors are not told of
these sends (the worker exposes none of their figures).

Kept from faust: per-partition order; the conductor holds agents while more
than ``max_messages`` wait, until that many have been handed over. Changed:
``flush`` (before every offset commit, and on stop) returns once everything
queued before it has been handed over; faust's gave up after 0.1 s without
progress, so a commit could pass changelog records still waiting here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Optional

from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage
from mode import Service, get_logger

from worker.adapters.record_batches import Entry, send_in_turns

logger = get_logger(__name__)


class BatchingProducerBuffer(ProducerBuffer):
    """A ProducerBuffer for the event loop's own producer (not ``producer_threaded``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._queued: list[FutureMessage] = []
        self._held = 0  # taken from the queue, not handed over yet
        self._handed = 0  # handed over since start: flush_atmost counts these
        self._arrived = asyncio.Event()
        self._handing_over = asyncio.Lock()  # one lot at a time, so lots leave in queue order

    def put(self, fut: FutureMessage) -> None:
        self._queued.append(fut)
        self._arrived.set()

    @property
    def size(self) -> int:
        return len(self._queued) + self._held

    @Service.task
    async def _handle_pending(self) -> None:
        while not self.should_stop:
            await self._arrived.wait()
            self._arrived.clear()
            await self._hand_over_queued()

    async def flush(self) -> None:
        await self._hand_over_queued()

    async def flush_atmost(self, max_messages: Optional[int]) -> int:
        """Wait until ``max_messages`` more have been handed over (all, when None), the buffer is empty,
        or 0.1 s passes without any handed over; how many were."""
        start = self._handed
        while self.size and (max_messages is None or self._handed - start < max_messages):
            self.message_sent.clear()
            try:
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
            except asyncio.TimeoutError:
                break
        return self._handed - start

    async def wait_until_ebb(self) -> None:
        if self.size > self.max_messages:
            await self.flush_atmost(self.max_messages)

    async def _hand_over_queued(self) -> None:
        async with self._handing_over:
            lot, self._queued = self._queued, []
            self._held = len(lot)
            try:
                await self._hand_over(lot)
            finally:
                self._held = 0

    async def _hand_over(self, lot: list[FutureMessage]) -> None:
        faust_producer = self.app.producer
        groups: dict[tuple[str, int], list[Entry]] = {}
        messages: dict[tuple[str, int], list[FutureMessage]] = {}
        for fut in lot:
            message = fut.message
            topic = message.channel.get_topic_name()
            partition = message.partition
            if partition is None:
                partition = faust_producer.key_partition(topic, message.key).partition
            headers = message.headers
            entry = (
                message.key,
                message.value,
                list(headers.items()) if isinstance(headers, Mapping) else list(headers or ()),
                None if message.timestamp is None else int(message.timestamp * 1000),
            )
            groups.setdefault((topic, partition), []).append(entry)
            messages.setdefault((topic, partition), []).append(fut)
        handed = dict.fromkeys(messages, 0)
        try:
            async for acknowledged, topic_partition, start, end in send_in_turns(
                faust_producer._ensure_producer(), groups
            ):
                futures = messages[topic_partition][start:end]
                acknowledged.add_done_callback(lambda done, futures=futures: _settle(futures, done))
                handed[topic_partition] = end
                self._held -= end - start
                self._handed += end - start
                self.message_sent.set()
        except BaseException as exc:  # the messages not handed over learn it, as with faust's send
            for topic_partition, futures in messages.items():
                for fut in futures[handed[topic_partition]:]:
                    if isinstance(exc, Exception):
                        fut.set_exception(exc)
                    else:
                        fut.cancel()
            raise


def _settle(futures: list[FutureMessage], acknowledged: asyncio.Future) -> None:
    """Give each message of a batch its record's metadata and run its callback (or give it the error)."""
    try:
        first = acknowledged.result()
    except Exception as exc:  # noqa: BLE001 - handed on to the messages, as publish_message does
        logger.warning("changelog batch not acknowledged: %r (%d records)", exc, len(futures))
        for fut in futures:
            if not fut.done():
                fut.set_exception(exc)
        return
    for position, fut in enumerate(futures):
        if fut.done():
            continue
        if first is None:  # acks=0: no metadata
            fut.set_result(None)
            continue
        fut.set_result(first._replace(offset=first.offset + position))
        callback = fut.message.callback
        if callback is not None:
            callback(fut)
