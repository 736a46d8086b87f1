#!/usr/bin/env python
"""Scale benchmark (issue 5): many open tickets, a burst of deadlines, recovery memory versus RocksDB.

    python bench/bench_scale.py [--quick] [--tickets N] [--burst B] [--probes K] [--keep-logs]

Same setting as ``bench/bench_worker.py`` (whose helpers it imports): one
embedded broker started and stopped here, the integration tests' group timeouts,
``producer_max_batch_size=1`` for every producer (the broker's end offsets are
wrong for multi-record batches) except where said below, 4 partitions,
``bench/bench-policy.yaml``, the worker's default tick interval (0.2 s) and
log level (INFO). Each worker is a
child process with its HTTP endpoint on a free port; every process started here
is stopped on the way out, also on failure or SIGTERM.

How the N open tickets get into the worker: not as N input events through the
worker (about 1,200 events/s: 14 min for a million), but by *seeding the
worker's table changelog* (``<app id>-tickets-changelog``) before it starts, so
it recovers them like after a restart. The states are genuine: each ticket's
``incident.opened`` event (standard S4, 48 support hours: due days away, mixed
regions) goes through the worker's own ``TimerService.on_input`` (decoding,
the engine, the StoredTicket it writes) on an in-process dict store, and the
value is the worker's ``TicketCodec`` JSON, keyed by ticket id, on the
partition the default partitioner gives the ticket's input record.

The changelog is seeded in 16 KiB batches (``--seed-batch-bytes``): this
broker's fetch costs it time in proportion to the batches stored in the
partition, and seeded one record per batch a million never finished
recovering (BENCHMARKS.md). Batched, the default million on 4 partitions runs
in about 5 min; ``--open-tickets-only`` stops after the first measure.

1. N open tickets (default 1,000,000; --quick 20,000). Two workers run side
   by side: *idle* (0 tickets, its own topics and group) and *scale* (the N
   seeded tickets). After both are ready: resident memory (VmRSS) of each, and
   state bytes per ticket = (RSS scale - RSS idle) / N; the tick cost as worker
   CPU per tick over a window of idle steady state (process CPU / ticks sent on
   the ticks topic; the worker has no tick-duration metric), N versus 0, plus
   the in-process cost of ``TimerService.on_tick`` on the N seeded states versus
   an empty service (the due heap must not be scanned); then K probes (premium
   S1, 60 s to respond, 24/7) produced to both workers with dues spread over a
   window: fire delay = breach record CreateTime - due_at, p50/p99/max, N versus 0.
2. Recovery, on the scale app's changelog (the N seeded tickets and the
   probes): a RocksDB worker starts on an empty data directory and is stopped
   (SIGTERM) once ready (cold: it fills the directory and saves its timers); a
   second RocksDB worker on the same directory (warm: it takes the saved timers
   back); a third after the saved timers were removed (warm, unsaved: as after
   a kill, the heaps rebuilt from the tickets); then a memory-store worker,
   each timed from process start to ready: the "due index rebuilt" log line with at least N pending
   timers, and the first 200 of /readyz (noted when /readyz said 200 before the
   rebuild). Ratio memory / RocksDB warm; also the worker's own
   incident_timer_recovery_duration_seconds and the RSS when ready.
3. Burst, on that memory worker (N open tickets): B tickets (default 100,000;
   --quick 5,000) opened through the input topic, their response dues (premium
   S1, 60 s) spread over one second T, chosen so that all are applied before T
   (checked on the open_timers metric). From T - 2 s until the last burst
   breach is on the output topic, other input keeps flowing (--flow-rate opened
   events per second). Figure: CreateTime of the last burst breach - T (target
   under 10 s), the breaches per second while draining, and the CPU seconds
   the worker and the broker used from T - 2 s to then (per breach for the
   worker: a figure less at the mercy of the shared machine than the time).
   The B opened events are produced in 16 KiB batches (--burst-input-batch-bytes):
   this broker stores each batch as an object, and a fetch costs it time in
   proportion to the objects in the partition (0.6-0.8 ms more per 1,000), so B
   single-record batches made every fetch of the worker's own consumer cost tens
   of ms, and that, not the burst, used the broker's core. Their end offsets
   may read low until the flow's first record: harmless here, as all B are
   applied before T (checked).

Prints a table, then one JSON line with the figures and machine facts. Exits 1
when something did not complete (a worker died, did not get ready, not every
probe or burst breach arrived in time). Logs go to a temporary directory, kept
(and named) on failure or with --keep-logs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.errors import TopicAlreadyExistsError  # noqa: E402
from aiokafka.partitioner import DefaultPartitioner  # noqa: E402
from aiokafka.structs import TopicPartition  # noqa: E402

from bench.bench_worker import (  # noqa: E402
    PARTITIONS, POLICY, PROBE_TARGET, App, BenchError, _r, cpu_seconds, end_sum, open_tickets, probe_tickets,
    produce, records_of, report, run_on_embedded_broker, spread_stats, worker_settings,
)
from worker.adapters.embedded_broker import EmbeddedBroker, free_port  # noqa: E402
from worker.adapters.ticket_table import TicketCodec, TicketKeyCodec  # noqa: E402
from worker.adapters.kafka_admin import prepare_topics  # noqa: E402
from worker.domain.policy import load_policy  # noqa: E402
from worker.domain.timers import EngineSettings, TicketEngine  # noqa: E402
from worker.service.timer_service import ServiceSettings, StoredTicket, TimerService  # noqa: E402
from worker.settings import WorkerSettings, to_environment  # noqa: E402

UTC = timezone.utc
SEED_CHUNK = 50_000  # records per producer run while seeding (bounds the bench's own memory)
GiB = 1024 ** 3


# ---------------------------------------------------------------------------
# Seeding the changelog with genuine states
# ---------------------------------------------------------------------------


def build_states(settings: WorkerSettings, n: int, now: datetime, seed: int) -> tuple[TimerService, float]:
    """N open tickets applied by the worker's own service on a dict store; returns it and the seconds taken."""
    engine = TicketEngine(load_policy(settings.policy), EngineSettings(settings.orphan_ttl, settings.closed_retention))
    service = TimerService(engine, {}, ServiceSettings(settings.catch_up_bound, settings.max_future_skew))
    partitions = list(range(settings.partitions))
    for p in partitions:  # a worker that has ticked: horizon = now, as in steady state
        service.on_tick(p, now, caught_up=True)
    partitioner = DefaultPartitioner()
    started = time.perf_counter()
    for offset, event in enumerate(open_tickets(n, "S", now, random.Random(seed))):
        key = event["ticket_id"].encode()
        partition = partitioner(key, partitions, partitions)
        handled = service.on_input("opened", settings.topic_opened, partition, offset, key,
                                   json.dumps(event).encode(), now)
        if handled.rejection is not None:
            raise BenchError(f"seed event rejected: {handled.rejection}")
    return service, time.perf_counter() - started


async def seed_changelog(
    bootstrap: list[str], changelog: str, partitions: int, service: TimerService, batch_bytes: int
) -> dict[str, Any]:
    """Produce every ticket of ``service.store`` to ``changelog`` as the worker's table would have.

    In batches of ``batch_bytes``, the last record of each partition alone: this
    broker's end offset after a multi-record batch is that batch's base offset + 1,
    and recovery reads up to the end offset, so the partition must end with a
    one-record batch. A million records one per batch made every fetch of the
    recovery list 250,000 stored batches, and it never completed."""
    codec, key_codec = TicketCodec(), TicketKeyCodec()  # the table's value and key codecs
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(changelog, partitions, 1, topic_configs={"cleanup.policy": "compact"})])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    # Each record on its ticket's input partition, as faust writes the changelog (not the key's hash partition:
    # the changelog key is the JSON string, the input key the raw id). bench_worker.produce has no partition.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, max_batch_size=batch_bytes,
                                acks="all")
    await producer.start()
    items = list(service.store.items())
    last_of_partition = {stored.partition: i for i, (_, stored) in enumerate(items)}
    held_back = set(last_of_partition.values())
    value_bytes = 0
    started = time.perf_counter()

    async def send(ticket: str, stored: StoredTicket) -> asyncio.Future:
        nonlocal value_bytes
        value = codec.dumps(stored)
        value_bytes += len(value)
        return await producer.send(changelog, value, key=key_codec.dumps(ticket), partition=stored.partition)

    try:
        for start in range(0, len(items), SEED_CHUNK):  # chunks bound the futures held at once
            chunk = range(start, min(start + SEED_CHUNK, len(items)))
            await asyncio.gather(*[await send(*items[i]) for i in chunk if i not in held_back])
        # Sent after every other record is acknowledged: one record per partition, so a batch of its own.
        await asyncio.gather(*[await send(*items[i]) for i in sorted(held_back)])
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    n = len(items)
    return {"records": n, "seconds": round(seconds, 1), "records_per_s": round(n / seconds, 1) if seconds else None,
            "mean_value_bytes": round(value_bytes / n, 1) if n else None}


def in_process_tick_cost(service: TimerService, partitions: int, rounds: int) -> dict[str, Any]:
    """Microseconds per ``on_tick`` (nothing due) on the seeded service versus an empty one; ``assign`` time."""
    empty = TimerService(service.engine, {}, service.settings)

    def per_tick(svc: TimerService) -> float:
        now = datetime.now(UTC)
        started = time.perf_counter()
        for _ in range(rounds):
            for p in range(partitions):
                svc.on_tick(p, now, caught_up=True)
        return (time.perf_counter() - started) / (rounds * partitions) * 1e6

    started = time.perf_counter()
    service.assign(set(range(partitions)))  # what the worker does after recovery: one pass over the store
    assign_s = time.perf_counter() - started
    empty.assign(set(range(partitions)))
    at_n, at_0 = per_tick(service), per_tick(empty)
    return {"pending": sum(map(service.pending, range(partitions))), "on_tick_us": round(at_n, 2),
            "on_tick_us_empty": round(at_0, 2), "ratio": round(at_n / at_0, 2), "assign_s": round(assign_s, 3)}


# ---------------------------------------------------------------------------
# Watching a worker: log lines, /readyz, /metrics, /proc
# ---------------------------------------------------------------------------


def proc_memory(pid: int | str) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of process ``pid`` ("self" for this one), in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return {"rss_mib": fields["VmRSS"], "peak_rss_mib": fields["VmHWM"]}


class Worker(App):
    """A worker process with its settings, HTTP port and a reader of its JSON log lines."""

    def __init__(self, name: str, settings: WorkerSettings, logs: Path) -> None:
        self.settings = settings
        self.port = settings.http_port
        self._read = 0
        self.lines: list[dict] = []
        super().__init__(name, [sys.executable, "-m", "worker.cli", "worker"], to_environment(settings),
                         logs / f"{name}.log")

    def new_lines(self) -> list[dict]:
        with open(self.log, "rb") as f:
            f.seek(self._read)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._read += end
        fresh = []
        for line in data[:end].splitlines():
            try:
                fresh.append(json.loads(line))
            except ValueError:
                continue
        self.lines.extend(fresh)
        return fresh

    def memory(self) -> dict[str, float]:
        return {name: round(mib, 1) for name, mib in proc_memory(self.pid).items()}

    def stop_async(self) -> None:
        """SIGTERM without waiting (App.stop waits later)."""
        if self.process.poll() is None:
            self.process.terminate()


async def http_get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
            return response.status, await response.text()
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return 0, ""


async def scrape(worker: Worker) -> dict[str, float]:
    """The worker's /metrics as {series: value}."""
    async with aiohttp.ClientSession() as session:
        status, text = await http_get(session, f"http://127.0.0.1:{worker.port}/metrics")
    if status != 200:
        raise BenchError(f"{worker.name}: /metrics answered {status}; see {worker.log}")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


async def wait_ready(worker: Worker, min_pending: int, timeout: float) -> dict[str, Any]:
    """Process start to the 'due index rebuilt' line with >= min_pending timers, and to the first /readyz 200."""
    deadline = time.monotonic() + timeout
    readyz_s = rebuilt_s = None
    pending = restored = None
    async with aiohttp.ClientSession() as session:
        while rebuilt_s is None or readyz_s is None:
            worker.check()
            if time.monotonic() > deadline:
                raise BenchError(f"{worker.name}: not ready after {timeout:.0f} s (rebuilt: {rebuilt_s}, "
                                 f"/readyz 200: {readyz_s}); see {worker.log}")
            if readyz_s is None and (await http_get(session, f"http://127.0.0.1:{worker.port}/readyz"))[0] == 200:
                readyz_s = time.time() - worker.started_wall
            for line in worker.new_lines():
                if line.get("event") == "due index rebuilt" and line.get("pending_timers", -1) >= min_pending:
                    at = datetime.fromisoformat(line["timestamp"]).timestamp()
                    if rebuilt_s is None:
                        rebuilt_s, pending = at - worker.started_wall, line["pending_timers"]
                        restored = len(line.get("restored_partitions", ()))
            await asyncio.sleep(0.05)
    metrics = await scrape(worker)
    return {"rebuilt_s": round(rebuilt_s, 2), "readyz_s": round(readyz_s, 2), "pending_timers": pending,
            "restored_partitions": restored,
            "readyz_before_rebuild": readyz_s < rebuilt_s - 0.05,
            "recovery_metric_s": _r(metrics.get("incident_timer_recovery_duration_seconds", math.nan), 2),
            "rebuilds": sum(1 for line in worker.lines if line.get("event") == "due index rebuilt")}


async def tick_cost(workers: list[Worker], broker_pid: int | None, window: float) -> dict[str, dict[str, Any]]:
    """Worker CPU per tick over ``window`` seconds of idle steady state (ticks counted on each ticks topic)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=[workers[0].settings.brokers], group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        async def sample() -> list[tuple[float, float, int]]:
            return [(time.monotonic(), cpu_seconds(w.pid), await end_sum(consumer, w.settings.topic_ticks, w.settings.partitions)
                     or 0) for w in workers]

        before, broker0 = await sample(), cpu_seconds(broker_pid)
        await asyncio.sleep(window)  # the measured window itself
        after, broker1 = await sample(), cpu_seconds(broker_pid)
    finally:
        await consumer.stop()
    out = {}
    for w, (t0, c0, k0), (t1, c1, k1) in zip(workers, before, after):
        w.check()
        ticks = k1 - k0
        out[w.name] = {"window_s": round(t1 - t0, 2), "ticks": ticks, "cpu_util": round((c1 - c0) / (t1 - t0), 3),
                       "cpu_ms_per_tick": round(1000 * (c1 - c0) / ticks, 3) if ticks else None}
    out["broker_cpu_util"] = round((broker1 - broker0) / window, 3)
    return out


async def topic_ends(bootstrap: list[str], topic: str, partitions: int) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()


async def collect_breaches(
    bootstrap: list[str], worker: Worker, prefix: str, k: int, until: float,
    start: dict[TopicPartition, int] | None = None,
) -> dict[str, tuple[int, dict]]:
    """{ticket: (CreateTime ms, body)} of ``sla.response_breached`` for tickets named ``prefix``*, until k or ``until``."""
    topic = worker.settings.topic_breaches
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=100, max_partition_fetch_bytes=4 * 1024 * 1024)
    tps = [TopicPartition(topic, p) for p in range(worker.settings.partitions)]
    await consumer.start()
    found: dict[str, tuple[int, dict]] = {}
    try:
        consumer.assign(tps)
        for tp in tps:
            if start is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, start[tp])
        while len(found) < k and time.time() < until:
            worker.check()
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batch.values():
                for record in records:
                    body = json.loads(record.value)
                    if body["type"] == "sla.response_breached" and body["ticket_id"].startswith(prefix):
                        found.setdefault(body["ticket_id"], (record.timestamp, body))
    finally:
        await consumer.stop()
    return found


def delay_stats(found: dict[str, tuple[int, dict]]) -> dict[str, Any]:
    delays = [ts - datetime.fromisoformat(body["due_at"]).timestamp() * 1000 for ts, body in found.values()]
    return {"breaches": len(found), "delay_ms": spread_stats(delays, 1) if delays else None,
            "lagging": sum(1 for _, body in found.values() if body["detected_while_lagging"])}


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


def burst_tickets(b: int, due_second: datetime) -> list[dict]:
    """``b`` premium S1 tickets (60 s to respond, 24/7) whose dues are spread over [due_second, due_second + 1 s)."""
    return [{"type": "incident.opened", "event_id": f"burst-{i:07d}#0", "ticket_id": f"burst-{i:07d}",
             "occurred_at": (due_second + timedelta(microseconds=1_000_000 * i // b) - PROBE_TARGET)
             .isoformat(timespec="microseconds"),
             "severity": "S1", "plan": "premium", "region": "eu"} for i in range(b)]


@dataclass
class Flow:
    """Input that keeps flowing: opened events (far dues) at ``rate`` per second until stopped."""

    bootstrap: list[str]
    settings: WorkerSettings
    rate: float
    sent: int = 0
    stopping: bool = False

    async def run(self) -> None:
        if self.rate <= 0:
            return
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=False, max_batch_size=1,
                                    acks="all")
        await producer.start()
        rng = random.Random(11)
        started = time.monotonic()
        try:
            while not self.stopping:
                batch = open_tickets(1, f"flow-{self.sent:07d}", datetime.now(UTC), rng)
                for topic, key, value in records_of(self.settings, batch):
                    await producer.send(topic, value, key=key)
                self.sent += 1
                # pacing of a fixed input rate: the one sleep that waits for nothing but time
                await asyncio.sleep(max(0.0, started + self.sent / self.rate - time.monotonic()))
            await producer.flush()
        finally:
            await producer.stop()


class ScaleBench:
    def __init__(self, args: argparse.Namespace, broker: EmbeddedBroker, logs: Path) -> None:
        self.args = args
        self.broker = broker
        self.logs = logs
        self.bootstrap = [broker.bootstrap]
        self.workers: list[Worker] = []
        self.results: dict[str, Any] = {}
        tick = timedelta(seconds=args.tick_interval)
        run = f"s{os.getpid()}"

        def settings(name: str) -> WorkerSettings:
            return worker_settings(broker.bootstrap, f"{run}-{name}", logs / f"{name}-data", tick,
                                   args.log_level).model_copy(update={"http_port": free_port(),
                                                                      "partitions": args.partitions})

        self.idle = settings("idle")
        self.scale = settings("scale")

    @property
    def broker_pid(self) -> int | None:
        return self.broker.process.pid if self.broker.process else None

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def start(self, name: str, settings: WorkerSettings) -> Worker:
        worker = Worker(name, settings, self.logs)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop_async()
        for worker in self.workers:
            worker.stop()

    async def run(self) -> None:
        args = self.args
        n, b = args.tickets, args.burst
        now = datetime.now(UTC)
        for settings in (self.idle, self.scale):
            await prepare_topics(settings)

        # -- seed N genuine states into the scale app's changelog ---------------------
        changelog = f"{self.scale.app_id}-tickets-changelog"
        service, build_s = build_states(self.scale, n, now, args.seed)
        self.say(f"built {n:,} ticket states with TimerService.on_input in {build_s:.1f} s; seeding {changelog}")
        seeding = await seed_changelog(self.bootstrap, changelog, self.scale.partitions, service,
                                       args.seed_batch_bytes)
        seeding["build_s"] = round(build_s, 1)
        self.results["seeding"] = seeding
        self.say(f"seeded {n:,} records in {seeding['seconds']:.1f} s ({seeding['records_per_s']:,.0f}/s, "
                 f"{seeding['mean_value_bytes']:.0f} bytes each)")
        self.results["tick_in_process"] = in_process_tick_cost(service, self.scale.partitions, args.tick_rounds)
        del service
        gc.collect()

        # -- 1. idle and scale workers side by side ----------------------------------------
        ready_timeout = 120 + n / 2_000
        idle = self.start("idle", self.idle)
        scale = self.start("scale", self.scale)
        self.say(f"workers started: idle (pid {idle.pid}, 0 tickets), scale (pid {scale.pid}, {n:,} tickets)")
        idle_ready, scale_ready = await asyncio.gather(wait_ready(idle, 0, ready_timeout),
                                                       wait_ready(scale, n, ready_timeout))
        self.say(f"ready: idle {idle_ready['rebuilt_s']:.1f} s, scale {scale_ready['rebuilt_s']:.1f} s after start")
        await self.settled([idle, scale])
        memory = {"idle": idle.memory(), "scale": scale.memory()}
        ticks = await tick_cost([idle, scale], self.broker_pid, args.window)
        memory["state_bytes_per_ticket"] = round(
            (memory["scale"]["rss_mib"] - memory["idle"]["rss_mib"]) * 1024 * 1024 / n, 1) if n else None
        self.say(f"RSS idle {memory['idle']['rss_mib']:.0f} MiB, scale {memory['scale']['rss_mib']:.0f} MiB; "
                 f"CPU/tick idle {ticks['idle']['cpu_ms_per_tick']} ms, scale {ticks['scale']['cpu_ms_per_tick']} ms")

        start = datetime.now(UTC)
        probes = probe_tickets(args.probes, start, args.lead, args.spread)
        await produce(self.bootstrap, records_of(self.idle, probes) + records_of(self.scale, probes))
        until = (start + timedelta(seconds=args.lead + args.spread + args.fire_timeout)).timestamp()
        idle_found, scale_found = await asyncio.gather(
            collect_breaches(self.bootstrap, idle, "probe-", args.probes, until),
            collect_breaches(self.bootstrap, scale, "probe-", args.probes, until))
        idle.stop_async()
        fire = {"idle": delay_stats(idle_found), "scale": delay_stats(scale_found)}
        self.results["open_tickets"] = {
            "tickets": n, "ready": {"idle": idle_ready, "scale": scale_ready}, "memory": memory,
            "tick_cpu": ticks, "probes": args.probes, "window_s": [args.lead, args.lead + args.spread], "fire": fire}
        for name, found in (("idle", idle_found), ("scale", scale_found)):
            if len(found) < args.probes:
                raise BenchError(f"{name}: only {len(found)}/{args.probes} probe breaches arrived")
        self.say(f"fire delay p99: idle {fire['idle']['delay_ms']['p99']} ms, "
                 f"scale {fire['scale']['delay_ms']['p99']} ms")
        idle.stop_async()
        scale.stop()
        idle.stop()
        if args.open_tickets_only:
            return

        # -- 2. recovery: RocksDB cold (fills the data dir), RocksDB warm twice, memory (then used for the burst) --
        rocks = self.scale.model_copy(update={"store": "rocksdb", "data_dir": self.logs / "rocksdb-data"})
        recovery: dict[str, Any] = {"changelog_records": await self.changelog_size(changelog)}
        # The memory worker goes on to the burst, with --burst-batch-bytes for its producer: its batches are
        # never recovered from, so the broker's end offsets of multi-record batches do not matter there.
        burst_worker = self.scale.model_copy(update={"producer_max_batch_size": args.burst_batch_bytes})
        # The saved timers are removed after the warm worker: the next one rebuilds the heaps from the tickets, as
        # after a kill (killing it would add the wait for its session to time out to the next one's join).
        for name, settings in (("rocksdb_cold", rocks), ("rocksdb_warm", rocks), ("rocksdb_warm_unsaved", rocks),
                               ("memory", burst_worker)):
            worker = self.start(f"recovery-{name}", settings)
            recovery[name] = await wait_ready(worker, n, ready_timeout)
            recovery[name]["memory"] = worker.memory()
            self.say(f"recovery {name}: ready {recovery[name]['rebuilt_s']:.1f} s after start "
                     f"(/readyz {recovery[name]['readyz_s']:.1f} s)")
            if name != "memory":
                stopping = time.monotonic()
                worker.stop()
                recovery[name]["stop_s"] = round(time.monotonic() - stopping, 2)  # RocksDB saves its timers here
            if name == "rocksdb_warm":
                for saved in rocks.data_dir.rglob("*.timers"):
                    saved.unlink()
        recovery["ratio_memory_over_rocksdb_warm"] = round(
            recovery["memory"]["rebuilt_s"] / recovery["rocksdb_warm"]["rebuilt_s"], 2)
        self.results["recovery"] = recovery

        # -- 3. burst of B dues in one second on the memory worker (N open tickets), input flowing -----
        scale = worker
        breaches_from = await topic_ends(self.bootstrap, self.scale.topic_breaches, self.scale.partitions)
        due = (datetime.now(UTC) + timedelta(seconds=args.burst_lead or 2.5 + b / 1000)).replace(microsecond=0)
        self.say(f"producing {b:,} burst tickets due at {due:%H:%M:%S} "
                 f"(+{(due - datetime.now(UTC)).total_seconds():.0f} s)")
        produce_s = await produce(self.bootstrap, records_of(self.scale, burst_tickets(b, due)),
                                  batch_bytes=args.burst_input_batch_bytes)
        applied_at = await self.wait_timers(scale, n + b, due)
        self.say(f"burst produced in {produce_s:.1f} s, all applied {(due.timestamp() - applied_at):.1f} s before due")
        flow = Flow(self.bootstrap, self.scale, args.flow_rate)

        cpu_from: list[float] = []  # worker and broker CPU seconds when the flow starts (due second - 2 s)

        async def start_flow() -> None:
            await asyncio.sleep(max(0.0, due.timestamp() - 2 - time.time()))  # the flow starts at a chosen instant
            cpu_from.extend((cpu_seconds(scale.pid), cpu_seconds(self.broker_pid)))
            await flow.run()

        flow_task = asyncio.create_task(start_flow())
        try:
            found = await collect_breaches(self.bootstrap, scale, "burst-", b,
                                           due.timestamp() + args.burst_timeout, breaches_from)
        finally:
            flow.stopping = True
            await flow_task
        cpu_used = (cpu_seconds(scale.pid) - cpu_from[0], cpu_seconds(self.broker_pid) - cpu_from[1]) if cpu_from \
            else (math.nan, math.nan)
        stamps = sorted(ts for ts, _ in found.values())
        burst = {"tickets": b, "open_tickets": n, "producer_batch_bytes": args.burst_batch_bytes,
                 "input_batch_bytes": args.burst_input_batch_bytes,
                 "due_second": due.isoformat(), "produce_s": round(produce_s, 1),
                 "applied_before_due_s": round(due.timestamp() - applied_at, 1), "breaches": len(found),
                 "flow_rate": args.flow_rate, "flow_events": flow.sent,
                 "worker_cpu_s": _r(cpu_used[0], 2), "broker_cpu_s": _r(cpu_used[1], 2),
                 "worker_cpu_ms_per_breach": _r(1000 * cpu_used[0] / max(1, len(found)), 3)}
        if stamps:
            burst["first_ms"] = stamps[0] - due.timestamp() * 1000
            burst["last_ms"] = stamps[-1] - due.timestamp() * 1000
            burst["drain_per_s"] = round(len(stamps) / max(0.001, (stamps[-1] - stamps[0]) / 1000), 1)
            burst.update({"delay": delay_stats(found)})
        self.results["burst"] = burst
        if len(found) < b:
            raise BenchError(f"burst: only {len(found)}/{b} breaches within {args.burst_timeout:.0f} s of the due "
                             f"second; see {scale.log}")
        self.say(f"burst: last breach {burst['last_ms'] / 1000:.1f} s after the due second "
                 f"({burst['drain_per_s']:,.0f} breaches/s), {flow.sent} flow events meanwhile")
        burst["rss_mib_after"] = scale.memory()["rss_mib"]
        scale.stop()

    async def settled(self, workers: list[Worker]) -> None:
        """Until each worker has processed a tick after it got ready (steady state)."""
        marks = {w.name: time.time() for w in workers}
        deadline = time.monotonic() + 60
        while True:
            done = [(await scrape(w)).get("incident_timer_last_tick_timestamp_seconds", 0) > marks[w.name]
                    for w in workers]
            if all(done):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"no tick processed 60 s after ready: {dict(zip(marks, done))}")
            await asyncio.sleep(0.2)

    async def wait_timers(self, worker: Worker, count: int, due: datetime) -> float:
        """Until the worker holds ``count`` response timers; fails when that is not before ``due``."""
        while True:
            metrics = await scrape(worker)
            held = metrics.get('incident_timer_open_timers{kind="response"}', 0)
            if held >= count:
                return time.time()
            if time.time() > due.timestamp() - 1:
                raise BenchError(f"burst: only {held:.0f}/{count} response timers held 1 s before the due second "
                                 "(input not applied in time: raise --burst-lead)")
            await asyncio.sleep(0.5)

    async def changelog_size(self, changelog: str) -> int:
        return sum((await topic_ends(self.bootstrap, changelog, self.scale.partitions)).values())


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def print_table(results: dict[str, Any]) -> None:
    def row(*cells: Any) -> None:
        print(f"{cells[0]:<40}" + "".join(f"{'' if c is None else c:>16}" for c in cells[1:]))

    print()
    seeding = results.get("seeding")
    if seeding:
        print(f"seeded {seeding['records']:,} states into the changelog in {seeding['seconds']} s "
              f"({seeding['records_per_s']}/s, {seeding['mean_value_bytes']} bytes/value; "
              f"built with TimerService.on_input in {seeding['build_s']} s)")
    inproc = results.get("tick_in_process")
    if inproc:
        row("TimerService.on_tick, nothing due", "0 tickets", f"{inproc['pending']:,} tickets", "ratio")
        row("  us per call (in process)", inproc["on_tick_us_empty"], inproc["on_tick_us"], inproc["ratio"])
        row("  assign (heap rebuild) s", "", inproc["assign_s"])
    scale = results.get("open_tickets")
    if scale:
        ready, memory, ticks = scale["ready"], scale["memory"], scale["tick_cpu"]
        row("open tickets in one worker", "idle (0)", f"scale ({scale['tickets']:,})", "ratio")
        row("  ready after start, s", ready["idle"]["rebuilt_s"], ready["scale"]["rebuilt_s"])
        row("  RSS MiB", memory["idle"]["rss_mib"], memory["scale"]["rss_mib"])
        row("  peak RSS MiB", memory["idle"]["peak_rss_mib"], memory["scale"]["peak_rss_mib"])
        row("  state bytes per ticket", "", memory["state_bytes_per_ticket"])
        a, c = ticks["idle"]["cpu_ms_per_tick"], ticks["scale"]["cpu_ms_per_tick"]
        row("  worker CPU ms per tick (idle window)", a, c, round(c / a, 2) if a and c else None)
        row("  worker CPU, cores", ticks["idle"]["cpu_util"], ticks["scale"]["cpu_util"])
        fire = scale["fire"]
        for q in ("p50", "p99", "max"):
            a = fire["idle"]["delay_ms"][q] if fire["idle"]["delay_ms"] else None
            c = fire["scale"]["delay_ms"][q] if fire["scale"]["delay_ms"] else None
            row(f"  fire delay {q} ms", a, c, round(c / a, 2) if a and c else None)
        row("  probe breaches", f"{fire['idle']['breaches']}/{scale['probes']}",
            f"{fire['scale']['breaches']}/{scale['probes']}")
        print()
    recovery = results.get("recovery")
    if recovery:
        names = ("rocksdb_cold", "rocksdb_warm", "rocksdb_warm_unsaved", "memory")
        row(f"recovery ({recovery['changelog_records']:,} changelog records)", "RocksDB cold", "RocksDB warm",
            "warm, unsaved", "memory")
        for key, label in (("rebuilt_s", "start to due index rebuilt, s"), ("readyz_s", "start to /readyz 200, s"),
                           ("recovery_metric_s", "recovery_duration_seconds"),
                           ("readyz_before_rebuild", "/readyz 200 before rebuilt"),
                           ("restored_partitions", "partitions whose saved timers were taken back"),
                           ("stop_s", "SIGTERM to exit, s")):
            row(f"  {label}", *(recovery[name].get(key, "") for name in names))
        row("  RSS MiB when ready", *(recovery[name]["memory"]["rss_mib"] for name in names))
        row("  memory / RocksDB warm", "", "", "", recovery["ratio_memory_over_rocksdb_warm"])
        print()
    burst = results.get("burst")
    if burst:
        row(f"burst: {burst['tickets']:,} dues in one second, {burst['open_tickets']:,} open", "value")
        row("  breaches", f"{burst['breaches']:,}/{burst['tickets']:,}")
        row("  last breach after the due second, s", _r(burst.get("last_ms", math.nan) / 1000, 2))
        row("  first breach after the due second, s", _r(burst.get("first_ms", math.nan) / 1000, 2))
        row("  breaches per second while draining", burst.get("drain_per_s"))
        row("  other input meanwhile (events, rate)", f"{burst['flow_events']} @ {burst['flow_rate']}/s")
        row("  worker CPU ms per breach (from due - 2 s)", burst.get("worker_cpu_ms_per_breach"))
        row("  worker / broker CPU s", f"{burst.get('worker_cpu_s')} / {burst.get('broker_cpu_s')}")
        print()

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 tickets, a 5,000 burst, 50 probes (< 1 min)")
    parser.add_argument("--tickets", type=int, help="open tickets seeded (default 1,000,000; quick 20,000)")
    parser.add_argument("--burst", type=int, help="dues in one second (default 100,000; quick 5,000)")
    parser.add_argument("--probes", type=int, help="fire-delay probes per worker (default 500; quick 50)")
    parser.add_argument("--lead", type=float, help="seconds from producing the probes to the first due (20; quick 2.5)")
    parser.add_argument("--spread", type=float, help="seconds over which the probe dues are spread (20; quick 1)")
    parser.add_argument("--window", type=float, help="seconds of the tick-cost window (10; quick 1.5)")
    parser.add_argument("--fire-timeout", type=float, default=30.0, help="seconds after the last probe due to wait")
    parser.add_argument("--burst-lead", type=float, default=None,
                        help="seconds from producing the burst to its due second (default 2.5 + B / 1000)")
    parser.add_argument("--burst-timeout", type=float, default=None,
                        help="seconds after the due second to wait for the burst (default 60 + B / 200)")
    parser.add_argument("--burst-batch-bytes", type=int, default=1,
                        help="producer batch size of the burst worker (default 1, as every other producer here; "
                             "16384 is Kafka's default)")
    parser.add_argument("--burst-input-batch-bytes", type=int, default=16384,
                        help="producer batch size for the burst's opened events (default 16384; rows in "
                             "BENCHMARKS.md before 2026-11-28 12:30 UTC used 1)")
    parser.add_argument("--seed-batch-bytes", type=int, default=16384,
                        help="producer batch size for seeding the changelog, each partition's last record alone "
                             "(default 16384; rows in BENCHMARKS.md before 2026-11-28 15:50 UTC used 1)")
    parser.add_argument("--flow-rate", type=float, default=50.0, help="other input events per second in the burst")
    parser.add_argument("--tick-rounds", type=int, default=2000, help="in-process on_tick rounds (4 calls each)")
    parser.add_argument("--tick-interval", type=float, default=0.2, help="worker tick interval, seconds (0.2)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level of the workers (INFO, the worker's default)")
    parser.add_argument("--partitions", type=int, default=PARTITIONS,
                        help=f"partitions of every topic ({PARTITIONS})")
    parser.add_argument("--open-tickets-only", action="store_true",
                        help="stop after the first measure (open tickets), before recovery and the burst")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", action="store_true", help="keep the log directory even on success")
    args = parser.parse_args(argv)
    defaults = (20_000, 5_000, 50, 2.5, 1.0, 1.5) if args.quick else (1_000_000, 100_000, 500, 20.0, 20.0, 10.0)
    for name, default in zip(("tickets", "burst", "probes", "lead", "spread", "window"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.burst_timeout is None:
        args.burst_timeout = 60 + args.burst / 200

    ok, error, results, facts, logs, started = run_on_embedded_broker("scale", ScaleBench, args)
    print_table(results)
    facts["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    facts["wall_s"] = round(time.monotonic() - started, 1)
    summary = {"bench": "scale", "ok": ok, "error": error, "quick": args.quick, "partitions": args.partitions,
               "tick_interval_s": args.tick_interval, "log_level": args.log_level, "policy": POLICY.name,
               "seeded_changelog": True, **results, "machine": facts}
    return report(summary, logs, keep=args.keep_logs)


if __name__ == "__main__":
    sys.exit(main())
