"""faust's RocksDB store, reading with the table's codecs directly (``store_decoding``), reading what a
newly assigned partition's local files lack from the changelog itself (``changelog_reading``), and saving
its partitions' timers at a graceful stop for the next start (``saved_timers``).

Registered as the ``timerrocksdb`` store through faust's ``faust.stores`` entry
point. Every read of a RocksDB table decodes its value; a warm restart reads
every ticket to rebuild the due heaps, unless their saved timers stand. A partition new to this worker's data
directory (a new pod, a lost volume, a partition moved here by a rebalance),
or the tail a restart finds, is read from where its local files stop, and
written as it was read: the bytes of each batch in one RocksDB write batch,
then the partition's persisted offset.
While a read runs, the offsets faust's recovery would persist for the partition
wait until it ends: persisted earlier, they would claim records not yet written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from faust.stores import rocksdb
from faust.types import TP

from worker.adapters.changelog_reading import ChangelogReading
from worker.adapters.saved_timers import SavedTimers
from worker.adapters.store_decoding import DirectDecoding
from worker.adapters.ticket_table import timer_fields
from worker.service.timer_service import TimerEntry


class Store(SavedTimers, ChangelogReading, DirectDecoding, rocksdb.Store):
    """The ticket table's RocksDB store (see the module)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._held_offsets: dict[TP, int] = {}  # offsets faust's recovery set while the partition was read

    def timer_entries(self, partitions: Iterable[int]) -> Iterator[TimerEntry]:
        """The tickets of these partitions as the due heaps need them, their states left unparsed
        (``timer_fields``)."""
        read_key = self._key_and_value_readers()[0]
        for partition in partitions:
            for key, value in self._visible_items(self._db_for_partition(partition)):
                yield (read_key(key), *timer_fields(value))

    def _read_start(self, tp: TP) -> int:
        local = rocksdb.Store.persisted_offset(self, tp)
        return 0 if local is None else local + 1

    def _recovered_key(self, event: Any, to_key: Callable[[Any], Any]) -> Any:
        return event.message.key  # faust writes the record's own bytes

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        read = self._reads.get(tp)
        if read is not None and not read.done():
            self._held_offsets[tp] = max(offset, self._held_offsets.get(tp, offset))
        else:
            super().set_persisted_offset(tp, offset)

    def _apply(self, tp: TP, records: list[Any]) -> None:
        batch = rocksdb.rocksdict.WriteBatch(raw_mode=True) if self.use_rocksdict else rocksdb.rocksdb.WriteBatch()
        recovered = self._recovered
        for record in records:
            if record.key in recovered:
                continue
            if record.value is None:
                batch.delete(record.key)
            else:
                batch.put(record.key, record.value)
        self._db_for_partition(tp.partition).write(batch)
        rocksdb.Store.set_persisted_offset(self, tp, records[-1].offset)

    def _read_done(self, tp: TP, end: int) -> None:
        rocksdb.Store.set_persisted_offset(self, tp, max(end - 1, self._held_offsets.pop(tp, end - 1)))
