#!/usr/bin/env python
"""Core throughput benchmark: support-time arithmetic and the SLA engine.

    python bench/bench_core.py [--tickets N] [--quick] [--seed S]

1. ``SupportHours.add`` calls per second on the default policy's S4 eu calendar
   (Mon-Fri, Europe/Berlin, German holidays) with random starts and targets
   of 6, 12, 24 or 48 hours, against a minute-stepping reference implemented
   here (one minute at a time; a minute counts when its start is open: local
   weekday Mon-Fri and not a holiday per the same ``is_holiday``). The
   reference is slow, so it runs on a smaller sample; on that sample both are
   checked to agree exactly (starts are minute-aligned there).
2. Engine events per second: synthetic tickets (opened + response + 1-3
   updates, mixed plans, severities and regions, spread over a month) replayed
   through ``worker.replay.replay`` with ``TicketEngine(Policy())``. Baseline:
   a minute-stepping reference engine that only computes each ticket's
   response breach (on a subsample), and the response outcomes are compared.

Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.domain.policy import Policy  # noqa: E402
from worker.domain.support_time import AlwaysOpen, SupportHours  # noqa: E402
from worker.domain.timeline import OPENED, RESPONSE, UPDATE, Event  # noqa: E402
from worker.domain.timers import TicketEngine  # noqa: E402
from worker.replay import replay  # noqa: E402

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
TARGETS = [timedelta(hours=h) for h in (6, 12, 24, 48)]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 86400
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)  # includes the eu and us DST changes
MONTH_MINUTES = 31 * 1440
SEVERITIES = ("S1", "S2", "S3", "S4")
PLANS = ("standard", "premium")
REGIONS = ("eu", "us", "apac")


# ---------------------------------------------------------------------------
# Minute-stepping reference
# ---------------------------------------------------------------------------


class MinuteReference:
    """Naive support time: step one minute at a time, count minutes whose start is open."""

    def __init__(self, tz, is_holiday, always: bool = False) -> None:
        self.tz = tz
        self.is_holiday = is_holiday
        self.always = always

    @classmethod
    def like(cls, calendar) -> MinuteReference:
        if isinstance(calendar, AlwaysOpen):
            return cls(None, None, always=True)
        assert isinstance(calendar, SupportHours)
        return cls(calendar.tz, calendar.is_holiday)

    def is_open(self, t: datetime) -> bool:
        if self.always:
            return True
        local = t.astimezone(self.tz)
        return local.weekday() < 5 and not self.is_holiday(local.date())

    def add(self, start: datetime, duration: timedelta) -> datetime:
        needed = duration // MINUTE
        t = start
        counted = 0
        while counted < needed:
            if self.is_open(t):
                counted += 1
            t += MINUTE
        return t


# ---------------------------------------------------------------------------
# Part 1: support-time add
# ---------------------------------------------------------------------------


def random_start(rng: random.Random, aligned: bool) -> datetime:
    if aligned:
        return YEAR_START + timedelta(minutes=rng.randrange(YEAR_SECONDS // 60))
    return YEAR_START + timedelta(seconds=rng.randrange(YEAR_SECONDS), microseconds=rng.randrange(1_000_000))


def bench_add(n_calls: int, n_ref: int, rng: random.Random) -> dict:
    policy = Policy()
    calendar = policy.calendar("S4", "eu")
    reference = MinuteReference.like(calendar)
    # Load the holiday tables (the holidays package fills years lazily) outside the timing.
    for year in range(2025, 2029):
        calendar.is_holiday(date(year, 6, 1))

    cases = [(random_start(rng, aligned=False), rng.choice(TARGETS)) for _ in range(n_calls)]
    add = calendar.add
    gc.collect()
    t0 = time.perf_counter()
    for start, target in cases:
        add(start, target)
    fast_seconds = time.perf_counter() - t0

    ref_cases = [(random_start(rng, aligned=True), rng.choice(TARGETS)) for _ in range(n_ref)]
    t0 = time.perf_counter()
    fast_results = [add(start, target) for start, target in ref_cases]
    fast_ref_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_results = [reference.add(start, target) for start, target in ref_cases]
    ref_seconds = time.perf_counter() - t0

    mismatches = [
        (start, target, fast, ref)
        for (start, target), fast, ref in zip(ref_cases, fast_results, ref_results)
        if fast != ref
    ]
    for start, target, fast, ref in mismatches[:5]:
        print(f"  add mismatch: start={start.isoformat()} target={target} fast={fast.isoformat()} ref={ref.isoformat()}")
    fast_rate = n_calls / fast_seconds
    ref_rate = n_ref / ref_seconds
    return {
        "calls": n_calls,
        "calls_per_s": fast_rate,
        "ref_sample": n_ref,
        "fast_on_ref_sample_calls_per_s": n_ref / fast_ref_seconds,
        "ref_calls_per_s": ref_rate,
        "speedup": fast_rate / ref_rate,
        "mismatches": len(mismatches),
    }


# ---------------------------------------------------------------------------
# Part 2: engine
# ---------------------------------------------------------------------------


def synthesise(n_tickets: int, rng: random.Random, policy: Policy) -> list[tuple[str, Event]]:
    """opened + response + 1-3 updates per ticket, spread over a month.

    Opened times are minute-aligned so the minute-stepping reference is exact.
    About 5% of tickets never get a response (and no updates); the others get
    updates 10 min to 8 h apart and the last one resolves the ticket (a ticket
    left open for weeks costs quadratic time in its overdue reminders, see
    bench_reminders). Severity changes happen only after the response, so the
    response outcome depends on the opened severity alone.
    """
    events: list[tuple[str, Event]] = []
    for i in range(n_tickets):
        tid = f"T{i:07d}"
        severity = rng.choice(SEVERITIES)
        plan = rng.choice(PLANS)
        region = rng.choice(REGIONS)
        opened = MONTH_START + timedelta(minutes=rng.randrange(MONTH_MINUTES))
        events.append((tid, Event(opened, OPENED, f"{tid}-o", severity, plan, region)))
        if rng.random() < 0.05:
            continue
        target = policy.target(plan, severity).response
        # Wall-clock delay around the target (support-hours targets stretch over nights/weekends).
        stretch = 1.0 if policy.hours[severity] == "always" else 2.0
        delay = timedelta(seconds=rng.uniform(0.05, 1.3) * stretch * target.total_seconds())
        at = opened + delay
        events.append((tid, Event(at, RESPONSE, f"{tid}-r")))
        updates = rng.randint(1, 3)
        for k in range(updates):
            at += timedelta(seconds=rng.randrange(600, 8 * 3600))
            status = "resolved" if k == updates - 1 else "ongoing"
            new_severity = rng.choice(SEVERITIES) if rng.random() < 0.1 else None
            events.append(
                (tid, Event(at, UPDATE, f"{tid}-u{k}", severity=new_severity, status=status, public=rng.random() < 0.8))
            )
    return events


def reference_engine(tickets: dict[str, list[Event]], policy: Policy, end: datetime) -> dict[str, bool]:
    """Response breached? per ticket, by minute-stepping from the opened time."""
    references = {}
    outcome = {}
    for tid, evs in tickets.items():
        opened = next(e for e in evs if e.kind == OPENED)
        key = (policy.hours[opened.severity], opened.region)
        reference = references.get(key)
        if reference is None:
            reference = references[key] = MinuteReference.like(policy.calendar(opened.severity, opened.region))
        due = reference.add(opened.at, policy.target(opened.plan, opened.severity).response)
        response = next((e for e in evs if e.kind == RESPONSE), None)
        outcome[tid] = (response.at > due) if response is not None else (due <= end)
    return outcome


def bench_engine(n_tickets: int, n_ref: int, rng: random.Random) -> dict:
    policy = Policy()
    events = synthesise(n_tickets, rng, policy)
    for region in REGIONS:  # holiday tables, outside the timing
        for year in (2026, 2027):
            policy.calendar("S4", region).is_holiday(date(year, 6, 1))
    gc.collect()
    t0 = time.perf_counter()
    result = replay(events, TicketEngine(policy))
    engine_seconds = time.perf_counter() - t0
    end = max(e.at for _, e in events)

    by_ticket: dict[str, list[Event]] = {}
    for tid, event in events:
        by_ticket.setdefault(tid, []).append(event)
    sample_ids = rng.sample(sorted(by_ticket), min(n_ref, len(by_ticket)))
    sample = {tid: by_ticket[tid] for tid in sample_ids}
    sample_events = sum(len(v) for v in sample.values())
    ref_policy = Policy()
    for region in REGIONS:
        for year in (2026, 2027):
            ref_policy.calendar("S4", region).is_holiday(date(year, 6, 1))
    t0 = time.perf_counter()
    ref_outcome = reference_engine(sample, ref_policy, end)
    ref_seconds = time.perf_counter() - t0

    mismatches = 0
    for tid, breached in ref_outcome.items():
        engine_breached = result.tickets[tid].response in ("breached", "late")
        if engine_breached != breached:
            mismatches += 1
            if mismatches <= 5:
                print(f"  engine mismatch: {tid} engine={result.tickets[tid].response} reference_breached={breached}")
    responses = {}
    for summary in result.tickets.values():
        responses[summary.response] = responses.get(summary.response, 0) + 1
    engine_rate = len(events) / engine_seconds
    ref_rate = sample_events / ref_seconds
    return {
        "tickets": n_tickets,
        "events": len(events),
        "outputs": len(result.outputs),
        "responses": responses,
        "events_per_s": engine_rate,
        "seconds": engine_seconds,
        "ref_tickets": len(sample),
        "ref_events": sample_events,
        "ref_events_per_s": ref_rate,
        "speedup": engine_rate / ref_rate,
        "breach_mismatches": mismatches,
    }


def bench_reminders(days_list: list[int]) -> list[dict]:
    """One premium S1 ticket answered once and never updated: cost vs overdue reminders."""
    opened = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rows = []
    for days in days_list:
        events = [
            ("R1", Event(opened, OPENED, "R1-o", "S1", "premium", "eu")),
            ("R1", Event(opened + timedelta(minutes=5), RESPONSE, "R1-r")),
        ]
        gc.collect()
        t0 = time.perf_counter()
        result = replay(events, TicketEngine(Policy()), until=opened + timedelta(days=days))
        seconds = time.perf_counter() - t0
        rows.append({"days": days, "reminders": len(result.outputs), "seconds": seconds})
    return rows


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets (and add calls); default 100000")
    parser.add_argument("--quick", action="store_true", help="2,000 tickets and small reference samples")
    parser.add_argument("--seed", type=int, default=20260301)
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else args.tickets
    ref_add = 200 if args.quick else min(1_000, n)
    ref_tickets = 200 if args.quick else min(2_000, n)
    rng = random.Random(args.seed)

    print(f"bench_core: {n} tickets / add calls, seed {args.seed}, Python {platform.python_version()}")
    add = bench_add(n, ref_add, rng)
    engine = bench_engine(n, ref_tickets, rng)
    reminders = bench_reminders([1, 4] if args.quick else [1, 7, 30])

    rows = [
        ("measure", "fast", "minute-stepping", "ratio", "check"),
        (
            f"support-time add, calls/s (S4 eu; ref on {add['ref_sample']})",
            f"{add['calls_per_s']:,.0f}",
            f"{add['ref_calls_per_s']:,.1f}",
            f"{add['speedup']:,.0f}x",
            f"{add['mismatches']} mismatches / {add['ref_sample']}",
        ),
        (
            f"engine replay, events/s ({engine['events']} events; ref on {engine['ref_tickets']} tickets)",
            f"{engine['events_per_s']:,.0f}",
            f"{engine['ref_events_per_s']:,.1f}",
            f"{engine['speedup']:,.0f}x",
            f"{engine['breach_mismatches']} mismatches / {engine['ref_tickets']}",
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print()
    for k, row in enumerate(rows):
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print(
        f"fast add on the reference sample: {add['fast_on_ref_sample_calls_per_s']:,.0f} calls/s; "
        f"engine: {engine['seconds']:.2f} s, {engine['outputs']} output events, responses {engine['responses']}"
    )
    print("note: the reference engine only computes the response breach; the engine also runs cadences and emits outputs.")
    print()
    print("one unanswered-after-response premium S1 ticket (30-min update cadence), replayed for D days:")
    print("  days  reminders  seconds  ms/reminder")
    for row in reminders:
        per = 1000 * row["seconds"] / max(row["reminders"], 1)
        print(f"  {row['days']:>4}  {row['reminders']:>9}  {row['seconds']:>7.3f}  {per:>11.3f}")
    print(
        json.dumps(
            {"bench": "core", "tickets": n, "seed": args.seed, "add": add, "engine": engine, "reminders": reminders},
            sort_keys=True,
        )
    )
    return 0 if add["mismatches"] == 0 and engine["breach_mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
