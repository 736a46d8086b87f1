"""The ticket table: faust's store for the values, changelog records sent by the worker itself.

faust writes a table's changelog through ``Topic.send_soon``: a future message
per write, a buffer drained by a task one record per event-loop turn, and a
stop of the agent whenever that buffer is full ("producer buffer full" in a
burst of dues). In a profile of the bare table agent of bench/ that path was
about a quarter of its CPU, and this worker writes a ticket on every event and
every fired timer. ``TicketTable`` keeps faust's store (memory or RocksDB,
recovered by faust from the same changelog) and sends the changelog records
straight to the producer, in the bytes faust would write.

A record's few writes (an input's one ticket) are sent by the agent itself when
nothing is queued. Larger ones (a tick's fired tickets) are queued for one
task, as faust's buffer does, so the agent goes on firing while the changelog
catches up; the agent waits only when more than ``BACKLOG`` writes are queued.
Each record carries its ticket's value at the time it is sent, so a ticket
written twice meanwhile is still right.

faust commits an offset once its producer is flushed, whether or not the
changelog writes were acknowledged: a failed write was lost silently. Here
every record's writes are tracked, a commit never passes a record whose writes
Kafka has not acknowledged (``unacknowledged_from``), and a failed write is sent
again with its ticket's current value.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import ItemsView, Iterator, MutableMapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from faust.serializers import codecs
from faust.types import TP

from worker.adapters.logs import get_logger
from worker.domain.state_codec import state_from_dict, state_to_dict
from worker.service.timer_service import StoredTicket

log = get_logger("incident_timer.worker")
TICKET_CODEC = "incident_timer_ticket"
BACKLOG = 50_000  # changelog writes queued before the agent waits for the sender
INLINE = 8  # a record's writes up to this many are sent by the agent itself, when none are queued


class TicketCodec(codecs.Codec):
    """Table values: StoredTicket objects in memory, compact JSON in the changelog (and RocksDB).

    The memory store keeps the objects themselves, so reading a ticket costs no decoding.
    """

    def _dumps(self, stored: StoredTicket) -> bytes:
        return json.dumps(
            {"p": stored.partition, "k": stored.kinds, "h": stored.held, "state": state_to_dict(stored.state)},
            separators=(",", ":"),
        ).encode()

    def _loads(self, raw: bytes) -> StoredTicket:
        data = json.loads(raw)
        return StoredTicket(data["p"], data["k"], data["h"], state_from_dict(data["state"]))


codecs.register(TICKET_CODEC, TicketCodec())


class TicketValue:
    """The ticket table's faust value type: it names the codec, and values pass through as decoded.

    faust reads a table's serializer from its value type (``_options.serializer``,
    as on faust Records) and rebuilds values with ``from_data``; StoredTicket is a
    plain dataclass, so this stands in for a Record.
    """

    _options = SimpleNamespace(serializer=TICKET_CODEC)

    @classmethod
    def from_data(cls, data: StoredTicket, preferred_type: Any = None) -> StoredTicket:
        return data


@dataclass(eq=False)
class _Writes:
    """The changelog writes made while processing one record (input or tick): its partition and offset,
    the tickets written, and Kafka's acknowledgements (None until sent)."""

    source: TP
    offset: int
    keys: list[str]
    acks: list[asyncio.Future] | None = None
    forgotten: bool = False  # the partition went to another worker


class TicketTable(MutableMapping[str, StoredTicket]):
    """A faust table's store, whose writes queue changelog records for ``send``; ``run`` sends them."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.topic: str = table.changelog_topic.get_topic_name()
        self._key = lambda key: table.app.serializers.dumps_key(str, key, serializer=table.key_serializer)
        self._codec = codecs.get_codec(TICKET_CODEC)
        self._written: list[str] = []  # tickets written since the last send, in order
        self._unacknowledged: dict[TP, deque[_Writes]] = {}
        self._outbox: deque[_Writes] = deque()
        self._backlog = 0  # writes in the outbox
        self._queued = asyncio.Event()  # the outbox has writes
        self._idle = asyncio.Event()  # the outbox is empty
        self._idle.set()
        self._ebbed = asyncio.Event()  # the backlog is under BACKLOG
        self._ebbed.set()
        self._producer: Any = None  # set by ``run``

    # -- the mapping: faust's store ------------------------------------------------
    def __getitem__(self, key: str) -> StoredTicket:
        return self.table.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.table.data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.table.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.data)

    def __len__(self) -> int:
        return len(self.table.data)

    def items(self) -> ItemsView[str, StoredTicket]:
        return self.table.data.items()

    def __setitem__(self, key: str, value: StoredTicket) -> None:
        self.table.data[key] = value
        self._written.append(key)

    def __delitem__(self, key: str) -> None:
        del self.table.data[key]
        self._written.append(key)

    # -- the changelog ----------------------------------------------------------------
    async def send(self, source: TP, offset: int) -> None:
        """Send, or queue for ``run``, the changelog records of the writes made while processing ``source``
        at ``offset`` (the changelog partition is the source's); wait while the backlog is over ``BACKLOG``."""
        if self._written:
            keys, self._written = list(dict.fromkeys(self._written)), []
            writes = _Writes(source, offset, keys)
            self._unacknowledged.setdefault(source, deque()).append(writes)
            if self._producer is not None and self._idle.is_set() and len(keys) <= INLINE:
                await self._send(writes)  # no task switch per input record
            else:
                self._queue(writes)
        await self._ebbed.wait()

    def _queue(self, writes: _Writes) -> None:
        self._outbox.append(writes)
        self._backlog += len(writes.keys)
        self._queued.set()
        self._idle.clear()
        if self._backlog > BACKLOG:
            self._ebbed.clear()

    async def run(self, producer: Any) -> None:
        """Send the queued writes for as long as it runs."""
        self._producer = producer
        while True:
            await self._queued.wait()
            while self._outbox:
                writes = self._outbox.popleft()
                if not writes.forgotten:  # else its state is not ours to write any more
                    await self._send(writes)
                self._backlog -= len(writes.keys)
                if self._backlog <= BACKLOG:
                    self._ebbed.set()
            self._queued.clear()
            self._idle.set()

    async def drained(self) -> None:
        """Wait until every queued write has been handed to the producer (before partitions are handed over)."""
        await self._idle.wait()

    async def _send(self, writes: _Writes) -> None:
        writes.acks = [await self._send_current(key, writes.source.partition) for key in writes.keys]

    async def _send_current(self, key: str, partition: int) -> asyncio.Future:
        """The acknowledgement of the ticket's current value (or a tombstone) sent to the changelog; a
        failed one if the producer refused it."""
        try:
            stored = self.table.data.get(key)
            value = None if stored is None else self._codec.dumps(stored)
            return await self._producer.send(self.topic, self._key(key), value, partition, None, None)
        except Exception as exc:  # noqa: BLE001 - a refusal (or a store error) is a failed write: sent again
            refused = asyncio.get_running_loop().create_future()
            refused.set_exception(exc)
            return refused

    def unacknowledged_from(self, source: TP) -> int | None:
        """The offset of ``source``'s first record whose changelog writes Kafka has not acknowledged yet
        (None when all are): offsets from there on may not be committed.

        Acknowledged writes are forgotten, and a RocksDB store keeps the last
        acknowledged changelog offset, as faust does, so that a restart recovers
        only what came after it. Failed writes are queued again.
        """
        pending = self._unacknowledged.get(source)
        acknowledged: list[int] = []
        try:
            while pending:
                writes = pending[0]
                if writes.acks is None or not all(ack.done() for ack in writes.acks):
                    return writes.offset
                failed = [ack for ack in writes.acks if ack.cancelled() or ack.exception() is not None]
                if failed:
                    cause = None if failed[0].cancelled() else failed[0].exception()
                    log.error("Kafka did not acknowledge changelog writes: sending the tickets' current state"
                              " again; no commit passes the record meanwhile", topic=self.topic,
                              partition=source.partition, record_topic=source.topic, record_offset=writes.offset,
                              tickets=len(writes.keys), error=repr(cause))
                    writes.acks = None
                    self._queue(writes)
                    return writes.offset
                acknowledged += [ack.result().offset for ack in writes.acks if ack.result() is not None]
                pending.popleft()
            return None
        finally:
            if acknowledged:
                self.table.data.set_persisted_offset(TP(self.topic, source.partition), max(acknowledged))

    def keep_only(self, partitions: set[int]) -> None:
        """After a rebalance: forget the writes of partitions no longer owned (their commits are not ours,
        nor is their state to write)."""
        for source in [tp for tp in self._unacknowledged if tp.partition not in partitions]:
            for writes in self._unacknowledged.pop(source):
                writes.forgotten = True
