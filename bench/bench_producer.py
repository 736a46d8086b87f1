#!/usr/bin/env python
"""Produce rate of a bare aiokafka producer on the embedded broker, one record per batch versus Kafka's default.

    python bench/bench_producer.py [--records N] [--bytes B]

The worker's burst is bounded by how many records reach the broker per produce
round trip. aiokafka keeps one batch per partition and waits for it to be sent
before adding the next, so with ``max_batch_size=1`` (what the embedded broker
needs for correct end offsets) each partition carries one record per round
trip. This measures that bound on the same broker, as a ratio: N records of B
bytes to a fresh 4-partition topic, sent one after another and awaited, with
``max_batch_size`` 1 and 16,384.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from worker.adapters.embedded_broker import EmbeddedBroker


async def produce_rate(bootstrap: str, topic: str, batch_bytes: int, records: int, size: int) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 4, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all",
                                max_batch_size=batch_bytes)
    await producer.start()
    try:
        value = b"x" * size
        started = time.perf_counter()
        sent = [await producer.send(topic, value, key=str(i).encode()) for i in range(records)]
        await asyncio.gather(*sent)
        return records / (time.perf_counter() - started)
    finally:
        await producer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--bytes", type=int, default=400, help="value size (an output record is about 400 bytes)")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        one = asyncio.run(produce_rate(broker.bootstrap, "one-per-batch", 1, args.records, args.bytes))
        batched = asyncio.run(produce_rate(broker.bootstrap, "batched", 16384, args.records, args.bytes))
    print(json.dumps({"bench": "producer", "records": args.records, "value_bytes": args.bytes,
                      "records_per_s": {"batch_1": round(one), "batch_16384": round(batched)},
                      "ratio": round(batched / one, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
