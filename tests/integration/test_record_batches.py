"""Records sent as batches land where ``producer.send`` puts them, in order, on the embedded broker."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import collect
from worker.adapters.kafka_admin import client_options
from worker.adapters.record_batches import send_batched


@pytest.mark.parametrize("batch_bytes", [1, 600])
async def test_batched_records_keep_the_partition_and_order_of_send(settings, batch_bytes):
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=False,
                                max_batch_size=batch_bytes)
    await producer.start()
    try:
        keys = [f"T-{n % 37}".encode() for n in range(240)]
        sent = [(settings.topic_breaches, key, f'{{"n":{n}}}'.encode(), [("ce_id", str(n).encode())])
                for n, key in enumerate(keys)]
        delivered = await send_batched(producer, sent)
        await asyncio.gather(*delivered)
        # One record per batch at 1 byte (as send does); at 600 bytes about 15 (of 60 bytes each).
        if batch_bytes == 1:
            assert len(delivered) == len(sent)
        else:
            assert 4 <= len(delivered) <= len(sent) // 8
        placed_by_send = {
            key: (await (await producer.send(settings.topic_overdue, b"{}", key=key))).partition for key in set(keys)
        }
    finally:
        await producer.stop()

    records = await collect(settings, [settings.topic_breaches], lambda got: len(got) >= len(sent))
    assert len(records) == len(sent)
    assert len({r.partition for r in records}) > 1
    for r in records:
        n = int(dict(r.headers)["ce_id"])
        assert (r.key, r.value, r.partition) == (keys[n], f'{{"n":{n}}}'.encode(), placed_by_send[r.key])
    for partition in {r.partition for r in records}:
        in_log = sorted((r for r in records if r.partition == partition), key=lambda r: r.offset)
        numbers = [int(dict(r.headers)["ce_id"]) for r in in_log]
        assert numbers == sorted(numbers)
