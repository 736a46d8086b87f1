"""The faust-streaming runtime around TimerService.

faust has no per-key timers, so time enters the stream as data: every worker
sends a small *tick* record, every ``tick_interval``, to each partition of the
internal ticks topic that it owns. The ticks topic is co-partitioned with the
inputs and consumed by the same agent, so a tick for partition p is processed
by the owner of p, after its table has recovered, in the same stream as p's
events; the state written and the outputs sent while processing it are covered
by the offset commit that follows. Kafka acknowledges the outputs before the
ticket state that records them is written (see StagedStore). Ticket states are
written to the table a partition at a time, at each of its ticks (see
WriteBack), their changelog records sent as batches (see ChangelogWriter), and
the commit covers a partition's records only once Kafka has those. The due
heaps are rebuilt from the table at the first record after every rebalance,
which is after recovery has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import faust
from faust.types import TP

from worker.adapters import rocksdb_store
from worker.adapters.changelog_reader import ChangelogReader
from worker.adapters.changelog_reading import ChangelogReading
from worker.adapters.changelog_writer import ChangelogWriter
from worker.adapters.http_endpoints import HttpEndpoints
from worker.adapters.kafka_admin import client_options, first_offset_from
from worker.adapters.logs import get_logger
from worker.adapters.metrics import Metrics
from worker.adapters.saved_timers import SavedTimers
from worker.adapters.ticket_table import TicketKey, TicketValue
from worker.domain.policy import Policy
from worker.domain.timers import EngineSettings, TicketEngine
from worker.service.records import Record
from worker.service.staged_store import StagedStore
from worker.service.timer_service import Handled, PartitionTimers, ServiceSettings, StoredTicket, TimerService
from worker.service.write_back import WriteBack
from worker.settings import WorkerSettings

log = get_logger("incident_timer.worker")
STALL_SECONDS = 5.0  # a ticker round (end offsets, tick records) slower than this is reported as a broker stall
LAG_REFRESH_SECONDS = 5.0  # every partition's tick carries end offsets at least this often (consumer_lag)
FIRE_AT_ONCE = 1000  # tickets fired before their outputs are sent, when a tick has more due
SETTLE_EVERY = 5_000  # a tick firing more tickets writes their states this many at a time (see _deliver)
WRITE_OUT_TICKETS = 5_000  # an input writes its partition's states out when this many tickets wait (see WriteBack)
WRITE_OUT_SECONDS = 1.0  # ... or when the partition's last write-out is this old (ticks write out more often)


class NotDelivered(Exception):
    """The producer refused outputs, or Kafka did not acknowledge them (the message is the cause's repr)."""


class StreamProgress:
    """How far the agent has finished each partition it reads.

    Two readers: the catch-up guard (are the inputs read up to a tick's end
    offsets?) and the transport, which never commits past it (see faust_transport).
    """

    def __init__(self) -> None:
        self.next_offset: dict[TP, int] = {}
        self.written_offset: dict[TP, int] = {}  # the next offset after the records whose states are written
        self._gaps: dict[TP, tuple[int, int]] = {}  # tp -> (offset sought back to, the record past it)

    def processed(self, tp: TP, offset: int) -> None:
        self.next_offset[tp] = offset + 1
        self._gaps.pop(tp, None)

    def processed_in(self, partition: int) -> dict[TP, int]:
        """The next offset of each topic of ``partition`` after the records processed so far."""
        return {tp: offset for tp, offset in self.next_offset.items() if tp.partition == partition}

    def written(self, offsets: dict[TP, int]) -> None:
        """The states of the records before ``offsets`` (``processed_in`` when they were written out) are in
        the table and its changelog: commits may cover them."""
        self.written_offset.update(offsets)

    def gap(self, tp: TP, offset: int) -> tuple[int, bool] | None:
        """When a record at ``offset`` skips records of ``tp`` not processed yet: (the offset to read
        again from, whether reading already came back past the gap once); else None.

        The consumer can hand over a record past unprocessed ones (faust's rebalance
        races, see faust_transport). Records already on their way keep coming after
        a seek back, each past the one before; only a record at or before the one
        seen past the gap, once reading restarted, may show a gap of the log itself.
        """
        expected = self.next_offset.get(tp)
        if expected is None or offset <= expected:
            return None
        seen = self._gaps.get(tp)
        again = seen is not None and seen[0] == expected and offset <= seen[1]
        furthest = max(offset, seen[1]) if seen is not None and seen[0] == expected else offset
        self._gaps[tp] = (expected, furthest)
        return expected, again

    def commit_limit(self, tp: TP) -> int | None:
        """The highest offset that may be committed for ``tp``: the one after the last record whose state is
        written."""
        return self.written_offset.get(tp)

    async def restart(self, consumer: Any, tps: list[TP]) -> None:
        """After a rebalance: start from the committed offsets (or the log start when none)."""
        self.next_offset.clear()
        self.written_offset.clear()
        self._gaps.clear()
        if not tps:
            return
        earliest = await consumer.earliest_offsets(*tps)
        # faust has no public accessor for committed offsets: ask the aiokafka
        # consumer through faust's consumer thread, as faust itself does.
        thread = consumer._thread
        aiokafka_consumer = thread._ensure_consumer()
        for tp in tps:
            committed = await thread.call_thread(aiokafka_consumer.committed, tp)
            self.next_offset[tp] = max(committed or 0, earliest.get(tp) or 0)

    def lag(self, ends: dict[tuple[str, int], int], partition: int, topics: list[str]) -> dict[str, int]:
        """Records not yet processed per input topic of ``partition``, against the end offsets ``ends``."""
        return {
            topic: max(0, ends.get((topic, partition), 0) - self.next_offset.get(TP(topic, partition), 0))
            for topic in topics
        }


def faust_broker_settings(settings: WorkerSettings) -> dict[str, Any]:
    options = client_options(settings)
    credentials = None
    if settings.security_protocol.startswith("SASL"):
        mechanism = settings.sasl_mechanism or "PLAIN"
        credentials = faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            mechanism=mechanism,
            ssl_context=options.get("ssl_context"),
        )
    elif settings.security_protocol == "SSL":
        credentials = faust.SSLCredentials(options["ssl_context"])
    return {"broker_credentials": credentials} if credentials else {}


def new_faust_app(settings: WorkerSettings, partitions: int) -> faust.App:
    """The faust app with the worker's Kafka, group, commit and store settings (the benchmark's baseline too)."""
    app = faust.App(
        settings.app_id,
        broker=[f"timerkafka://{server}" for server in settings.bootstrap_servers],
        store="timermemory://" if settings.store == "memory" else "timerrocksdb://",  # see changelog_reading
        datadir=str(settings.data_dir),
        processing_guarantee="at_least_once",
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout.total_seconds(),
        broker_heartbeat_interval=settings.heartbeat_interval.total_seconds(),
        broker_rebalance_timeout=settings.rebalance_timeout.total_seconds(),
        broker_request_timeout=max(40.0, settings.session_timeout.total_seconds() + 10),
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_max_batch_size=settings.producer_max_batch_size,
        stream_wait_empty=True,  # on rebalance and stop, finish buffered events before committing
        web_enabled=False,
        TableManager="worker.adapters.table_manager:TableManager",  # tables are added before the app starts
        **faust_broker_settings(settings),
    )
    app.fetch_max_wait_ms = int(settings.fetch_max_wait.total_seconds() * 1000)  # read by the timerkafka transport
    return app


class TimerApp:
    """Builds the faust app: topics, the ticket table, the agent and the ticker."""

    def __init__(self, settings: WorkerSettings, policy: Policy, partitions: int) -> None:
        self.settings = settings
        self.partitions = partitions
        self.app = new_faust_app(settings, partitions)
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
        self.stream_of_topic = {topic: stream for stream, topic in settings.input_topics.items()}
        self.inputs = self.app.topic(*settings.input_topics.values(), settings.topic_ticks, **raw)
        self.ticks = self.app.topic(settings.topic_ticks, partitions=partitions, **raw)
        self.output_topics = {  # created with the others at start (prepare_topics)
            "breaches": settings.topic_breaches,
            "overdue": settings.topic_overdue,
            "dead_letters": settings.topic_dead_letters,
        }
        self.table = self.app.Table("tickets", partitions=partitions, key_type=TicketKey, value_type=TicketValue)
        engine = TicketEngine(policy, EngineSettings(settings.orphan_ttl, settings.closed_retention))
        self.metrics = Metrics()
        if isinstance(self.table.data, ChangelogReading):
            self.table.data.use(ChangelogReader(settings), self.metrics.changelog_unreadable.inc)
        self.write_back = WriteBack(self.table.data)  # written out without faust's changelog path: see below
        if isinstance(self.table.data, SavedTimers):
            self.table.data.save_timers_from(self.timers_to_save)
        self.changelog = ChangelogWriter(self.table.changelog_topic.get_topic_name(), lambda: self.write_back.backing,
                                         lambda: self.app.producer, lambda _, offsets: self.progress.written(offsets),
                                         self.metrics.changelog_resends.inc)
        self.store: StagedStore[StoredTicket] = StagedStore(self.write_back)
        self.written_at: dict[int, float] = {}  # partition -> monotonic time of its last write-out
        self.unacknowledged: dict[int, set[str]] = {}  # partition -> tickets a rebalance stopped sending (see reset)
        self.service = TimerService(
            engine, self.store, ServiceSettings(settings.catch_up_bound, settings.max_future_skew), self.metrics
        )
        self.progress = StreamProgress()
        self.app.commit_limit = self.progress.commit_limit  # read by the timerkafka transport
        self.needs_rebuild = True
        self.started = False
        self.assigned_at: float | None = None
        self.tick_seconds = settings.tick_interval.total_seconds()
        self.lag_refresh_at = 0.0  # monotonic time of the next tick round that asks every partition's end offsets
        self.http = HttpEndpoints(self.metrics, self.not_ready_because, settings.http_port)
        self._wire()

    def not_ready_because(self) -> str | None:
        """None when ready: started, and tables recovered with timers rebuilt after the last rebalance."""
        if not self.started:
            return "starting"
        if self.assigned_at is not None:
            return "recovering state after a rebalance"
        return None

    # -- wiring ----------------------------------------------------------------
    def _wire(self) -> None:
        app = self.app

        @app.on_partitions_revoked.connect
        async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
            self.needs_rebuild = True
            self.metrics.ready.set(0)
            for partition, tickets in self.changelog.reset().items():
                self.unacknowledged.setdefault(partition, set()).update(tickets)

        @app.on_partitions_assigned.connect
        async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
            self.needs_rebuild = True
            owned = {tp.partition for tp in assigned if tp.topic == self.settings.topic_ticks}
            log.info("partitions assigned", partitions=sorted(owned))
            # Recovery ends at the first record after it (faust holds records back until then);
            # with nothing assigned there is nothing to recover.
            self.assigned_at = time.monotonic() if owned else None
            self.metrics.recovering.set(1 if owned else 0)
            self.metrics.ready.set(0 if owned else 1)
            self.metrics.consumer_lag.clear()

        @app.task
        async def on_started() -> None:
            if self.settings.http_port:
                await self.http.start()
                log.info("http endpoints listening", port=self.settings.http_port,
                         paths=["/metrics", "/healthz", "/readyz"])
            self.started = True
            if self.assigned_at is None:
                self.metrics.ready.set(1)

        app.agent(self.inputs, name="incident_timer.timers")(self._process)
        app.timer(self.tick_seconds)(self._send_ticks)

    def owned_partitions(self) -> set[int]:
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.settings.topic_ticks}

    def input_tps(self, partitions: set[int]) -> list[TP]:
        return [TP(topic, p) for p in sorted(partitions) for topic in self.settings.input_topics.values()]

    async def _send_ticks(self) -> None:
        """Send each owned partition a tick: the time and, when it may fire a timer, its inputs' end offsets.

        When the tick is processed, inputs read up to those offsets mean every
        event in Kafka before the tick's time has been applied, so timers due up
        to that time can fire (SPEC 5). A partition with nothing due by the next
        tick gets a tick without end offsets, which fires nothing: end-offset
        requests cost the broker (on some brokers in proportion to the topic's
        size), and most ticks of most partitions have nothing to fire. Every
        partition still gets end offsets every LAG_REFRESH_SECONDS, for the lag
        metric.
        """
        if self.app.rebalancing:
            return
        owned = self.owned_partitions()
        if not owned:
            return
        at = datetime.now(timezone.utc)
        asked = time.monotonic()
        refresh = asked >= self.lag_refresh_at
        soon = at + self.settings.tick_interval
        asking = {p for p in owned if refresh or self.service.may_fire_by(p, soon)}
        try:
            ends = await self.app.consumer.highwaters(*self.input_tps(asking)) if asking else {}
        except Exception as exc:  # noqa: BLE001 - any client error: report it, tick again next interval
            self.metrics.broker_stalls.inc()
            log.warning("end offsets unavailable: no tick this interval", error=repr(exc))
            return
        if refresh:
            self.lag_refresh_at = asked + LAG_REFRESH_SECONDS
        for partition in sorted(owned):
            tick = {
                "at": at.isoformat(),
                "ends": [[tp.topic, offset] for tp, offset in ends.items() if tp.partition == partition]
                if partition in asking else None,
            }
            await self.ticks.send(key=None, value=json.dumps(tick).encode(), partition=partition)
        # A stalled broker holds either call: the end offsets, or the tick records once the producer's buffer waits.
        took = time.monotonic() - asked
        if took > STALL_SECONDS:
            self.metrics.broker_stalls.inc()
            log.warning("Kafka answered the ticker late: timers were held meanwhile", seconds=round(took, 3))

    # -- the agent ---------------------------------------------------------------
    async def _process(self, stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            if self.needs_rebuild:
                self._rebuild()
                await self.progress.restart(self.app.consumer, self.input_tps(self.owned_partitions()))
                await self._write_unacknowledged()
            gap = self.progress.gap(message.tp, message.offset)
            if gap is not None:
                expected, again = gap
                where = {"topic": message.topic, "partition": message.partition, "expected_offset": expected,
                         "offset": message.offset}
                if not (again and await first_offset_from(self.settings, message.tp, expected) == message.offset):
                    log.warning("the consumer skipped records: reading them again", **where)
                    await self.app.consumer.seek_in_thread(message.tp, expected)
                    continue  # faust acks it; commits stay at `expected` (commit_limit) until it is processed
                log.warning("the log has no records here (transaction markers, compaction): going on", **where)
            tick = message.topic == self.settings.topic_ticks
            try:
                if tick:
                    await self._deliver(message.partition, self._on_tick(message.partition, message.value or b""))
                else:
                    records = self._on_input(message)
                    await self._settle(records, await self._send(records))
            except NotDelivered as exc:  # record no more, read the record again
                self.store.discard()
                self.service.assign(self.owned_partitions())  # its heaps moved on with the discarded writes
                log.error("Kafka did not acknowledge outputs: their states are not recorded, reading the record "
                          "again", error=str(exc), topic=message.topic, partition=message.partition,
                          offset=message.offset)
                await self.app.consumer.seek_in_thread(message.tp, message.offset)
                continue
            self.progress.processed(message.tp, message.offset)
            if tick or self._write_out_due(message.partition):
                await self._write_out(message.partition)  # the offsets may be committed once Kafka has them

    def _write_out_due(self, partition: int) -> bool:
        return (self.write_back.pending_in(partition) >= WRITE_OUT_TICKETS
                or time.monotonic() - self.written_at.get(partition, 0.0) >= WRITE_OUT_SECONDS)

    async def _write_out(self, partition: int) -> None:
        """Write the partition's ticket states to the table's store and send their changelog records; once
        Kafka has them, commits may cover every record of the partition processed so far (ChangelogWriter)."""
        tickets = self.write_back.write_out(partition)
        self.written_at[partition] = time.monotonic()
        await self.changelog.write(partition, tickets, self.progress.processed_in(partition))

    async def _deliver(self, partition: int, lots: Iterator[list[Record]]) -> None:
        """Send a tick's outputs lot by lot as they are fired; settle them every SETTLE_EVERY tickets (and
        write the partition's states out), and at the end.

        Settled all at once, a burst of dues held every fired state until the
        last acknowledgement and then queued all their changelog records at
        once, so memory grew with the burst (a restart after hours down, at a
        million open tickets, can make most of them due at once). A write-out
        waits while the producer holds a batch of the changelog partition not
        sent yet: a broker slower than the firing holds the firing back instead
        of filling the memory. A crash halfway loses nothing: the tick is read
        again, and fires what was not written.
        """
        with _collections_deferred():
            sent: list[Record] = []
            delivered: list[asyncio.Future] = []
            for lot in lots:  # fires the next lot: an error there is not Kafka's, and is not caught as one
                delivered += await self._send(lot)
                sent += lot
                if self.store.pending >= SETTLE_EVERY:
                    await self._settle(sent, delivered)
                    await self._write_out(partition)
                    sent, delivered = [], []
                else:
                    await asyncio.sleep(0)  # the producer sends these while the next lot is fired
            await self._settle(sent, delivered)

    async def _settle(self, records: list[Record], delivered: list[asyncio.Future]) -> None:
        """Once Kafka has acknowledged the outputs sent, write the ticket states staged with them (their
        changelog records follow), and log the outputs."""
        await self._acknowledged(delivered)
        self.store.apply()
        for record in records:
            _log_output(record)

    async def _send(self, records: list[Record]) -> list[asyncio.Future]:
        """Hand the records to the producer as batches (see record_batches); the futures of their
        acknowledgements."""
        topics = self.output_topics
        try:
            return await self.app.producer.send_batched(
                [(topics[record.stream], record.key, record.value, list(record.headers)) for record in records]
            )
        except Exception as exc:
            raise NotDelivered(repr(exc)) from exc

    @staticmethod
    async def _acknowledged(delivered: list[asyncio.Future]) -> None:
        """Wait until Kafka has acknowledged every record sent."""
        if delivered:
            try:
                await asyncio.gather(*delivered)
            except Exception as exc:
                raise NotDelivered(repr(exc)) from exc

    def _rebuild(self) -> None:
        self.needs_rebuild = False
        # Reading restarts from the committed offsets (progress.restart): the records whose states were not
        # written out yet are read again.
        self.write_back.discard()
        owned = self.owned_partitions()
        store = self.table.data
        restored = store.restored_timers() if isinstance(store, SavedTimers) else {}
        # RocksDB lists the other partitions' tickets from its bytes; nothing waits to be written (just discarded,
        # and states wait for their outputs only while a step is delivered).
        entries = store.timer_entries(owned - restored.keys()) \
            if isinstance(store, rocksdb_store.Store) and not self.store.pending else None
        self.service.assign(owned, restored, entries)
        # Everything alive now, chiefly the recovered tickets (long-lived, no reference cycles), leaves
        # the full garbage collections: at a million tickets their walk is a 0.6 s pause during which
        # no timer fires (bench_memory.py). Objects created from here on are collected as usual.
        gc.freeze()
        if self.assigned_at is not None:
            self.metrics.recovery_duration.set(time.monotonic() - self.assigned_at)
            self.assigned_at = None
        self.metrics.recovering.set(0)
        self.metrics.ready.set(1)
        log.info("due index rebuilt", partitions=sorted(owned), restored_partitions=sorted(restored),
                 pending_timers=sum(map(self.service.pending, owned)))

    def timers_to_save(self) -> dict[int, PartitionTimers]:
        """The owned partitions' timers as they stand for what the table holds (saved at stop, see SavedTimers):
        the service's, less the changes not written to the table yet. None before the heaps are rebuilt."""
        if self.needs_rebuild:
            return {}
        table = self.write_back.backing
        unwritten: dict[int, list[tuple[str, StoredTicket | None, StoredTicket | None]]] = {}
        for ticket_id in {*self.store.staged_keys(), *self.write_back.staged_keys()}:
            stored, current = table.get(ticket_id), self.store.get(ticket_id)
            version = current if current is not None else stored
            if version is not None:
                unwritten.setdefault(version.partition, []).append((ticket_id, stored, current))
        if unwritten:
            log.info("timers saved as the table holds them: states not written out yet are left out, their inputs "
                     "are read again", partitions=sorted(unwritten), tickets=sum(map(len, unwritten.values())))
        return {p: self.service.timers(p).before(unwritten.get(p, ())) for p in self.service.partitions}

    async def _write_unacknowledged(self) -> None:
        """Send again the changelog records Kafka had not acknowledged when the last rebalance stopped their
        sending, for the partitions still owned: their states are in the table, and their inputs will not
        be read again to write them (reading restarts before them, and finds them applied). A partition
        gone elsewhere is left to its new owner, which reads those inputs again from the committed offsets."""
        owned = self.owned_partitions()
        unacknowledged, self.unacknowledged = self.unacknowledged, {}
        for partition, tickets in sorted(unacknowledged.items()):
            if partition in owned:
                log.warning("sending changelog records again that Kafka had not acknowledged before the rebalance",
                            partition=partition, tickets=len(tickets))
                await self.changelog.write(partition, sorted(tickets), self.progress.processed_in(partition))

    def _on_input(self, message: Any) -> list[Record]:
        started = time.perf_counter()
        handled = self.service.on_input(
            self.stream_of_topic[message.topic], message.topic, message.partition, message.offset,
            message.key, message.value or b"", datetime.now(timezone.utc),
        )
        self.metrics.processing.observe(time.perf_counter() - started)
        _log_input(handled, message)
        return handled.records

    def _on_tick(self, partition: int, raw: bytes) -> Iterator[list[Record]]:
        """The tick's outputs, FIRE_AT_ONCE tickets at a time: in a burst of dues the first leave at once."""
        try:
            tick = json.loads(raw)
            at = datetime.fromisoformat(tick["at"])
            listed = tick["ends"]
            ends = None if listed is None else {(topic, partition): offset for topic, offset in listed}
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed tick", partition=partition)
            return iter(())
        self.metrics.last_tick.set(time.time())
        if ends is None:
            return iter(())  # nothing was due by this tick when it was sent; a later one fires what has come since
        lag = self.progress.lag(ends, partition, list(self.settings.input_topics.values()))
        for topic, behind in lag.items():
            self.metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(behind)
        caught_up = not any(lag.values())
        self.service.advance(partition, datetime.now(timezone.utc), caught_up, as_of=at)
        return self._fire(partition)

    def _fire(self, partition: int) -> Iterator[list[Record]]:
        while self.service.due(partition):
            yield self.service.fire(partition, datetime.now(timezone.utc), limit=FIRE_AT_ONCE)


@contextlib.contextmanager
def _collections_deferred() -> Iterator[None]:
    """Automatic garbage collection off while a tick's timers fire; back on (if it was on) when they are
    delivered, or the delivery fails.

    A burst of dues replaces one ticket state per ticket fired. The new states
    outlive the young collections, and each time they reach a quarter of the
    objects alive a full collection walks every object: six of them, 0.86 s,
    in a 12.4 s burst of 100,000 breaches, five finding no garbage at all
    (ticket states hold no reference cycles: reference counting frees them).
    Deferred, the collections run at the first allocations after the tick.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _log_input(handled: Handled, message: Any) -> None:
    where = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
    if handled.rejection is not None:
        key = message.key.decode("utf-8", "replace") if message.key else None
        log.warning("input rejected to the dead-letter topic", reason=handled.rejection.reason,
                    detail=handled.rejection.detail, key=key, **where)
    elif handled.event is not None:
        log.info("duplicate input ignored" if handled.duplicate else "input applied",
                 ticket_id=handled.event.ticket_id, event_id=handled.event.event_id, type=handled.event.type, **where)


def _log_output(record: Record) -> None:
    if record.stream == "dead_letters":
        return
    headers = dict(record.headers)
    log.info("output emitted", ticket_id=headers["ce_subject"].decode(), output_id=headers["ce_id"].decode(),
             type=headers["ce_type"].decode(), stream=record.stream)
