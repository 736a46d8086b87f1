"""The batching producer buffer's order and failures, with a stand-in aiokafka producer.

The stand-in holds a hand-over until the test lets it go, and fails a hand-over
or an acknowledgement on demand, which the embedded broker cannot do.
"""

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.structs import RecordMetadata, TopicPartition
from faust.types.tuples import FutureMessage, PendingMessage

from worker.adapters.producer_buffer import BatchingProducerBuffer

PER_BATCH = 2


class Batch:
    def __init__(self) -> None:
        self.keys: list[bytes] = []

    def append(self, *, key, value, timestamp, headers):
        if len(self.keys) == PER_BATCH:
            return None
        self.keys.append(key)
        return object()


class StandInProducer:
    def __init__(self, fail_hand_over_at: int | None = None, fail_ack: bool = False) -> None:
        self.handed: list[bytes] = []
        self.acks: list[asyncio.Future] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()
        self.fail_hand_over_at, self.fail_ack = fail_hand_over_at, fail_ack

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future:
        self.waiting.set()
        await self.gate.wait()
        if self.fail_hand_over_at is not None and len(self.handed) >= self.fail_hand_over_at:
            raise RuntimeError("accumulator timed out")
        ack = asyncio.get_running_loop().create_future()
        tp = TopicPartition(topic, partition)
        if self.fail_ack:
            ack.set_exception(RuntimeError("not acknowledged"))
        else:
            ack.set_result(RecordMetadata(topic, partition, tp, 10 * len(self.handed), -1, 0, 0))
        self.handed += batch.keys
        return ack


def buffer_for(producer: StandInProducer) -> BatchingProducerBuffer:
    buffer = BatchingProducerBuffer()
    buffer.app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    return buffer


def put(buffer: BatchingProducerBuffer, keys: list[str], called: list) -> list[FutureMessage]:
    channel = SimpleNamespace(get_topic_name=lambda: "changelog")
    queued = [FutureMessage(PendingMessage(
        channel, key.encode(), b"{}", partition=0, timestamp=None, headers={}, callback=called.append,
        key_serializer=None, value_serializer=None, topic=None, offset=None, generation_id=None,
    )) for key in keys]
    for fut in queued:
        buffer.put(fut)
    return queued


async def test_a_flush_waits_for_the_lot_being_handed_over_and_keeps_queue_order():
    producer = StandInProducer()
    buffer = buffer_for(producer)
    called: list = []
    first = put(buffer, ["a", "b", "c"], called)
    producer.gate.clear()
    handing = asyncio.create_task(buffer._hand_over_queued())
    await producer.waiting.wait()  # "a" and "b" wait at the gate
    second = put(buffer, ["d", "e"], called)
    flushing = asyncio.create_task(buffer.flush())
    assert buffer.size == 5
    producer.gate.set()
    await asyncio.gather(handing, flushing)
    assert producer.handed == [b"a", b"b", b"c", b"d", b"e"]
    assert buffer.size == 0
    await asyncio.gather(*first, *second)  # settled by the acknowledgements' callbacks
    assert [fut.result().offset for fut in first + second] == [0, 1, 20, 30, 31]
    assert [fut.message.key for fut in called] == [b"a", b"b", b"c", b"d", b"e"]


async def test_messages_not_handed_over_get_the_error_and_it_is_raised():
    producer = StandInProducer(fail_hand_over_at=PER_BATCH)
    buffer = buffer_for(producer)
    called: list = []
    queued = put(buffer, ["a", "b", "c", "d"], called)
    with pytest.raises(RuntimeError, match="accumulator timed out"):
        await buffer.flush()
    assert [metadata.offset for metadata in await asyncio.gather(*queued[:2])] == [0, 1]
    for fut in queued[2:]:
        with pytest.raises(RuntimeError, match="accumulator timed out"):
            fut.result()
    assert buffer.size == 0
    assert called == queued[:2]


async def test_an_unacknowledged_batch_fails_its_messages_and_runs_no_callback():
    buffer = buffer_for(StandInProducer(fail_ack=True))
    called: list = []
    queued = put(buffer, ["a", "b", "c"], called)
    await buffer.flush()
    await asyncio.gather(*queued, return_exceptions=True)
    for fut in queued:
        with pytest.raises(RuntimeError, match="not acknowledged"):
            fut.result()
    assert called == []
