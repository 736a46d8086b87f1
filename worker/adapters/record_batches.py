"""Many records handed to an aiokafka producer as record batches: one future per batch, not per record.

``AIOKafkaProducer.send`` costs a partitioner call, an accumulator lookup and a
future per record, and the caller then waits on every future; in a burst of
dues (tens of thousands of breaches from one tick) that per-record path was a
large part of the worker's CPU (BENCHMARKS.md). aiokafka's public batch API
(``create_batch``, ``send_batch``) takes records already grouped by partition.

Records go to the partition ``producer.send`` would choose for their key
(Kafka's default partitioner: murmur2 of the key over the topic's partitions
in order), in the order given within each partition. A batch holds records up
to the producer's ``max_batch_size``, and always at least one, as ``send`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

Headers = list[tuple[str, bytes]]
_partitioner = DefaultPartitioner()


async def send_batched(
    producer: Any, records: Iterable[tuple[str, bytes | None, bytes | None, Headers]]
) -> list[asyncio.Future]:
    """Send ``(topic, key, value, headers)`` records; the futures of their batches' acknowledgements."""
    by_partition: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Headers]]] = {}
    partitions_of: dict[str, list[int]] = {}
    for topic, key, value, headers in records:
        partitions = partitions_of.get(topic)
        if partitions is None:
            partitions = partitions_of[topic] = sorted(await producer.partitions_for(topic))
        by_partition.setdefault((topic, _partitioner(key, partitions, partitions)), []).append((key, value, headers))
    delivered = []
    for (topic, partition), group in by_partition.items():
        delivered += await send_to_partition(producer, topic, partition, group)
    return delivered


async def send_to_partition(
    producer: Any, topic: str, partition: int, records: Iterable[tuple[bytes | None, bytes | None, Headers]]
) -> list[asyncio.Future]:
    """Send ``(key, value, headers)`` records to one partition, in order; the futures of their batches."""
    delivered = []
    batch = producer.create_batch()
    for key, value, headers in records:
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:  # full
            delivered.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=headers)  # the first always fits
    delivered.append(await producer.send_batch(batch, topic, partition=partition))
    return delivered
