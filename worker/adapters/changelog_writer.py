"""A partition's written-out ticket states sent to the table's changelog as record batches, and the commit
told once Kafka has them.

faust writes each table entry's changelog record itself, one record at a time
(a future, its producer buffer, a hand-over task, aiokafka's per-record send):
in a burst of dues that path was a quarter of the worker's busy time
(BENCHMARKS.md). A write-out now puts the states into the table's store
directly, and this sends their changelog records as batches to the changelog
partition of the input partition, the one faust would choose (the table is
co-partitioned with the inputs).

A write-out's input offsets may be committed only once every record of it is
acknowledged, and every earlier write-out of the partition too: each
write-out's token (the offsets) waits here until then and goes to
``on_written`` in write-out order. Records Kafka refuses or does not
acknowledge are sent again, RESEND_SECONDS later, with the tickets' states as
the store holds them then (never older than what a later write-out sent), until
Kafka has them; the partition's commits wait meanwhile. RocksDB's persisted
offset (where its recovery resumes reading the changelog) follows the
acknowledgements, as faust's own changelog callback moves it. A rebalance
stops the sending again (``reset``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from faust.types import TP

from worker.adapters.logs import get_logger
from worker.adapters.ticket_table import TicketCodec, TicketKeyCodec

log = get_logger("incident_timer.worker")
RESEND_SECONDS = 1.0


@dataclass(slots=True)
class _WriteOut:
    token: Any
    tickets: Collection[str]
    acknowledged: bool = False


class ChangelogWriter:
    """Sends write-outs to ``topic`` through ``producer().send_to_partition``; reads the states from
    ``store()`` (the table's faust store); tells ``on_resend`` the records it sends again."""

    def __init__(
        self, topic: str, store: Callable[[], Any], producer: Callable[[], Any],
        on_written: Callable[[int, Any], None], on_resend: Callable[[int], None] = lambda records: None,
    ) -> None:
        self.topic = topic
        self._store = store
        self._producer = producer
        self._on_written = on_written
        self._on_resend = on_resend  # told how many records are sent again
        self._keys, self._values = TicketKeyCodec(), TicketCodec()  # the table's own codecs
        self._waiting: dict[int, deque[_WriteOut]] = {}  # partition -> write-outs not handed to on_written
        self._persisted: dict[int, int] = {}  # partition -> highest changelog offset acknowledged
        self._confirming: set[asyncio.Task] = set()
        self._resets = 0  # a write-out sent before the last reset is never sent again

    async def settled(self) -> None:
        """Until every write-out sent so far is acknowledged (or given up by ``reset``)."""
        if self._confirming:
            await asyncio.wait(set(self._confirming))

    async def write(self, partition: int, tickets: Collection[str], token: Any) -> None:
        """Send the changelog records of ``tickets`` (a tombstone for those no longer in the store);
        ``token`` goes to ``on_written`` once Kafka has them and every earlier write-out of the partition."""
        write_out = _WriteOut(token, tickets)
        self._waiting.setdefault(partition, deque()).append(write_out)
        if not tickets:
            write_out.acknowledged = True
            self._release(partition)
            return
        resets = self._resets
        sent = await self._send(partition, tickets)
        if self._resets != resets:
            return  # reset meanwhile (faust signals a revocation while the agent finishes its record)
        task = asyncio.ensure_future(self._confirm(partition, tickets, write_out, sent))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    def reset(self) -> dict[int, set[str]]:
        """Stop: forget every write-out waiting, send nothing again; the tickets of those Kafka has not
        acknowledged, by partition.

        Call when partitions are revoked: a partition may move to another worker,
        and states sent from here after that could overwrite its newer ones. For a
        partition that stays, the caller writes those tickets again once it owns it
        (their states are in the store, and their records will not be read again
        to write them).
        """
        self._resets += 1
        for task in self._confirming:
            task.cancel()
        unacknowledged = {
            partition: {ticket for write_out in waiting if not write_out.acknowledged for ticket in write_out.tickets}
            for partition, waiting in self._waiting.items()
        }
        self._waiting.clear()
        self._persisted.clear()
        return {partition: tickets for partition, tickets in unacknowledged.items() if tickets}

    async def _send(self, partition: int, tickets: Collection[str]) -> list[asyncio.Future] | Exception:
        store = self._store()
        records = []
        for ticket_id in tickets:
            stored = store.get(ticket_id)
            records.append((self._keys.dumps(ticket_id), None if stored is None else self._values.dumps(stored), []))
        try:
            return await self._producer().send_to_partition(self.topic, partition, records)
        except Exception as exc:  # noqa: BLE001 - refused: sent again, as when not acknowledged
            return exc

    async def _confirm(
        self, partition: int, tickets: Collection[str], write_out: _WriteOut, sent: list[asyncio.Future] | Exception
    ) -> None:
        while True:
            if not isinstance(sent, Exception):
                await asyncio.wait(sent)  # not gather: a reset cancels this task, never the producer's futures
                sent = _acknowledged(sent)
            if not isinstance(sent, Exception):
                break
            log.error("Kafka did not take or acknowledge changelog records: the partition's commits wait, sending "
                      "them again", partition=partition, tickets=len(tickets), error=repr(sent),
                      in_seconds=RESEND_SECONDS)
            await asyncio.sleep(RESEND_SECONDS)
            self._on_resend(len(tickets))
            sent = await self._send(partition, tickets)
        offset = max(self._persisted.get(partition, -1), sent[-1].result().offset)  # the last batch's first record
        self._persisted[partition] = offset
        self._store().set_persisted_offset(TP(self.topic, partition), offset)
        write_out.acknowledged = True
        self._release(partition)

    def _release(self, partition: int) -> None:
        waiting = self._waiting.get(partition)
        while waiting and waiting[0].acknowledged:
            self._on_written(partition, waiting.popleft().token)


def _acknowledged(sent: list[asyncio.Future]) -> list[asyncio.Future] | Exception:
    """The batches when Kafka acknowledged them all, else the first one's error."""
    for future in sent:
        if future.cancelled():
            return RuntimeError("the producer cancelled a changelog batch")
        if future.exception() is not None:
            return future.exception()
    return sent
