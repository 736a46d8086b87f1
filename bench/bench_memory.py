#!/usr/bin/env python
"""Ticket state memory and tick cost in one process, at sizes the embedded broker cannot recover (issue 5).

    python bench/bench_memory.py [--tickets N] [--quick]

The worker's memory store holds, per open ticket, the StoredTicket read from
its changelog JSON (after a restart the state stays encoded until it is first
read), and an entry in its partition's due heap. A child process
builds N genuine open tickets with the worker's own ``TimerService.on_input``
(``bench_scale.build_states``: standard S4, mixed regions, as bench_scale.py
seeds them) and encodes each with the worker's ``TicketCodec``. This process
receives the encoded values, then decodes them into a dict as recovery does and
rebuilds the due heaps (``TimerService.assign``). Baseline: this same process
holding the encoded values, before decoding. Reported: resident memory (VmRSS)
added by the decoded tickets and heaps, per ticket; ``on_tick`` with N pending
timers against an empty service (the heap must not be scanned); and the pause of
a full garbage collection with the tickets, before and after ``gc.freeze()``
(the worker freezes the recovered tickets after its rebuild), against the pause
before decoding.

Only the state is measured: a worker adds faust's table entry per ticket and
its own 78 MiB at start. ``bench_scale.py`` measures the worker's RSS up to the
sizes the embedded broker can recover (see BENCHMARKS.md for both side by side).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_scale import build_states, in_process_tick_cost, proc_memory  # noqa: E402
from bench.bench_worker import PARTITIONS, POLICY, machine_facts  # noqa: E402
from worker.adapters.ticket_table import TicketCodec  # noqa: E402
from worker.domain.policy import load_policy  # noqa: E402
from worker.domain.timers import TicketEngine  # noqa: E402
from worker.service.timer_service import ServiceSettings, TimerService  # noqa: E402
from worker.settings import WorkerSettings  # noqa: E402

MiB = 1024 * 1024


def settings() -> WorkerSettings:
    return WorkerSettings(policy=POLICY, partitions=PARTITIONS)


def encoded_tickets(n: int, seed: int) -> tuple[list[tuple[str, bytes]], float]:
    """In the child: N open tickets through TimerService.on_input, each encoded as the changelog holds it."""
    service, build_s = build_states(settings(), n, datetime.now(timezone.utc), seed)
    codec = TicketCodec()
    return [(ticket, codec.dumps(stored)) for ticket, stored in service.store.items()], build_s


def full_collection_s() -> float:
    """The pause of a full garbage collection: the worker's event loop stands still meanwhile."""
    started = time.perf_counter()
    gc.collect()
    return round(time.perf_counter() - started, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, help="open tickets (default 1,000,000; quick 20,000)")
    parser.add_argument("--quick", action="store_true", help="20,000 tickets (a few seconds)")
    parser.add_argument("--tick-rounds", type=int, default=2000, help="on_tick rounds (one call per partition each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    n = args.tickets or (20_000 if args.quick else 1_000_000)
    started = time.monotonic()

    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        encoded, build_s = pool.submit(encoded_tickets, n, args.seed).result()
    empty_pause = full_collection_s()
    before = proc_memory("self")["rss_mib"]
    codec = TicketCodec()
    decode_started = time.perf_counter()
    store = {ticket: codec.loads(raw) for ticket, raw in encoded}
    decode_s = time.perf_counter() - decode_started
    service = TimerService(TicketEngine(load_policy(POLICY)), store, ServiceSettings())
    tick = in_process_tick_cost(service, PARTITIONS, args.tick_rounds)  # also rebuilds the heaps (assign)
    pause = {"empty_s": empty_pause, "tickets_s": full_collection_s()}
    after = proc_memory("self")["rss_mib"]
    gc.freeze()  # as the worker does after its rebuild
    pause["frozen_s"] = full_collection_s()
    gc.unfreeze()
    if tick["pending"] != n:
        print(f"bench_memory: FAILED: {tick['pending']} pending timers for {n} tickets", file=sys.stderr)
        return 1

    value_bytes = sum(len(raw) for _, raw in encoded) / n
    per_ticket = (after - before) * MiB / n
    print(f"{n:,} open tickets: built in {build_s:.1f} s (child process), decoded in {decode_s:.1f} s")
    print(f"  RSS holding the encoded values {before:.1f} MiB, with the decoded tickets and heaps {after:.1f} MiB")
    print(f"  state bytes per ticket {per_ticket:,.0f} (changelog value {value_bytes:.0f} bytes)")
    print(f"  on_tick, nothing due: {tick['on_tick_us']} us with {n:,} pending against {tick['on_tick_us_empty']} us "
          f"empty (ratio {tick['ratio']}); heap rebuild {tick['assign_s']} s")
    print(f"  full garbage collection: {pause['tickets_s']} s with the tickets, {pause['frozen_s']} s once they are "
          f"frozen (gc.freeze, as the worker does after its rebuild), {pause['empty_s']} s before decoding")
    summary = {"bench": "memory", "ok": True, "tickets": n, "partitions": PARTITIONS, "build_s": round(build_s, 1),
               "decode_s": round(decode_s, 1), "rss_before_mib": round(before, 1), "rss_after_mib": round(after, 1),
               "state_bytes_per_ticket": round(per_ticket, 1), "changelog_value_bytes": round(value_bytes, 1),
               "tick_in_process": tick, "gc_pause": pause, "machine": {**machine_facts(), "wall_s": round(time.monotonic() - started, 1)}}
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
