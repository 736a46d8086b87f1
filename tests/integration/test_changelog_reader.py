"""The changelog reader reads a partition from its start to the end it was given, batch by batch, in order."""

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
    handed = await reader.read(topic, partition, end, batches.append)
    values = [record.value for batch in batches for record in batch]
    assert values == [str(n).encode() for n in range(40)]
    assert handed == 40 and len(batches) >= 6
    assert all(len(batch) <= 7 for batch in batches)
