#!/usr/bin/env python
"""The baseline for bench/bench_worker.py: a bare faust agent that counts events per key.

    INCIDENT_TIMER_BROKERS=... INCIDENT_TIMER_APP_ID=... BENCH_BARE_TOPIC=... python bench/bare_agent.py

It reads the same ``INCIDENT_TIMER_*`` settings as the worker and builds its
faust app with ``worker.adapters.faust_runtime.new_faust_app``, as the worker does
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

from worker.adapters.faust_runtime import new_faust_app  # noqa: E402
from worker.settings import WorkerSettings  # noqa: E402

TABLE = "counts"


def build_app(settings: WorkerSettings, topic_name: str) -> faust.App:
    app = new_faust_app(settings.model_copy(update={"store": "memory"}), settings.partitions)
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
