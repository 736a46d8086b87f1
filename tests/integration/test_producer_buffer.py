"""The batching producer buffer on the embedded broker: faust's messages land in their partitions, in
queue order, and each message's future and callback learn its record's offset."""

from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from faust.types.tuples import FutureMessage, PendingMessage

from tests.integration.conftest import collect
from worker.adapters.kafka_admin import client_options
from worker.adapters.producer_buffer import BatchingProducerBuffer


class Channel:
    def __init__(self, topic: str) -> None:
        self.topic = topic

    def get_topic_name(self) -> str:
        return self.topic


def message(topic: str, partition: int, n: int, called: list) -> FutureMessage:
    return FutureMessage(PendingMessage(
        Channel(topic), f"T-{n % 7}".encode(), f'{{"n":{n}}}'.encode(), partition=partition, timestamp=None,
        headers={}, callback=called.append, key_serializer=None, value_serializer=None, topic=None, offset=None,
        generation_id=None,
    ))


@pytest.mark.parametrize("batch_bytes", [1, 600])
async def test_messages_land_in_their_partitions_in_queue_order_with_their_offsets(settings, batch_bytes):
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=False,
                                max_batch_size=batch_bytes)
    await producer.start()
    buffer = BatchingProducerBuffer()
    buffer.app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    called: list = []
    topic = settings.topic_breaches
    queued = [message(topic, n % 3, n, called) for n in range(150)]  # partitions 0-2 interleaved
    try:
        for fut in queued:
            buffer.put(fut)
        assert buffer.size == len(queued)
        await buffer.flush()
        assert buffer.size == 0
        await producer.flush()  # what faust's producer does after its buffer, before a commit
    finally:
        await producer.stop()

    assert all(fut.done() for fut in queued)
    assert sorted(map(id, called)) == sorted(map(id, queued))  # each callback once
    records = await collect(settings, [topic], lambda got: len(got) >= len(queued))
    assert len(records) == len(queued)
    by_place = {(r.partition, r.offset): r for r in records}
    for n, fut in enumerate(queued):
        metadata = fut.result()
        assert metadata.topic_partition.partition == n % 3
        landed = by_place[(metadata.topic_partition.partition, metadata.offset)]
        assert (landed.key, landed.value) == (fut.message.key, fut.message.value)
    for partition in range(3):
        numbers = [int(r.value[5:-1]) for r in sorted(records, key=lambda r: r.offset) if r.partition == partition]
        assert numbers == list(range(partition, len(queued), 3))
