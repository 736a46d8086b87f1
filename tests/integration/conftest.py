"""Integration fixtures: a real Kafka-protocol broker (the embedded Tansu) and worker processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from worker.adapters.embedded_broker import EmbeddedBroker
from worker.adapters.kafka_admin import client_options, prepare_topics
from worker.settings import WorkerSettings, to_environment

HERE = Path(__file__).parent
SECONDS_POLICY = HERE / "policy-seconds.yaml"
_namespaces = itertools.count()


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_file=log) as running:
        yield running


@pytest.fixture
def settings(broker, tmp_path) -> WorkerSettings:
    """Fresh topics and consumer group per test, fast group timeouts, the seconds policy."""
    ns = f"it{os.getpid()}-{next(_namespaces)}"
    result = WorkerSettings(
        brokers=broker.bootstrap, app_id=ns, partitions=4, replication_factor=1, create_topics=True,
        topic_opened=f"{ns}.opened", topic_responses=f"{ns}.responses", topic_updates=f"{ns}.updates",
        topic_breaches=f"{ns}.breaches", topic_overdue=f"{ns}.overdue", topic_dead_letters=f"{ns}.dlq",
        topic_ticks=f"{ns}.ticks", policy=SECONDS_POLICY, data_dir=tmp_path / "state",
        tick_interval=timedelta(milliseconds=100), catch_up_bound=timedelta(seconds=20),
        session_timeout=timedelta(seconds=2), heartbeat_interval=timedelta(milliseconds=200),
        rebalance_timeout=timedelta(seconds=2), fetch_max_wait=timedelta(milliseconds=100),
        producer_max_batch_size=1, http_port=0,
    )
    asyncio.run(prepare_topics(result))
    return result


class WorkerProcess:
    """``incident-timer worker`` as a child process, its log in a file."""

    def __init__(self, settings: WorkerSettings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "worker.cli", "worker"],
                env={**os.environ, **to_environment(self.settings)},
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def workers(settings, tmp_path):
    started: list[WorkerProcess] = []

    def start(name: str = "w", **overrides) -> WorkerProcess:
        worker_settings = settings.model_copy(update=overrides) if overrides else settings
        worker = WorkerProcess(worker_settings, tmp_path / f"{name}-{len(started)}.log").start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def now() -> datetime:
    return datetime.now(timezone.utc)


def opened(ticket: str, at: datetime, severity="S1", plan="premium", region="eu", event_id=None) -> dict:
    return {"type": "incident.opened", "event_id": event_id or f"{ticket}#open", "ticket_id": ticket,
            "occurred_at": at.isoformat(), "severity": severity, "plan": plan, "region": region}


def response(ticket: str, at: datetime, event_id=None) -> dict:
    return {"type": "incident.response", "event_id": event_id or f"{ticket}#resp", "ticket_id": ticket,
            "occurred_at": at.isoformat()}


def update(ticket: str, at: datetime, event_id: str, status="ongoing", public=True) -> dict:
    return {"type": "incident.update", "event_id": event_id, "ticket_id": ticket, "occurred_at": at.isoformat(),
            "status": status, "public": public}


async def produce(settings: WorkerSettings, events: list[dict | tuple[str, bytes | None, bytes]]) -> None:
    """Send events (dicts go to their topic by type, keyed by ticket) or raw (topic, key, value) records."""
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=False,
                                max_batch_size=1, acks="all", max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = []
        for event in events:
            if isinstance(event, dict):
                topic = settings.topic_for(event["type"])
                futures.append(await producer.send(topic, json.dumps(event).encode(),
                                                   key=event["ticket_id"].encode()))
            else:
                topic, key, value = event
                futures.append(await producer.send(topic, value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def collect(
    settings: WorkerSettings, topics: list[str], done: Callable[[list], bool], timeout: float = 60.0
) -> list:
    """Records of ``topics`` from the beginning, until ``done(records)`` or the deadline."""
    consumer = AIOKafkaConsumer(*topics, **client_options(settings), auto_offset_reset="earliest", group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while not done(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def poll_until(condition: Callable[[], object], timeout: float, what: str):
    """Poll ``condition()`` until it is truthy, and return that value; fail at the deadline.

    Only for what cannot be awaited: a worker's log file, an HTTP endpoint (an
    OSError while it is not listening yet counts as not yet).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except OSError:
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"never true: {what}"
        await asyncio.sleep(0.2)


def facts(records: list) -> list[dict]:
    return [json.loads(r.value) for r in records]
