"""Reading a partition of a changelog up to a given end, in batches, with a consumer of its own.

faust's recovery hands each changelog record through its fetcher, the
recovery queue and buffers one at a time (about 6,300 records/s on this
machine: 160 s for a million tickets, BENCHMARKS.md). A plain consumer reads
whole fetches at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from worker.adapters.kafka_admin import client_options
from worker.adapters.logs import get_logger
from worker.settings import WorkerSettings

log = get_logger("incident_timer.changelog")
BATCH_RECORDS = 5_000  # records handed over at a time: the event loop runs other work in between
PARTITION_FETCH_BYTES = 8 * 1024 * 1024
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # waits after a failed read, the last repeated


class ChangelogReader:
    """Reads changelog partitions with short-lived consumers outside any group."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings

    def _consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings), group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
            fetch_max_wait_ms=int(self.settings.fetch_max_wait.total_seconds() * 1000),
        )

    async def end_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        """Each partition's end offset: the offset the next record written to it will get."""
        consumer = self._consumer()
        await consumer.start()
        try:
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        finally:
            await consumer.stop()
        return {tp.partition: offset for tp, offset in ends.items()}

    async def read(
        self, topic: str, partition: int, start: int, end: int, apply: Callable[[list[Any]], None]
    ) -> int:
        """Hand ``apply`` the records of the partition from ``start`` (or its first offset, if later) up to
        ``end`` (exclusive), in order, a batch at a time; the records handed over. Kafka's errors are logged
        and the read goes on where it was, after a wait, until it succeeds or is cancelled; an error of
        ``apply`` ends it."""
        tp = TopicPartition(topic, partition)
        position = start  # the offset to read from next (before the partition's first: from its first)
        handed = 0
        failures = 0
        while True:
            consumer = self._consumer()
            try:
                await consumer.start()
                consumer.assign([tp])
                consumer.seek(tp, position)  # out of range: auto_offset_reset="earliest"
                while await consumer.position(tp) < end:
                    fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=BATCH_RECORDS)
                    records = [record for record in fetched.get(tp, ()) if record.offset < end]
                    if records:
                        apply(records)
                        handed += len(records)
                        position = records[-1].offset + 1
                        failures = 0
                return handed
            except (KafkaError, OSError, asyncio.TimeoutError) as exc:
                wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("reading the changelog failed: trying again", topic=topic, partition=partition,
                            offset=position, records_read=handed, retry_in_s=wait, error=repr(exc))
                await asyncio.sleep(wait)
            finally:
                await consumer.stop()
