"""Operator tools: send an event file to the input topics, tail a topic."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from worker.adapters.kafka_admin import client_options
from worker.settings import STREAM_OF_TYPE, WorkerSettings



def producer(settings: WorkerSettings) -> AIOKafkaProducer:
    # No idempotence: brokers without InitProducerId (like the embedded one) refuse it; acks=all still.
    return AIOKafkaProducer(
        **client_options(settings), acks="all", enable_idempotence=False, linger_ms=5,
        max_batch_size=settings.producer_max_batch_size,
    )


def route(raw: bytes, settings: WorkerSettings, topic: str | None) -> tuple[str, bytes | None] | str:
    """The topic and key of one input line, or why it cannot be routed."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    key = data.get("ticket_id") if isinstance(data, dict) else None
    key_bytes = key.encode() if isinstance(key, str) else None
    if topic is not None:
        return topic, key_bytes
    event_type = data.get("type") if isinstance(data, dict) else None
    if event_type not in STREAM_OF_TYPE:
        return "no known 'type' field: pass --topic to send it anyway"
    return settings.topic_for(event_type), key_bytes


async def send_lines(
    lines: Iterable[bytes], settings: WorkerSettings, topic: str | None = None, errors: TextIO = sys.stderr
) -> tuple[int, int]:
    """Send each line to its topic by type (or all to ``topic``), keyed by ticket id; returns (sent, skipped)."""
    sent = skipped = 0
    async with producer(settings) as kafka:
        pending = []
        for number, line in enumerate(lines, start=1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            routed = route(raw, settings, topic)
            if isinstance(routed, str):
                print(f"line {number}: skipped: {routed}", file=errors)
                skipped += 1
                continue
            pending.append(await kafka.send(routed[0], raw, key=routed[1]))
            sent += 1
        await asyncio.gather(*pending)
    return sent, skipped


def format_record(record: Any) -> str:
    headers = {key: value.decode("utf-8", "replace") for key, value in record.headers or ()}
    value = record.value.decode("utf-8", "replace") if record.value is not None else None
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    return json.dumps({"topic": record.topic, "partition": record.partition, "offset": record.offset,
                       "key": key, "headers": headers, "value": value})


async def tail(
    topic: str, settings: WorkerSettings, from_beginning: bool, out: TextIO = sys.stdout, limit: int | None = None
) -> int:
    """Print records of ``topic`` as JSON lines (``limit`` records, or until cancelled)."""
    consumer = AIOKafkaConsumer(
        topic, **client_options(settings), auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False, group_id=None,
    )
    await consumer.start()
    count = 0
    try:
        async for record in consumer:
            print(format_record(record), file=out, flush=True)
            count += 1
            if limit is not None and count >= limit:
                break
    finally:
        await consumer.stop()
    return count
