"""``incident-timer dev``: the whole pipeline on one machine, no Kafka needed.

Starts the embedded broker, creates the topics, starts a worker process with
the demo policy, feeds the bundled sample of the Volvo IT log with its time
compressed (240 times: an hour of the log becomes 15 seconds, matching the demo
policy), and prints every breach and overdue event as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import TextIO

from aiokafka import AIOKafkaConsumer

from worker.adapters.embedded_broker import EmbeddedBroker, free_port
from worker.adapters.kafka_admin import client_options, prepare_topics
from worker.adapters.kafka_tools import producer
from worker.settings import ISO_DURATION, WorkerSettings, to_environment

SPEED = 240
EXAMPLES = resources.files("worker") / "examples"
SAMPLE = EXAMPLES / "volvo-sample.jsonl"
DEMO_POLICY = EXAMPLES / "demo-policy.yaml"


def retimed(lines: list[str], start: datetime, speed: float, stagger: timedelta, tickets: int) -> list[dict]:
    """Events of ``tickets`` tickets, most severe first, each rebased to start ``stagger`` after the previous."""
    by_ticket: dict[str, list[dict]] = {}
    for line in lines:
        if line.strip():
            event = json.loads(line)
            by_ticket.setdefault(event["ticket_id"], []).append(event)
    def severity(events: list[dict]) -> str:
        return next((e["severity"] for e in events if e["type"] == "incident.opened"), "S9")

    chosen = sorted(by_ticket.values(), key=severity)[:tickets]
    out = []
    for index, events in enumerate(chosen):
        origin = min(datetime.fromisoformat(e["occurred_at"]) for e in events)
        base = start + index * stagger

        def shift(text: str) -> str:
            return (base + (datetime.fromisoformat(text) - origin) / speed).isoformat()

        for event in events:
            event = dict(event, occurred_at=shift(event["occurred_at"]))
            if "next_update_at" in event:
                event["next_update_at"] = shift(event["next_update_at"])
            if "next_update_in" in event:
                scaled = ISO_DURATION.validate_python(event["next_update_in"]) / speed
                event["next_update_in"] = ISO_DURATION.dump_python(scaled, mode="json")
            out.append(event)
    out.sort(key=lambda e: e["occurred_at"])
    return out


async def feed(settings: WorkerSettings, events: list[dict]) -> None:
    """Send each event when its (compressed) occurred-at time comes."""
    async with producer(settings) as kafka:
        for event in events:
            delay = (datetime.fromisoformat(event["occurred_at"]) - datetime.now(timezone.utc)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the demo feed, not waiting for a result
            topic = settings.topic_for(event["type"])
            await kafka.send(topic, json.dumps(event).encode(), key=event["ticket_id"].encode())


async def show(settings: WorkerSettings, out: TextIO) -> None:
    consumer = AIOKafkaConsumer(
        settings.topic_breaches, settings.topic_overdue, **client_options(settings),
        auto_offset_reset="earliest", group_id=None,
    )
    await consumer.start()
    try:
        async for record in consumer:
            fact = json.loads(record.value)
            extra = ""
            if "overdue_count" in fact:
                extra = f" count={fact['overdue_count']}"
            if "reason" in fact:
                extra += f" reason={fact['reason']}"
            print(f"{fact['detected_at'][11:23]}  {fact['type']:<30} ticket={fact['ticket_id']} "
                  f"{fact['plan']}/{fact['severity']} due={fact['due_at'][11:23]} "
                  f"late={fact['lateness_seconds']:.2f}s{extra}", file=out, flush=True)
    finally:
        await consumer.stop()


async def _exited(process: subprocess.Popen) -> int:
    """The process's exit status, once it has exited (checked twice a second)."""
    while process.poll() is None:
        await asyncio.sleep(0.5)
    return process.returncode


async def _run(
    settings: WorkerSettings, events: list[dict], duration: float | None, worker: subprocess.Popen, out: TextIO
) -> int:
    """Feed and show until ``duration`` passes or the worker exits; returns the exit status."""
    tasks = [asyncio.create_task(show(settings, out)), asyncio.create_task(feed(settings, events))]
    worker_exit = asyncio.create_task(_exited(worker))
    try:
        done, _ = await asyncio.wait([worker_exit, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        if worker_exit in done:
            print(f"the worker exited with status {worker_exit.result()}; see its log above", file=out, flush=True)
            return 1
        for task in done:
            task.result()  # a feeder or printer error surfaces here
        if not done:
            return 0
        # the feeder finished: keep showing until the duration is over or the worker exits
        remaining = [worker_exit, *(t for t in tasks if not t.done())]
        done, _ = await asyncio.wait(remaining, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        if worker_exit in done:
            print(f"the worker exited with status {worker_exit.result()}", file=out, flush=True)
            return 1
        return 0
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def run_dev(
    events_file: Path | None, tickets: int, duration: float | None, partitions: int, out: TextIO = sys.stdout
) -> int:
    lines = (events_file.read_text() if events_file else SAMPLE.read_text()).splitlines()
    with tempfile.TemporaryDirectory(prefix="incident-timer-dev-") as scratch, EmbeddedBroker() as broker:
        settings = WorkerSettings(
            brokers=broker.bootstrap, create_topics=True, replication_factor=1, partitions=partitions,
            policy=Path(str(DEMO_POLICY)), data_dir=Path(scratch) / "state", session_timeout=timedelta(seconds=6),
            heartbeat_interval=timedelta(milliseconds=500), rebalance_timeout=timedelta(seconds=6),
            catch_up_bound=timedelta(seconds=5),
            fetch_max_wait=timedelta(milliseconds=100), producer_max_batch_size=1,
            http_port=free_port(), log_format="console", log_level="WARNING",
        )
        asyncio.run(prepare_topics(settings))
        print(f"embedded broker on {broker.bootstrap}; topics created; starting the worker "
              f"(demo policy: {DEMO_POLICY.name}; metrics on http://127.0.0.1:{settings.http_port}/metrics); "
              "Ctrl-C stops everything", file=out, flush=True)
        worker = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "worker"],
            env={**os.environ, **to_environment(settings)},
            stdin=subprocess.DEVNULL,
        )
        try:
            start = datetime.now(timezone.utc) + timedelta(seconds=2)
            events = retimed(lines, start, SPEED, timedelta(seconds=0.5), tickets)
            print(f"feeding {len(events)} events of {tickets} tickets, time compressed {SPEED}x", file=out, flush=True)
            status = asyncio.run(_run(settings, events, duration, worker, out))
        except KeyboardInterrupt:
            status = 0
        finally:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    print("stopped: worker and broker", file=out, flush=True)
    return status
