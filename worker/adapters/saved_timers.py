"""A RocksDB store that saves its partitions' timers at a graceful stop, and gives them back at the next start
when its files still hold exactly what they held then.

A warm restart otherwise reads every ticket back to rebuild the due heaps:
4-5 s of a million tickets' 7 s restart (BENCHMARKS.md). At ``stop`` the
store writes each partition's timers, as the runtime hands them over (see
``TimerApp.timers_to_save``), to a file beside the partition's database
(``timers_file``), with the changelog offset the database has persisted.
Changes not written to the table yet are left out (``PartitionTimers.before``):
their input records are read again after the restart.

When a partition is next assigned, in any role, its file is read and
removed at once, before anything can write to the database. The timers are
used only if the partition is active, the database's persisted offset is not
before the one saved (acknowledgements may still land after the save), and
nothing is applied to it before the rebuild takes them: no read of the
changelog's tail (``ChangelogReading``) and no record from faust's recovery.
Otherwise the heaps are rebuilt from the tickets, as without a file. A write
to the store after the files were written (at stop) removes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faust.stores import rocksdb
from faust.types import TP

from worker.adapters import timers_file
from worker.adapters.logs import get_logger
from worker.service.timer_service import PartitionTimers

log = get_logger("incident_timer.saved_timers")
SUFFIX = ".timers"


class SavedTimers:
    """Mixed into the RocksDB store, before ``ChangelogReading`` (it reads which partitions are being read)."""

    app: Any
    table: Any
    _dbs: dict[int, Any]
    _reads: dict[TP, Any]

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[misc]
        self._timers_to_save: Callable[[], dict[int, PartitionTimers]] = dict
        self._restorable: dict[int, tuple[bytes, int]] = {}  # partition -> its file's bytes, persisted offset
        self._saved: list[Path] = []  # files written at stop

    def save_timers_from(self, timers: Callable[[], dict[int, PartitionTimers]]) -> None:
        """At stop, save what ``timers`` returns: partitions whose timers stand for what the store holds."""
        self._timers_to_save = timers

    def restored_timers(self) -> dict[int, PartitionTimers]:
        """The saved timers of the partitions the store holds unchanged since they were saved; each given once."""
        restorable, self._restorable = self._restorable, {}
        restored = {}
        for partition, (raw, offset) in restorable.items():
            try:
                restored[partition] = timers_file.decode(raw, offset)
            except ValueError as exc:
                log.warning("saved timers not used: the due heaps are rebuilt from the tickets", partition=partition,
                            reason=str(exc))
        return restored

    # -- faust's store interface ------------------------------------------------
    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP],
                           generation_id: int = 0) -> None:
        for tp in revoked:
            self._restorable.pop(tp.partition, None)
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)  # type: ignore[misc]
        changelog = self.table.changelog_topic.get_topic_name()
        actives = self.app.assignor.assigned_actives()
        for tp in sorted(tp for tp in newly_assigned if tp.topic == changelog):
            raw = self._take(tp.partition)
            if raw is None:
                continue
            offset = rocksdb.Store.persisted_offset(self, tp)  # type: ignore[arg-type]
            if tp not in actives:
                log.info("saved timers not used: the partition is a standby here", partition=tp.partition)
            elif tp in self._reads or offset is None:
                log.info("saved timers not used: the changelog has records the local files lack",
                         partition=tp.partition)
            else:
                self._restorable[tp.partition] = (raw, offset)

    def apply_changelog_batch(self, batch: Any, to_key: Any, to_value: Any) -> None:
        if self._restorable:
            batch = list(batch)
            for event in batch:
                partition = event.message.partition
                if self._restorable.pop(partition, None) is not None:
                    log.info("saved timers not used: faust's recovery applied records", partition=partition)
        super().apply_changelog_batch(batch, to_key, to_value)  # type: ignore[misc]

    def _set(self, key: bytes, value: Any) -> None:
        if self._saved:
            self._remove_saved()
        super()._set(key, value)  # type: ignore[misc]

    def _del(self, key: bytes) -> None:
        if self._saved:
            self._remove_saved()
        super()._del(key)  # type: ignore[misc]

    async def stop(self) -> None:
        self._save()
        await super().stop()  # type: ignore[misc]

    # -- the files --------------------------------------------------------------------
    def _path(self, partition: int) -> Path:
        database = self.partition_path(partition)  # type: ignore[attr-defined]
        return database.with_name(database.name.removesuffix(".db") + SUFFIX)

    def _take(self, partition: int) -> bytes | None:
        """The partition's file, removed: an error to remove it stops the worker, as the file might outlive a
        change to the store and be taken for it later."""
        path = self._path(partition)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("saved timers unreadable: the due heaps are rebuilt from the tickets", path=str(path),
                        error=repr(exc))
            raw = None
        path.unlink(missing_ok=True)
        return raw

    def _save(self) -> None:
        started = time.monotonic()
        changelog = self.table.changelog_topic.get_topic_name()
        saved, tickets = [], 0
        for partition, timers in sorted(self._timers_to_save().items()):
            offset = rocksdb.Store.persisted_offset(self, TP(changelog, partition)) \
                if partition in self._dbs else None  # type: ignore[arg-type]
            if offset is None:
                continue
            path = self._path(partition)
            partial = path.with_name(path.name + ".partial")
            try:
                partial.write_bytes(timers_file.encode(timers, offset))
                os.replace(partial, path)
            except OSError as exc:
                log.warning("timers not saved: the next start rebuilds them from the tickets", partition=partition,
                            error=repr(exc))
                continue
            self._saved.append(path)
            saved.append(partition)
            tickets += len(timers.heap)
        if saved:
            log.info("timers saved for the next start", partitions=saved, heap_entries=tickets,
                     seconds=round(time.monotonic() - started, 3))

    def _remove_saved(self) -> None:
        log.warning("the store changed after its timers were saved: removing them", files=len(self._saved))
        for path in self._saved:
            path.unlink(missing_ok=True)
        self._saved.clear()
