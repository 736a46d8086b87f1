"""The live worker's per-partition logic, on a plain dict store and an injected clock."""

import json
from datetime import timedelta

from worker.domain.policy import Policy
from worker.domain.timers import TicketEngine
from worker.service.timer_service import PartitionTimers, ServiceSettings, TimerService

from tests.unit.builders import at

OPENED = {"type": "incident.opened", "event_id": "e1", "ticket_id": "T-1",
          "occurred_at": at(0).isoformat(), "severity": "S1", "plan": "premium", "region": "eu"}
RESPONSE = {"type": "incident.response", "event_id": "e2", "ticket_id": "T-1", "occurred_at": at(15).isoformat()}


def service(store=None, bound=timedelta(seconds=30)):
    return TimerService(TicketEngine(Policy()), {} if store is None else store, ServiceSettings(catch_up_bound=bound))


def feed(svc, stream, event, now, partition=0, offset=0, key=b"T-1"):
    return svc.on_input(stream, f"incidents.{stream}", partition, offset, key, json.dumps(event).encode(), now).records


def types(records):
    return [json.loads(r.value)["type"] for r in records]


def test_breach_fires_on_the_first_caught_up_tick_after_due():
    svc = service()
    assert feed(svc, "opened", OPENED, now=at(0)) == []
    assert svc.on_tick(0, at(19), caught_up=True) == []
    records = svc.on_tick(0, at(20) + timedelta(seconds=0.2), caught_up=True)
    assert types(records) == ["sla.response_breached"]
    record = records[0]
    assert record.stream == "breaches" and record.key == b"T-1"
    headers = dict(record.headers)
    assert headers["ce_id"] == json.loads(record.value)["id"].encode()
    assert headers["ce_type"] == b"sla.response_breached" and headers["ce_specversion"] == b"1.0"
    assert json.loads(record.value)["lateness_seconds"] == 0.2
    assert svc.on_tick(0, at(21), caught_up=True) == []


def test_no_breach_while_behind_when_the_response_is_still_unread():
    svc = service(bound=timedelta(minutes=5))
    feed(svc, "opened", OPENED, now=at(0))
    svc.on_tick(0, at(10), caught_up=True)
    assert svc.on_tick(0, at(21), caught_up=False) == []  # the response may be waiting in Kafka
    assert feed(svc, "responses", RESPONSE, now=at(21), offset=1) == []
    assert svc.on_tick(0, at(22), caught_up=True) == []


def test_lag_beyond_the_bound_fires_anyway_marked_lagging():
    svc = service(bound=timedelta(seconds=30))
    feed(svc, "opened", OPENED, now=at(0))
    assert svc.on_tick(0, at(20) + timedelta(seconds=29), caught_up=False) == []
    records = svc.on_tick(0, at(20) + timedelta(seconds=31), caught_up=False)
    assert types(records) == ["sla.response_breached"]
    assert json.loads(records[0].value)["detected_while_lagging"] is True
    assert svc.observer.fired_lagging == 1


def test_bad_records_go_to_dead_letters_with_reason_and_origin():
    svc = service()
    records = svc.on_input("opened", "incidents.opened", 3, 42, b"k", b"\x00garbage", at(0)).records
    assert len(records) == 1 and records[0].stream == "dead_letters"
    assert records[0].value == b"\x00garbage" and records[0].key == b"k"
    headers = dict(records[0].headers)
    assert headers["dlq_reason"] == b"not_json" and headers["dlq_source_topic"] == b"incidents.opened"
    assert headers["dlq_source_partition"] == b"3" and headers["dlq_source_offset"] == b"42"
    misrouted = feed(svc, "responses", OPENED, now=at(0))
    wrong_key = feed(svc, "opened", OPENED, now=at(0), key=b"T-2")
    no_key = feed(svc, "opened", OPENED, now=at(0), key=None)
    reasons = [dict(records[0].headers)["dlq_reason"] for records in (misrouted, wrong_key, no_key)]
    assert reasons == [b"wrong_topic", b"key_mismatch", b"key_mismatch"]
    assert svc.observer.rejections == {"not_json": 1, "wrong_topic": 1, "key_mismatch": 2}
    assert svc.store == {}


def test_huge_dead_letter_is_cut_with_its_size_in_a_header():
    svc = service()
    raw = b"x" * (2 * 1024 * 1024)
    record = svc.on_input("opened", "incidents.opened", 0, 0, b"k", raw, at(0)).records[0]
    assert len(record.value) == 512 * 1024
    assert dict(record.headers)["dlq_truncated_from_bytes"] == str(len(raw)).encode()


def test_a_new_owner_rebuilds_its_due_heap_from_the_store():
    store = {}
    first = service(store)
    first.assign({0, 1})
    feed(first, "opened", OPENED, now=at(0), partition=1)
    other = dict(OPENED, ticket_id="T-9", event_id="e9")
    feed(first, "opened", other, now=at(0), partition=0, key=b"T-9")

    second = service(store)
    second.assign({1})
    assert second.pending(1) == 1 and second.pending(0) == 0
    records = second.on_tick(1, at(30), caught_up=True)
    assert [json.loads(r.value)["ticket_id"] for r in records] == ["T-1"]
    assert json.loads(records[0].value)["lateness_seconds"] == 600.0


def test_a_store_read_back_from_the_changelog_is_rebuilt_without_decoding_states_and_fires_the_same():
    from worker.adapters.ticket_table import TicketCodec

    store = {}
    first = service(store)
    first.assign({1})
    feed(first, "opened", OPENED, now=at(0), partition=1)
    codec = TicketCodec()
    read_back = {ticket_id: codec.loads(codec.dumps(stored)) for ticket_id, stored in store.items()}

    second = service(read_back)
    second.assign({1})
    assert second.pending(1) == 1
    assert read_back["T-1"].encoded_state is not None  # the heap came from the due time alone
    records = second.on_tick(1, at(30), caught_up=True)
    assert records == first.on_tick(1, at(30), caught_up=True)


def test_duplicates_are_counted_and_produce_nothing():
    svc = service()
    feed(svc, "opened", OPENED, now=at(0))
    assert feed(svc, "opened", OPENED, now=at(0), offset=1) == []
    assert svc.observer.duplicates == 1 and svc.observer.accepted_events == 2


def test_open_timers_by_kind_follow_each_ticket_and_survive_a_rebuild():
    store = {}
    svc = service(store)
    svc.assign({0})
    feed(svc, "responses", RESPONSE, now=at(15))  # before its opened event: an orphan
    assert svc.observer.timers == {"response": 0, "update": 0, "orphan": 1} and svc.observer.held_events == 1
    feed(svc, "opened", OPENED, now=at(15), offset=1)
    # premium S1 answered at +15: response met, update cadence running
    assert svc.observer.timers == {"response": 0, "update": 1, "orphan": 0} and svc.observer.held_events == 0
    other = dict(OPENED, ticket_id="T-2", event_id="e9")
    feed(svc, "opened", other, now=at(15), offset=2, key=b"T-2")
    assert svc.observer.timers == {"response": 1, "update": 1, "orphan": 0}
    rebuilt = service(store)
    rebuilt.assign({0})
    assert rebuilt.observer.timers == {"response": 1, "update": 1, "orphan": 0}


def test_restored_timers_stand_for_the_store_s_and_fire_what_a_rebuild_fires():
    store = {}
    first = service(store)
    first.assign({0, 1})
    feed(first, "responses", RESPONSE, now=at(15))  # an orphan on partition 0
    feed(first, "opened", dict(OPENED, ticket_id="T-2", event_id="e5"), now=at(0), key=b"T-2")
    feed(first, "responses", dict(RESPONSE, ticket_id="T-2", event_id="e6"), now=at(15), offset=1, key=b"T-2")
    feed(first, "opened", dict(OPENED, ticket_id="T-9", event_id="e9"), now=at(0), partition=1, key=b"T-9")
    saved = {0: first.timers(0), 1: first.timers(1)}
    assert saved[0].counts == {"o": 1, "h": 1, "u": 1}  # T-2's response moved it from response to update

    rebuilt, restored, mixed = service(dict(store)), service(dict(store)), service(dict(store))
    rebuilt.assign({0, 1})
    restored.assign({0, 1}, saved)
    mixed.assign({0, 1}, {1: PartitionTimers(list(saved[1].heap), saved[1].counts)})  # heaps are handed over
    for svc in (restored, mixed):
        assert svc.observer.timers == rebuilt.observer.timers == {"response": 1, "update": 1, "orphan": 1}
        assert svc.observer.held_events == 1
    assert restored.pending(0) > rebuilt.pending(0), "the saved heap keeps T-2's earlier due: a stale entry"
    for partition in (0, 1):
        expected = rebuilt.on_tick(partition, at(120), caught_up=True)
        assert expected and restored.on_tick(partition, at(120), caught_up=True) == expected
        assert mixed.on_tick(partition, at(120), caught_up=True) == expected


def test_timers_before_changes_not_written_stand_for_the_store_without_them():
    written = {}
    svc = service(written)
    feed(svc, "opened", OPENED, now=at(0))
    feed(svc, "opened", dict(OPENED, ticket_id="T-3", event_id="e3"), now=at(0), key=b"T-3")
    store = dict(written)
    svc.store = store  # from here on, changes the written store lacks
    feed(svc, "responses", RESPONSE, now=at(15))  # T-1: response timer to update timer
    feed(svc, "opened", dict(OPENED, ticket_id="T-2", event_id="e2"), now=at(15), key=b"T-2")
    fired = svc.on_tick(0, at(21), caught_up=True)
    assert [json.loads(r.value)["ticket_id"] for r in fired] == ["T-2", "T-3"], "their entries left the heap"
    changes = [(t, written.get(t), store.get(t)) for t in ("T-1", "T-2", "T-3")]
    timers = svc.timers(0).before(changes)
    assert timers.counts == {"r": 2}

    rebuilt, restored = service(dict(written)), service(dict(written))
    rebuilt.assign({0})
    restored.assign({0}, {0: timers})
    assert restored.observer.timers == rebuilt.observer.timers == {"response": 2, "update": 0, "orphan": 0}
    expected = rebuilt.on_tick(0, at(120), caught_up=True)
    assert sorted(json.loads(r.value)["ticket_id"] for r in expected) == ["T-1", "T-3"]
    assert restored.on_tick(0, at(120), caught_up=True) == expected


def test_restored_timers_of_partitions_not_assigned_are_ignored():
    store = {}
    first = service(store)
    feed(first, "opened", OPENED, now=at(0), partition=1)
    svc = service(store)
    svc.assign({0}, {1: first.timers(1)})
    assert svc.pending(1) == 0 and svc.observer.timers["response"] == 0


def test_a_partition_may_fire_only_from_its_earliest_due_on():
    """The ticker asks Kafka's end offsets only for partitions that may fire (and unowned ones, to be safe)."""
    svc = service()
    svc.assign({0, 1})
    feed(svc, "opened", OPENED, now=at(0))  # partition 0, response due at 20 min
    assert not svc.may_fire_by(0, at(19))
    assert svc.may_fire_by(0, at(20))
    assert not svc.may_fire_by(1, at(60)), "nothing queued on partition 1"
    assert svc.may_fire_by(2, at(0)), "not rebuilt yet: may hold anything"
    svc.on_tick(0, at(21), caught_up=True)
    assert not svc.may_fire_by(0, at(60)), "the breach fired; S1 has no update timer before a response"


def test_a_burst_fires_a_limited_number_of_tickets_at_a_time_and_the_same_facts_in_all():
    def burst(svc):
        for i in range(5):
            feed(svc, "opened", {**OPENED, "event_id": f"e{i}", "ticket_id": f"T-{i}",
                                 "occurred_at": (at(0) + timedelta(seconds=i)).isoformat()},
                 now=at(0), offset=i, key=f"T-{i}".encode())

    whole, chunked = service(), service()
    burst(whole)
    burst(chunked)
    after = at(21)
    expected = whole.on_tick(0, after, caught_up=True)
    chunked.advance(0, after, caught_up=True)
    chunks = []
    while chunked.due(0):
        chunks.append(chunked.fire(0, after, limit=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert [json.loads(r.value) for chunk in chunks for r in chunk] == [json.loads(r.value) for r in expected]
    assert not chunked.due(0) and chunked.fire(0, after, limit=2) == []
