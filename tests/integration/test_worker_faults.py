"""SPEC 5 and 6 on the live worker: restarts, a second worker, garbage input."""

import json

import pytest
from datetime import timedelta

from tests.integration.conftest import collect, facts, now, opened, poll_until, produce, response


def breach_ids(records) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for fact in facts(records):
        if fact["type"] == "sla.response_breached":
            ids.setdefault(fact["ticket_id"], set()).add(fact["id"])
    return ids


@pytest.mark.parametrize("store", ["memory", "rocksdb", "rocksdb-cold"])
async def test_kill_9_mid_stream_loses_no_breach_and_invents_no_id(settings, workers, store, tmp_path):
    t0 = now()
    tickets = [f"K-{i}" for i in range(40)]
    # Dues spread over 4 to 12 s: some fire before the kill, some while it is down, some after.
    events = [opened(t, t0 + timedelta(seconds=0.2 * i)) for i, t in enumerate(tickets)]
    # Every fourth ticket is answered in time and must never breach.
    events += [response(t, t0 + timedelta(seconds=0.2 * i + 1)) for i, t in enumerate(tickets) if i % 4 == 0]
    expected = {t for i, t in enumerate(tickets) if i % 4}
    first = workers("first", store=store.removesuffix("-cold"))
    await produce(settings, events)
    some = await collect(settings, [settings.topic_breaches], lambda r: len(breach_ids(r)) >= 5, timeout=60)
    assert len(breach_ids(some)) >= 5
    first.kill()
    # RocksDB restarts from its local state in the same data directory; cold, in an empty one
    second = workers("second", store=store.removesuffix("-cold"),
                     **({"data_dir": tmp_path / "empty"} if store.endswith("-cold") else {}))
    records = await collect(settings, [settings.topic_breaches], lambda r: set(breach_ids(r)) >= expected,
                            timeout=90)
    ids = breach_ids(records)
    assert set(ids) == expected, f"missing {expected - set(ids)}, unexpected {set(ids) - expected}"
    assert all(len(v) == 1 for v in ids.values()), "a breach was emitted under two ids"
    delivered = [f for f in facts(records) if f["type"] == "sla.response_breached"]
    late = [f for f in delivered if f["lateness_seconds"] > 1.0]
    assert late, "some breach fell due while no worker ran and should show its real lateness"
    # The stores read the changelog themselves (changelog_reading), not through faust's recovery: the memory
    # store and a cold RocksDB all of it, a warm RocksDB what its local files lack.
    read = [json.loads(line) for line in second.log_text().splitlines() if '"changelog partition read"' in line]
    if store != "rocksdb":
        assert sum(line["records"] for line in read) >= len(tickets)
        assert {line["start"] for line in read} == {0}
    else:
        assert all(line["start"] > 0 for line in read)


def log_lines(worker, event: str) -> list[dict]:
    return [json.loads(line) for line in worker.log_text().splitlines() if f'"event": "{event}"' in line
            or f'"event":"{event}"' in line]


async def test_a_graceful_restart_on_rocksdb_takes_back_the_saved_timers_and_fires_the_same(settings, workers):
    t0 = now()
    early = [f"E-{i}" for i in range(8)]  # premium S1: due 4 s after t0, before the stop
    late = [f"L-{i}" for i in range(16)]  # standard S4 opened at +15 s: due at +35 s, after the restart
    answered = set(late[::4])  # their heap entries stay behind, stale: they must not fire
    events = [opened(t, t0) for t in early]
    events += [opened(t, t0 + timedelta(seconds=15), severity="S4", plan="standard") for t in late]
    events += [response(t, t0 + timedelta(seconds=16)) for t in answered]
    first = workers("first", store="rocksdb")
    await produce(settings, events)
    await collect(settings, [settings.topic_breaches], lambda r: set(breach_ids(r)) >= set(early), timeout=60)
    first.stop()
    saved = log_lines(first, "timers saved for the next start")
    assert len(saved) == 1 and saved[0]["partitions"], first.log_text()[-3000:]
    files = sorted(settings.data_dir.rglob("*.timers"))
    assert len(files) == len(saved[0]["partitions"])

    second = workers("second", store="rocksdb")
    expected = set(early) | set(late) - answered
    records = await collect(settings, [settings.topic_breaches], lambda r: set(breach_ids(r)) >= expected,
                            timeout=90)
    ids = breach_ids(records)
    assert set(ids) == expected, f"missing {expected - set(ids)}, unexpected {set(ids) - expected}"
    assert all(len(v) == 1 for v in ids.values()), "a breach was emitted under two ids"
    rebuilt = await poll_until(lambda: log_lines(second, "due index rebuilt"), 30, "the second worker rebuilt")
    assert rebuilt[0]["restored_partitions"] == saved[0]["partitions"]
    assert not list(settings.data_dir.rglob("*.timers")), "a file is taken when its partition is assigned"


async def test_second_worker_shares_partitions_and_takes_over_when_the_other_stops(settings, workers):
    a = workers("a")
    t0 = now()
    # S4 premium: 10 s. Dues after the second worker joined and again after it left.
    first = [opened(f"A-{i}", t0, severity="S1") for i in range(12)]
    await produce(settings, first)
    await collect(settings, [settings.topic_breaches], lambda r: len(breach_ids(r)) == 12, timeout=60)
    b = workers("b")

    def split() -> bool:
        owned_a, owned_b = last_partitions(a), last_partitions(b)
        return bool(owned_a and owned_b and not owned_a & owned_b and owned_a | owned_b == {0, 1, 2, 3})

    await poll_until(split, timeout=60, what="both workers own disjoint halves of the partitions")

    t1 = now()
    second = [opened(f"B-{i}", t1, severity="S4") for i in range(12)]  # due at +10 s
    await produce(settings, second)

    # Stopped at once, with events of its partitions fetched and not yet applied. Regression: the
    # remaining worker took the partitions over and never read their last events (about every second
    # run): faust dropped records fetched for partitions it held, after the position had passed them.
    b.stop()
    expected = {f"A-{i}" for i in range(12)} | {f"B-{i}" for i in range(12)}
    records = await collect(settings, [settings.topic_breaches], lambda r: set(breach_ids(r)) >= expected,
                            timeout=90)
    assert set(breach_ids(records)) == expected
    assert last_partitions(a) == {0, 1, 2, 3}


def applied(worker) -> int:
    return worker.log_text().count('"input applied"')


async def test_a_rebalance_while_events_are_buffered_loses_none(settings, workers):
    """Regression: faust acks, and committed, the records it skips when a rebalance suspends the stream.

    The surviving worker has thousands of events fetched when the other leaves;
    before commits were capped at the processed offset, about every second run
    lost hundreds of them for good (the group's offset had moved past them).
    """
    a = workers("a")
    await poll_until(lambda: last_partitions(a), timeout=60, what="the first worker owns partitions")
    b = workers("b")
    await poll_until(lambda: last_partitions(b) and len(last_partitions(a)) == 2, timeout=60,
                     what="both workers own half of the partitions")
    events = [opened(f"R-{i}", now(), severity="S4") for i in range(3000)]  # due at +10 s
    await produce(settings, events)
    await poll_until(lambda: applied(a) >= 100, timeout=60, what="the first worker is applying the events")
    b.stop()
    expected = {event["ticket_id"] for event in events}
    records = await collect(settings, [settings.topic_breaches], lambda r: set(breach_ids(r)) >= expected,
                            timeout=90)
    missing = expected - set(breach_ids(records))
    assert not missing, f"{len(missing)} of {len(expected)} tickets were never applied"
    assert all(len(ids) == 1 for ids in breach_ids(records).values()), "a breach under two ids"


async def test_garbage_on_every_input_topic_goes_to_dead_letters_and_good_events_continue(settings, workers):
    workers("worker")
    t0 = now()
    naive = json.dumps(opened("G-1", t0)).replace("+00:00", "").encode()
    unknown = json.dumps(opened("G-2", t0, severity="S7")).encode()
    wrong_types = json.dumps({**opened("G-3", t0), "plan": 42}).encode()
    bad = [
        (settings.topic_opened, b"G-0", b"\x00\xffnot json"),
        (settings.topic_opened, b"G-1", naive),
        (settings.topic_opened, b"G-2", unknown),
        (settings.topic_opened, b"G-3", wrong_types),
        (settings.topic_responses, b"G-4", b'{"type": "incident.response", "ticket_id": "G-4"}'),
        (settings.topic_responses, b"G-5", b"[1, 2, 3]"),
        (settings.topic_updates, b"G-6", b'{"type": "incident.update", "event_id": "x", "ticket_id": "G-6", '
                                         b'"occurred_at": "2026-01-01T00:00:00Z", "status": "paused"}'),
        (settings.topic_updates, b"G-7", b"{" * 5000),
    ]
    await produce(settings, bad + [opened("good", t0)])
    dead = await collect(settings, [settings.topic_dead_letters], lambda r: len(r) >= len(bad), timeout=60)
    reasons = {r.key: dict(r.headers)["dlq_reason"].decode() for r in dead}
    assert reasons == {
        b"G-0": "not_json", b"G-1": "naive_timestamp", b"G-2": "unknown_severity", b"G-3": "unknown_plan",
        b"G-4": "invalid", b"G-5": "not_an_object", b"G-6": "invalid", b"G-7": "not_json",
    }
    originals = {key: value for _, key, value in bad}
    for record in dead:
        headers = dict(record.headers)
        assert record.value == originals[record.key]
        assert headers["dlq_source_topic"].decode() in settings.input_topics.values()
        assert int(headers["dlq_source_offset"]) >= 0 and int(headers["dlq_source_partition"]) in range(4)
    good = await collect(settings, [settings.topic_breaches], lambda r: "good" in breach_ids(r), timeout=60)
    assert "good" in breach_ids(good)


def last_partitions(worker) -> set[int]:
    """The partitions of the worker's latest 'due index rebuilt' log line (JSON lines on its stdout)."""
    owned: set[int] = set()
    for line in worker.log_text().splitlines():
        if '"due index rebuilt"' in line:
            owned = set(json.loads(line)["partitions"])
    return owned
