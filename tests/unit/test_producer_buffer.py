"""The producer buffer's flush covers every record queued before it, however slow the hand-over.

A stand-in channel plays aiokafka's part: it takes each record only once the
test's timer opens its gate, as a broker that has not yet taken the previous
batch would. faust's own buffer fails these tests (its flush gives up after
0.1 s without a record handed over).
"""

import asyncio
from types import SimpleNamespace

from faust.types.tuples import FutureMessage, PendingMessage

from worker.adapters.producer_buffer import CommitSafeProducerBuffer

SLOW_BROKER_SECONDS = 0.3  # past the 0.1 s after which faust's flush gives up


class SlowChannel:
    def __init__(self) -> None:
        self.handed: list[bytes] = []
        self.gate = asyncio.Event()
        asyncio.get_running_loop().call_later(SLOW_BROKER_SECONDS, self.gate.set)

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> None:
        await self.gate.wait()
        self.handed.append(fut.message.key)


def put(buffer: CommitSafeProducerBuffer, channel: SlowChannel, keys: list[bytes]) -> None:
    for key in keys:
        buffer.put(FutureMessage(PendingMessage(
            channel, key, b"{}", partition=0, timestamp=None, headers={}, callback=None,
            key_serializer=None, value_serializer=None, topic=None, offset=None, generation_id=None,
        )))


def new_buffer() -> CommitSafeProducerBuffer:
    buffer = CommitSafeProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    return buffer


async def test_a_flush_returns_once_everything_queued_is_handed_over_in_order():
    buffer = new_buffer()
    await buffer.start()
    try:
        channel = SlowChannel()
        put(buffer, channel, [b"a", b"b", b"c"])
        await buffer.flush()
        assert channel.handed == [b"a", b"b", b"c"]
        assert buffer.size == 0
    finally:
        await buffer.stop()


async def test_stopping_hands_over_what_is_queued():
    buffer = new_buffer()
    await buffer.start()
    channel = SlowChannel()
    put(buffer, channel, [b"a", b"b", b"c"])
    await buffer.stop()
    assert channel.handed == [b"a", b"b", b"c"]


async def test_a_flush_without_the_task_hands_over_by_itself():
    buffer = new_buffer()  # not started: as after its task failed
    channel = SlowChannel()
    put(buffer, channel, [b"a", b"b"])
    await buffer.flush()
    assert channel.handed == [b"a", b"b"]


class RecordingChannel:
    def __init__(self) -> None:
        self.handed: list[bytes] = []
        self.took_one = asyncio.Event()

    async def publish_message(self, fut: FutureMessage, wait: bool = False) -> None:
        self.handed.append(fut.message.key)
        self.took_one.set()


async def test_a_flush_under_steady_writes_ends_when_what_was_queued_before_it_is_handed_over():
    buffer = new_buffer()
    await buffer.start()
    channel = RecordingChannel()

    async def agent() -> None:  # writes another record each time one has been handed over
        for n in range(1000):
            await channel.took_one.wait()
            channel.took_one.clear()
            put(buffer, channel, [str(n).encode()])

    writing = asyncio.create_task(agent())
    try:
        put(buffer, channel, [b"a", b"b", b"c"])
        await buffer.flush()
        assert channel.handed[:3] == [b"a", b"b", b"c"]
        assert len(channel.handed) < 10  # not held until the buffer is empty (1,000 records on)
    finally:
        writing.cancel()
        await buffer.stop()


async def test_the_agents_are_held_until_max_messages_more_are_handed_over_without_a_log_line(caplog):
    buffer = new_buffer()
    await buffer.start()
    try:
        channel = SlowChannel()
        channel.gate.set()  # a broker that keeps up
        put(buffer, channel, [str(n).encode() for n in range(buffer.max_messages * 3)])
        with caplog.at_level("INFO"):
            await buffer.wait_until_ebb()
        assert len(channel.handed) >= buffer.max_messages
        assert caplog.records == []
    finally:
        await buffer.stop()


async def test_a_flush_after_the_task_was_cancelled_before_its_first_step_hands_over_by_itself():
    """mode counts the buffer as taking records from on_start; a task cancelled before it ran never says
    it stopped, and a flush then waited for good."""
    buffer = new_buffer()
    await buffer.on_start()  # as in start(); the task itself never runs here
    channel = SlowChannel()
    put(buffer, channel, [b"a", b"b"])
    await buffer.on_shutdown()  # mode calls it once the service's tasks are cancelled
    await asyncio.wait_for(buffer.flush(), timeout=5)  # a bound on a hang, not a wait
    assert channel.handed == [b"a", b"b"]
