#!/usr/bin/env python
"""The baseline for bench/bench_worker.py: a bare faust agent that counts events per key.

    INCIDENT_TIMER_BROKERS=... INCIDENT_TIMER_APP_ID=... BENCH_BARE_TOPIC=... python bench/bare_agent.py

It reads the same ``INCIDENT_TIMER_*`` settings as the worker and builds its
faust app with the same arguments as ``worker.adapters.faust_runtime.TimerApp``
(``timerkafka`` transport and fetch wait, memory store, group timeouts, commit
interval, acks, producer batch size), but its agent only does
``table[key] += 1`` for each record of one topic (``BENCH_BARE_TOPIC``; a
comma-separated list subscribes to several, for experiments): no
decoding, no engine, no outputs, no ticks. Its table is ``counts``, so its
changelog is ``<app id>-counts-changelog``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faust  # noqa: E402

from worker.settings import WorkerSettings  # noqa: E402

TABLE = "counts"


def build_app(settings: WorkerSettings, topic_name: str) -> faust.App:
    app = faust.App(
        settings.app_id,
        broker=[f"timerkafka://{server}" for server in settings.bootstrap_servers],
        store="memory://",
        datadir=str(settings.data_dir),
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
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
        stream_wait_empty=False,
        web_enabled=False,
        value_serializer="json",
    )
    app.fetch_max_wait_ms = int(settings.fetch_max_wait.total_seconds() * 1000)
    topic = app.topic(*topic_name.split(","), key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")
    table = app.Table(TABLE, default=int, partitions=settings.partitions, key_type=str)

    async def count(stream: Any) -> None:
        async for event in stream.events():
            key = event.message.key.decode() if event.message.key is not None else ""
            table[key] += 1

    app.agent(topic, name="bench.bare_counter")(count)
    return app


def main() -> None:
    settings = WorkerSettings()
    app = build_app(settings, os.environ["BENCH_BARE_TOPIC"])
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
