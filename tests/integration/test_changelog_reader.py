"""The changelog reader reads a partition from its start to the end it was given, batch by batch, in order."""

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from tests.integration.conftest import produce
from worker.adapters import changelog_reader
from worker.adapters.changelog_reader import ChangelogReader


async def test_a_partition_is_read_from_its_start_up_to_the_end_given_and_no_further(settings, monkeypatch):
    monkeypatch.setattr(changelog_reader, "BATCH_RECORDS", 7)  # several batches
    topic = settings.topic_breaches
    await produce(settings, [(topic, b"k", str(n).encode()) for n in range(40)])
    reader = ChangelogReader(settings)
    partition = next(p for p, end in (await reader.end_offsets(topic, range(4))).items() if end)
    end = (await reader.end_offsets(topic, [partition]))[partition]
    await produce(settings, [(topic, b"k", b"later") for _ in range(5)])  # written after the end was taken

    batches: list[list] = []
    handed = await reader.read(topic, partition, 0, end, batches.append)
    values = [record.value for batch in batches for record in batch]
    assert values == [str(n).encode() for n in range(40)]
    assert handed == 40 and len(batches) >= 6
    assert all(len(batch) <= 7 for batch in batches)


async def test_after_a_kafka_error_the_read_goes_on_where_it_stopped(settings, monkeypatch):
    monkeypatch.setattr(changelog_reader, "BATCH_RECORDS", 7)
    monkeypatch.setattr(changelog_reader, "RETRY_SECONDS", (0.0,))
    topic = settings.topic_breaches
    await produce(settings, [(topic, b"k", str(n).encode()) for n in range(40)])
    reader = ChangelogReader(settings)
    partition = next(p for p, end in (await reader.end_offsets(topic, range(4))).items() if end)
    getmany = AIOKafkaConsumer.getmany
    calls = 0

    async def failing_third_fetch(self, *args, **kwargs):  # the connection drops after two batches
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KafkaConnectionError("connection lost (injected)")
        return await getmany(self, *args, **kwargs)

    monkeypatch.setattr(AIOKafkaConsumer, "getmany", failing_third_fetch)
    batches: list[list] = []
    handed = await reader.read(topic, partition, 0, 40, batches.append)
    assert [record.value for batch in batches for record in batch] == [str(n).encode() for n in range(40)]
    assert handed == 40 and calls > 3
