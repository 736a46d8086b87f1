"""Ticket writes held in memory per partition, and written to the table (and its changelog) in one go.

Every table write is a changelog record, which cost the worker about as much
per event as its own SLA logic (faust's send path, the producer, the broker),
and a ticket changed several times before the next write-out needs only its
last state in the changelog. A worker catching up on a backlog reads a
ticket's opened, response and updates close together: at the worker's
default batch size its CPU per event fell by a third (BENCHMARKS.md).

Writes may wait here because the offsets of the records that made them are
not committed until they have been written out: the runtime writes a
partition out at each of its ticks (and when many tickets or some time have
gathered), and once Kafka has their changelog records lets the commit cover
what it had processed by then. A crash or a rebalance before that reads those
records again, against the table.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from worker.service.staged_store import StagedStore
from worker.service.timer_service import StoredTicket


class WriteBack(StagedStore[StoredTicket]):
    """A StagedStore over the ticket table whose pending writes are applied one partition at a time."""

    def __init__(self, backing: MutableMapping[str, StoredTicket]) -> None:
        super().__init__(backing)
        self._keys: dict[int, dict[str, None]] = {}  # partition -> tickets with pending writes, in order

    def pending_in(self, partition: int) -> int:
        """Tickets of ``partition`` with writes not written out yet."""
        return len(self._keys.get(partition, ()))

    def write_out(self, partition: int) -> list[str]:
        """Write the partition's pending changes to the backing store; the tickets written (call while
        processing a record of it: faust's RocksDB store puts a write in the partition of that record)."""
        tickets = list(self._keys.pop(partition, {}))
        self.apply(tickets)
        return tickets

    def discard(self) -> None:
        super().discard()
        self._keys.clear()

    def __setitem__(self, key: str, value: StoredTicket) -> None:
        super().__setitem__(key, value)
        self._keys.setdefault(value.partition, {})[key] = None

    def __delitem__(self, key: str) -> None:
        partition = self[key].partition  # KeyError when there is no such ticket
        super().__delitem__(key)
        self._keys.setdefault(partition, {})[key] = None
