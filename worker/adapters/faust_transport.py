"""faust's aiokafka transport with a configurable fetch wait and commits capped at what was processed.

Registered as the ``timerkafka`` transport through faust's ``faust.transports``
entry point. Changes to faust's own:

- faust hard-codes ``fetch_max_wait_ms=1500`` for its stream consumer. Kafka
  answers a fetch as soon as data arrives, but brokers that hold fetches for the
  full wait (the embedded Tansu broker does) then add up to 1.5 s to every tick
  and event, and timers must fire within a second.
- faust acks, and so commits, records its stream *skipped*: on a rebalance or
  stop it suspends flow control, and every record still buffered for the agent
  is acked unprocessed (``Stream.__aiter__``: ``do_ack or value is
  skipped_value``), as is the record an agent was cancelled on. The commit made
  during the rebalance then moves the group past events nobody applied, and the
  next owner never sees them. When the app names a ``commit_limit`` (TimerApp
  does: the records whose ticket states are written), a commit never goes
  past it.
- faust resumes the stream partitions after a rebalance *before* it seeks them
  to their committed offsets, so records from stale fetch positions reach the
  agent while the seek is under way, and faust's read-offset filter then drops
  the re-fetched ones (seen here: hundreds of events never applied after a
  worker left). Stream partitions are held from their assignment until the
  seek that ends recovery has completed and faust has emptied its stream
  queues after it.
- faust's producer buffer (where faust's own table writes queue changelog
  records) could let a commit pass records it had not handed over yet; this
  producer's buffer does not (``producer_buffer``).
- The producer also sends records as aiokafka record batches
  (``send_batched``, ``send_to_partition``), which the worker uses for its
  outputs and its table's changelog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from time import monotonic
from typing import Any, Optional

from aiokafka.structs import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from worker.adapters.producer_buffer import CommitSafeProducerBuffer
from worker.adapters.record_batches import Headers, send_batched, send_to_partition

DEFAULT_FETCH_MAX_WAIT_MS = 500  # Kafka's own default; TimerApp sets app.fetch_max_wait_ms


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)
        return consumer

    async def getmany(self, active_partitions: Optional[set[TP]], timeout: float) -> Any:
        """Fetch for a copy of the active partitions, taken on the app's thread.

        faust hands aiokafka its live set, which the app's thread keeps changing
        while the consumer thread waits for records; aiokafka reads an *empty*
        set as "every partition", and it is empty while a new assignment's
        partitions are held. Records of held partitions came back and were
        dropped after the position had passed them (seen: the last events of
        taken-over partitions never applied).
        """
        snapshot = None if active_partitions is None else frozenset(active_partitions)
        if snapshot is not None and not snapshot:
            return {}
        return await super().getmany(snapshot, timeout)  # type: ignore[arg-type]


class Consumer(faust_aiokafka.Consumer):
    #: Stream partitions assigned and not yet sought to their committed offsets: not fetched meanwhile.
    _unsought: set[TP] = set()
    _held_at = 0.0
    _sought_after_recovery = False

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._unsought = {tp for tp in assigned if not self._is_changelog_tp(tp)}
        self._held_at = monotonic()
        self._sought_after_recovery = False
        self.pause_partitions(self._unsought)
        await super().on_partitions_assigned(assigned, generation_id)

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        super().resume_partitions({tp for tp in tps if tp not in self._unsought})

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        """faust's ``getmany``, except that records it does not hand on are read again.

        faust skips fetched records of partitions paused meanwhile, and the rest
        of a batch when the flow stops or the generation changes, after the
        consumer's position has passed them. Unless a rebalance seeks it back,
        nothing reads them again: a partition's last events were never applied.
        Each partition with skipped records is sought back to the first of them,
        if nothing moved its position since.
        """
        records, active = await self._wait_next_records(timeout)
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            try:
                await self.perform_seek()  # as faust does: back to the committed offsets
            except Exception as exc:  # noqa: BLE001 - faust's own handling: warn, the next fetch retries
                self.log.warning(f"exception performing seek when flow not active {exc}")
            return
        generation = self.app.consumer_generation_id
        skipped: dict[TP, tuple[int, int]] = {}  # tp -> (first, last) offset not handed on
        for tp, record in self.scheduler.iterate(records):
            handing_on = (
                tp not in skipped and self.flow_active and self.app.consumer_generation_id == generation
                and (active is None or tp in active or tp in self._buffered_partitions)
            )
            if handing_on:
                self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                yield tp, self._to_message(tp, record)
            else:
                first = skipped.get(tp, (record.offset, record.offset))[0]
                skipped[tp] = (first, record.offset)
        for tp, (first, last) in skipped.items():
            if await self.seek_in_thread(tp, first, if_position=last + 1):  # unless someone sought since
                self.log.info(f"Reading {tp.topic}[{tp.partition}] again from offset {first}: fetched, not handed on")

    async def perform_seek(self) -> None:
        """Seek to the committed offsets; note when this is the seek that ends this assignment's recovery.

        faust also seeks from its fetch loop when it finds the flow stopped, which
        can happen while the table is still recovering (seen in the rebalance
        storm: events applied to a half-recovered table, and a response lost).
        Only a seek made after recovery ended for the current assignment counts.
        """
        await super().perform_seek()
        if self._unsought:
            # aiokafka seeks only to a committed offset above 0: a partition nobody committed keeps
            # whatever fetch position this consumer had (seen: 137 records past a killed owner's work).
            uncommitted = [tp for tp in self._unsought & self.assignment() if not self._committed_offset.get(tp)]
            if uncommitted:
                starts = await self.earliest_offsets(*uncommitted)
                for tp in uncommitted:
                    await self.seek_in_thread(tp, starts.get(tp) or 0)
        self._sought_after_recovery = self._recovered()

    def resume_flow(self) -> None:
        """Release the held partitions once both the seek and faust's queue clearing are behind us.

        faust resumes its flow control (which *empties every stream queue*) after
        the seek that ends recovery. Records of released partitions fetched in
        between were dropped there, after the consumer's position had passed them:
        nothing read them again (seen: the last events of taken-over partitions
        never applied, while ticks of the same partitions kept flowing).
        ``resume_flow`` is the call that follows that emptying.
        """
        super().resume_flow()
        if self._unsought and self._sought_after_recovery and self._recovered():
            sought, self._unsought = self._unsought, set()
            super().resume_partitions(sought & self.assignment())

    def _recovered(self) -> bool:
        recovery = self.app.tables.recovery
        ended_at = recovery._recovery_ended_at  # private: faust exposes no public "recovered since" marker
        return (not recovery.in_recovery and ended_at is not None and ended_at >= self._held_at
                and not recovery.signal_recovery_start.is_set())

    async def seek_in_thread(self, tp: TP, offset: int, *, if_position: Optional[int] = None) -> bool:
        """Seek ``tp`` to ``offset`` on the consumer's own thread; with ``if_position``, only while the
        partition is assigned and its position is still that. Returns whether it sought.

        faust's ``seek`` calls aiokafka from the app's thread while the fetcher runs
        on the consumer thread, and a fetch landing meanwhile can undo it.
        """
        consumer = self._thread._ensure_consumer()
        partition = TopicPartition(tp.topic, tp.partition)

        async def seek() -> bool:
            if if_position is not None and (
                partition not in consumer.assignment() or await consumer.position(partition) != if_position
            ):
                return False
            consumer.seek(partition, offset)
            return True

        if not await self._thread.call_thread(seek):
            return False
        self._read_offset[tp] = offset or None  # faust drops fetched records at or below its read offset
        return True

    def _new_offset(self, tp: TP) -> Optional[int]:
        """faust's next offset to commit for ``tp`` (private hook), capped at the app's ``commit_limit``.

        faust forgets the acked offsets it returns here. Those above the cap are
        given back: forgotten, they left a gap at the head of faust's list, and
        faust commits nothing for a partition whose list starts past its last
        commit (seen: commits stuck for good once the cap had held one back).
        """
        limit: Callable[[TP], Optional[int]] | None = getattr(self.app, "commit_limit", None)
        acked = self._acked[tp]
        lowest = min(acked) if acked else 0  # faust returns an offset only when some are acked
        offset = super()._new_offset(tp)
        if offset is None or limit is None:
            return offset
        cap = limit(tp)
        if cap is not None and cap >= offset:
            return offset
        held_back = range(lowest if cap is None else max(lowest, cap), offset)
        self._acked[tp].extend(held_back)
        self._acked[tp].sort()
        self._acked_index[tp].update(held_back)
        return cap


class Producer(faust_aiokafka.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.app.conf.producer_threaded:  # a threaded producer keeps faust's buffer
            self.buffer = CommitSafeProducerBuffer(loop=self.loop, beacon=self.beacon)
            self.buffer.app = self.app

    async def send_batched(self, records: Iterable[tuple[str, bytes | None, bytes | None, Headers]]) -> list[Any]:
        """Send records as aiokafka record batches (see record_batches); the futures of the batches."""
        return await send_batched(self._ensure_producer(), records)

    async def send_to_partition(
        self, topic: str, partition: int, records: Iterable[tuple[bytes | None, bytes | None, Headers]]
    ) -> list[Any]:
        """Send records to one partition as aiokafka record batches, in order; the futures of the batches."""
        return await send_to_partition(self._ensure_producer(), topic, partition, records)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
    Producer = Producer
