"""A faust store that reads a newly assigned partition's changelog itself, in batches, not through faust's
recovery one record at a time.

faust's recovery hands every changelog record through its fetcher and recovery
buffers: a million tickets took 160 s (BENCHMARKS.md). Here, when a changelog
partition is newly assigned and has records to read, the store notes its end
offset and reports the offset before it as persisted: faust's recovery reads
only what is written after that (records still landing from the previous
owner), while a ``ChangelogReader`` reads the rest, batch by batch, into the
store. Recovery completes, and the streams resume, only once those reads have
ended. Records faust's recovery applies for a key win over the reader's,
whichever comes first: they are later in the changelog.

Without a reader (``use``) the store is faust's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Optional

from faust.types import TP

from worker.adapters.changelog_reader import ChangelogReader
from worker.adapters.logs import get_logger

log = get_logger("incident_timer.changelog")
END_OFFSETS_TIMEOUT_SECONDS = 5.0  # asked during the rebalance: no heartbeat is sent meanwhile


class ChangelogReading:
    """Mixed into a faust store, before it. The store supplies ``_read_start``, ``_recovered_key`` and
    ``_apply``."""

    reader: Optional[ChangelogReader] = None
    app: Any
    table: Any

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[misc]
        self._on_unreadable: Callable[[], None] = lambda: None
        self._ends: dict[TP, int] = {}  # changelog partitions being read -> end offset when assigned
        self._reads: dict[TP, asyncio.Task] = {}
        self._recovered: set[Any] = set()  # keys faust's recovery applied while reads were running

    def use(self, reader: ChangelogReader, on_unreadable: Callable[[], None]) -> None:
        """Read newly assigned changelog partitions with ``reader`` from now on; call ``on_unreadable`` for
        each record read that does not decode."""
        self.reader = reader
        self._on_unreadable = on_unreadable

    # -- what the store supplies ------------------------------------------------
    def _read_start(self, tp: TP) -> int:
        """The first offset of ``tp`` the store lacks (0: all of them)."""
        raise NotImplementedError

    def _recovered_key(self, event: Any, to_key: Callable[[Any], Any]) -> Any:
        """The key faust's recovery applies ``event`` to, as ``_apply`` sees keys."""
        raise NotImplementedError

    def _apply(self, tp: TP, records: list[Any]) -> None:
        """Apply records read, in order, except to keys in ``self._recovered``."""
        raise NotImplementedError

    # -- faust's store interface ------------------------------------------------
    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        for tp in revoked:
            self._stop_read(tp)
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)  # type: ignore[misc]
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
            end, start = ends.get(tp.partition, 0), self._read_start(tp)
            if end > start:
                self._ends[tp] = end
                self._reads[tp] = asyncio.ensure_future(self._read(tp, start, end))

    def persisted_offset(self, tp: TP) -> Optional[int]:
        """For a partition being read, the last offset the reader reads: faust's recovery starts after it."""
        end = self._ends.get(tp)
        return super().persisted_offset(tp) if end is None else end - 1  # type: ignore[misc]

    def apply_changelog_batch(self, batch: Any, to_key: Any, to_value: Any) -> None:
        if self._reads:
            batch = list(batch)
            self._recovered.update(self._recovered_key(event, to_key) for event in batch
                                   if event.message.tp in self._reads)
        super().apply_changelog_batch(batch, to_key, to_value)  # type: ignore[misc]

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Wait for the reads of the partitions still assigned, then go on as the store does."""
        reads = [task for tp, task in self._reads.items() if tp in active_tps]
        if reads:
            await asyncio.wait(reads)
        for tp in [tp for tp, task in self._reads.items() if task.done()]:
            self._reads.pop(tp)
            self._ends.pop(tp, None)
        if not self._reads:
            self._recovered.clear()
        await super().on_recovery_completed(active_tps, standby_tps)  # type: ignore[misc]

    async def stop(self) -> None:
        """Stop the reads, then the store. Not in ``on_stop``: faust's RocksDB store replaces ``stop`` and
        never calls it."""
        for tp in list(self._reads):
            self._stop_read(tp)
        await super().stop()  # type: ignore[misc]

    # -- the reads ------------------------------------------------------------------
    def _stop_read(self, tp: TP) -> None:
        task = self._reads.pop(tp, None)
        self._ends.pop(tp, None)
        if task is not None:
            task.cancel()

    async def _read(self, tp: TP, start: int, end: int) -> None:
        assert self.reader is not None
        started = asyncio.get_running_loop().time()
        try:
            records = await self.reader.read(tp.topic, tp.partition, start, end, lambda batch: self._apply(tp, batch))
        except Exception as exc:  # noqa: BLE001 - not Kafka's (the reader retries those): a bug; stop the worker
            log.error("reading the changelog failed: stopping the worker", topic=tp.topic, partition=tp.partition,
                      error=repr(exc))
            await self.app.crash(exc)
            raise
        self._read_done(tp, end)
        log.info("changelog partition read", topic=tp.topic, partition=tp.partition, start=start, records=records,
                 seconds=round(asyncio.get_running_loop().time() - started, 3))

    def _read_done(self, tp: TP, end: int) -> None:
        """Called once ``tp`` is read up to ``end``."""
