"""Timers saved at a graceful stop, and taken back at the next start only while they stand for the store."""

import asyncio
from types import SimpleNamespace
import pytest
from faust.types import TP

from tests.unit.builders import at
from tests.unit.test_memory_store import CODEC, KEY_CODEC, recovered_event, ticket
from tests.unit.test_rocksdb_store import new_store, raw
from worker.adapters import rocksdb_store, timers_file
from worker.service.timer_service import PartitionTimers

TIMERS = PartitionTimers([(at(20), "T-1"), (at(25), "T-3"), (at(21), "T-2")], {"r": 2, "u": 1})


def test_the_file_gives_back_the_heap_and_counts_it_was_written_with_also_to_a_store_acknowledged_since():
    raw_file = timers_file.encode(TIMERS, 41)
    assert timers_file.decode(raw_file, 41) == TIMERS
    assert timers_file.decode(raw_file, 45) == TIMERS


@pytest.mark.parametrize("damage, offset, reason", [
    (lambda b: b, 40, "changelog offset 41, the store is at 40"),
    (lambda b: b[:-5], 41, "checksum"),
    (lambda b: b.replace(b'"T-3"', b'"T-4"'), 41, "checksum"),
    (lambda b: b.replace(b'"version":1', b'"version":2'), 41, "unsupported version 2"),
    (lambda b: b"garbage\n" + b, 41, "unreadable header"),
    (lambda b: b"{}\n", 41, "not a partition timers file"),
])
def test_a_file_of_another_offset_damaged_or_of_another_version_is_refused_saying_why(damage, offset, reason):
    with pytest.raises(ValueError, match=reason):
        timers_file.decode(damage(timers_file.encode(TIMERS, 41)), offset)


def saved_then_restarted(tmp_path, offset=7, timers=TIMERS):
    """A store that saved partition 1's timers at stop, and a new store on its data directory."""
    store, tp = new_store(tmp_path)
    store._apply(tp, [raw(offset, "T-1", "r")])  # the database holds a ticket, persisted offset ``offset``
    store.save_timers_from(lambda: {1: timers, 2: timers})  # partition 2 has no database here: not saved
    asyncio.run(store.stop())
    assert [path.name for path in store.path.glob("*.timers")] == [store._path(1).name]
    del store
    return new_store(tmp_path)


def assign(store, tps, actives=None):
    store.app.assignor.assigned_actives = lambda: actives if actives is not None else tps
    store.reader = None  # no Kafka here: nothing to read
    asyncio.run(store.on_rebalance(tps, set(), tps, 0))


def test_a_partition_assigned_again_unchanged_gets_its_timers_back_once_and_its_file_goes(tmp_path):
    store, tp = saved_then_restarted(tmp_path)
    assign(store, {tp})
    assert not store._path(1).exists(), "taken at assignment, before anything can write the database"
    assert store.restored_timers() == {1: TIMERS}
    assert store.restored_timers() == {}


def test_timers_are_not_taken_back_by_an_older_database_or_when_records_arrive_or_on_a_standby(tmp_path):
    store, tp = saved_then_restarted(tmp_path / "older")
    rocksdb_store.rocksdb.Store.set_persisted_offset(store, tp, 5)  # as a database restored from a copy
    assign(store, {tp})
    assert store.restored_timers() == {} and not store._path(1).exists()

    store, tp = saved_then_restarted(tmp_path / "acknowledged")
    rocksdb_store.rocksdb.Store.set_persisted_offset(store, tp, 9)  # acknowledged after the timers were saved
    assign(store, {tp})
    assert store.restored_timers() == {1: TIMERS}

    store, tp = saved_then_restarted(tmp_path / "recovered")
    assign(store, {tp})
    event = recovered_event(tp, "T-2", ticket("T-2"))
    event.message = SimpleNamespace(tp=tp, partition=1, offset=8, key=KEY_CODEC.dumps("T-2"),
                                    value=CODEC.dumps(ticket("T-2")))
    store.apply_changelog_batch([event], store.table._to_key, store.table._to_value)
    assert store.restored_timers() == {}

    store, tp = saved_then_restarted(tmp_path / "read")
    loop = asyncio.new_event_loop()
    store._reads[tp] = loop.create_future()  # the changelog's tail is being read
    assign(store, {tp})
    assert store.restored_timers() == {}
    loop.close()

    store, tp = saved_then_restarted(tmp_path / "standby")
    assign(store, {tp}, actives=set())
    assert store.restored_timers() == {} and not store._path(1).exists()


def test_a_write_after_the_timers_were_saved_removes_them(tmp_path):
    store, tp = new_store(tmp_path)
    store._apply(tp, [raw(3, "T-1", "r")])
    store.save_timers_from(lambda: {1: TIMERS})
    store._save()
    assert store._path(1).exists()
    store._del(b'"T-1"')
    assert not store._path(1).exists()
