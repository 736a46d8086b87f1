"""faust's memory store, except that a newly assigned partition's changelog is read in batches, not by
faust's recovery one record at a time.

Registered as the ``timermemory`` store through faust's ``faust.stores`` entry
point. faust's memory store has no persisted offsets, so faust's recovery reads
every changelog record of every partition assigned, through its fetcher and
recovery buffers: a million tickets took 160 s (BENCHMARKS.md). Here, when a
changelog partition is newly assigned, the store notes its end offset and
reports the offset before it as persisted: faust's recovery reads only what is
written after that (records still landing from the previous owner), while a
``ChangelogReader`` reads the rest, batch by batch, into the store. Recovery
completes, and the streams resume, only once those reads have ended.

Records faust's recovery applies for a key win over the reader's, whichever
comes first: they are later in the changelog. Without a reader (``use``) the
store is faust's memory store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Optional

from faust.stores import memory
from faust.types import TP

from worker.adapters.changelog_reader import ChangelogReader
from worker.adapters.logs import get_logger
from worker.adapters.store_decoding import DirectDecoding

log = get_logger("incident_timer.changelog")
END_OFFSETS_TIMEOUT_SECONDS = 5.0  # asked during the rebalance: no heartbeat is sent meanwhile


class Store(DirectDecoding, memory.Store):
    """The ticket table's memory store (see the module)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reader: Optional[ChangelogReader] = None
        self._on_unreadable: Callable[[], None] = lambda: None
        self._ends: dict[TP, int] = {}  # changelog partitions read by the reader -> end offset when assigned
        self._reads: dict[TP, asyncio.Task] = {}
        self._recovered: set[Any] = set()  # keys faust's recovery applied while reads were running

    def use(self, reader: ChangelogReader, on_unreadable: Callable[[], None]) -> None:
        """Read newly assigned changelog partitions with ``reader`` from now on; call ``on_unreadable`` for
        each record it reads that does not decode."""
        self.reader = reader
        self._on_unreadable = on_unreadable

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        for tp in revoked:
            self._stop_read(tp)
        changelog = self.table.changelog_topic.get_topic_name()
        actives = self.app.assignor.assigned_actives()
        tps = {tp for tp in newly_assigned if tp.topic == changelog and tp in actives and tp not in self._reads}
        if self.reader is None or not tps:
            return
        try:
            ends = await asyncio.wait_for(self.reader.end_offsets(changelog, {tp.partition for tp in tps}),
                                          END_OFFSETS_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - any client error: faust's recovery reads them instead
            log.warning("changelog end offsets unavailable: faust's recovery reads the partitions record by record",
                        partitions=sorted(tp.partition for tp in tps), error=repr(exc))
            return
        for tp in tps:
            end = ends.get(tp.partition)
            if end:
                self._ends[tp] = end
                self._reads[tp] = asyncio.ensure_future(self._read(tp, end))

    def persisted_offset(self, tp: TP) -> Optional[int]:
        """The last offset the reader reads, for a partition it reads: faust's recovery starts after it."""
        end = self._ends.get(tp)
        return None if end is None else end - 1

    def apply_changelog_batch(self, batch: Any, to_key: Any, to_value: Any) -> None:
        if self._reads:
            batch = list(batch)
            self._recovered.update(to_key(event.key) for event in batch if event.message.tp in self._reads)
        super().apply_changelog_batch(batch, to_key, to_value)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Wait for the reads of the partitions still assigned; then faust's memory store drops the keys
        of the others."""
        reads = [task for tp, task in self._reads.items() if tp in active_tps]
        if reads:
            await asyncio.wait(reads)
        for tp in [tp for tp, task in self._reads.items() if task.done()]:
            self._reads.pop(tp)
            self._ends.pop(tp, None)
        if not self._reads:
            self._recovered.clear()
        await super().on_recovery_completed(active_tps, standby_tps)

    async def on_stop(self) -> None:
        for tp in list(self._reads):
            self._stop_read(tp)
        await super().on_stop()

    def _stop_read(self, tp: TP) -> None:
        task = self._reads.pop(tp, None)
        self._ends.pop(tp, None)
        if task is not None:
            task.cancel()

    async def _read(self, tp: TP, end: int) -> None:
        assert self.reader is not None
        started = asyncio.get_running_loop().time()
        try:
            records = await self.reader.read(tp.topic, tp.partition, end, lambda batch: self._apply(tp, batch))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - not Kafka's (the reader retries those): a bug; stop the worker
            log.error("reading the changelog failed: stopping the worker", topic=tp.topic, partition=tp.partition,
                      error=repr(exc))
            await self.app.crash(exc)
            raise
        log.info("changelog partition read", topic=tp.topic, partition=tp.partition, records=records,
                 seconds=round(asyncio.get_running_loop().time() - started, 3))

    def _apply(self, tp: TP, records: list[Any]) -> None:
        """Apply records read, in order, except to keys faust's recovery has applied since."""
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

