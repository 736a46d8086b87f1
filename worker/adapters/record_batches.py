"""Many records handed to an aiokafka producer as record batches: one future per batch, not per record.

``AIOKafkaProducer.send`` costs a partitioner call, an accumulator lookup and a
future per record, and the caller then waits on every future; in a burst of
dues (tens of thousands of breaches from one tick) that per-record path was a
large part of the worker's CPU (BENCHMARKS.md). aiokafka's public batch API
(``create_batch``, ``send_batch``) takes records already grouped by partition.

A batch holds records up to the producer's ``max_batch_size``, and always at
least one, as ``send`` does. aiokafka holds one batch per partition until it
is sent, and a request carries one batch of each partition, so batches are
handed over one partition after another, in turns: the partitions' batches
travel together instead of each partition waiting for the one before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

Headers = list[tuple[str, bytes]]
Entry = tuple[bytes | None, bytes | None, Headers, int | None]  # key, value, headers, timestamp in ms (None: now)
_partitioner = DefaultPartitioner()


async def send_in_turns(
    producer: Any, groups: dict[tuple[str, int], list[Entry]]
) -> AsyncIterator[tuple[asyncio.Future, tuple[str, int], int, int]]:
    """Hand each ``(topic, partition)``'s entries over in order, a batch per partition in turn.

    Yields, as each batch is handed over: the future of its acknowledgement
    (aiokafka's metadata of its first record), its topic and partition, and the
    slice ``[start, end)`` of that partition's entries it holds.
    """
    turn = [(topic_partition, entries, 0) for topic_partition, entries in groups.items() if entries]
    while turn:
        next_turn = []
        for (topic, partition), entries, start in turn:
            batch = producer.create_batch()
            end = start
            while end < len(entries):  # the first always fits
                key, value, headers, timestamp = entries[end]
                if batch.append(key=key, value=value, timestamp=timestamp, headers=headers) is None:
                    break
                end += 1
            acknowledged = await producer.send_batch(batch, topic, partition=partition)
            yield acknowledged, (topic, partition), start, end
            if end < len(entries):
                next_turn.append(((topic, partition), entries, end))
        turn = next_turn


async def send_batched(
    producer: Any, records: Iterable[tuple[str, bytes | None, bytes | None, Headers]]
) -> list[asyncio.Future]:
    """Send ``(topic, key, value, headers)`` records; the futures of their batches' acknowledgements.

    Records go to the partition ``producer.send`` would choose for their key
    (Kafka's default partitioner: murmur2 of the key over the topic's partitions
    in order), in the order given within each partition.
    """
    groups: dict[tuple[str, int], list[Entry]] = {}
    partitions_of: dict[str, list[int]] = {}
    for topic, key, value, headers in records:
        partitions = partitions_of.get(topic)
        if partitions is None:
            partitions = partitions_of[topic] = sorted(await producer.partitions_for(topic))
        groups.setdefault((topic, _partitioner(key, partitions, partitions)), []).append((key, value, headers, None))
    return [acknowledged async for acknowledged, *_ in send_in_turns(producer, groups)]
