"""faust's memory store, reading a newly assigned partition's changelog itself (``changelog_reading``).

Registered as the ``timermemory`` store through faust's ``faust.stores`` entry
point. faust's memory store has no persisted offsets: every partition assigned
is read from its start. Keys and values are decoded as they are read
(``store_decoding``); a ticket keeps its state encoded until it is first read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.stores import memory
from faust.types import TP

from worker.adapters.changelog_reading import ChangelogReading
from worker.adapters.logs import get_logger
from worker.adapters.store_decoding import DirectDecoding

log = get_logger("incident_timer.changelog")


class Store(ChangelogReading, DirectDecoding, memory.Store):
    """The ticket table's memory store (see the module)."""

    def _read_start(self, tp: TP) -> int:
        return 0

    def _recovered_key(self, event: Any, to_key: Callable[[Any], Any]) -> Any:
        return to_key(event.key)

    def _apply(self, tp: TP, records: list[Any]) -> None:
        data, partitions, recovered = self.data, self._key_partition, self._recovered
        to_key, to_value = self.table._to_key, self.table._to_value
        read_key, read_value = self._decode_key, self._decode_value
        for record in records:
            try:
                key = to_key(read_key(record.key))
                if key in recovered:
                    continue
                if record.value is None:
                    data.pop(key, None)
                    partitions.pop(key, None)
                else:
                    data[key] = to_value(read_value(record.value))
                    partitions[key] = tp.partition
            except Exception as exc:  # noqa: BLE001 - a record this build cannot read: report it, go on
                self._on_unreadable()
                log.error("changelog record not readable: skipped, its ticket keeps its earlier state",
                          topic=tp.topic, partition=tp.partition, offset=record.offset, error=repr(exc))
