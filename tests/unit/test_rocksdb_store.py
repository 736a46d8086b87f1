"""The RocksDB store's own changelog reads: the records' bytes written as read, offsets persisted only for
what is written."""

import asyncio
from types import SimpleNamespace

from faust.types import TP

from tests.unit.test_memory_store import CODEC, KEY_CODEC, recovered_event, ticket
from worker.adapters import rocksdb_store
from worker.adapters.faust_runtime import TimerApp
from worker.domain.policy import Policy
from worker.settings import WorkerSettings


def raw(offset: int, ticket_id: str, kinds: str | None) -> SimpleNamespace:
    value = None if kinds is None else CODEC.dumps(ticket(ticket_id, kinds=kinds))
    return SimpleNamespace(offset=offset, key=KEY_CODEC.dumps(ticket_id), value=value)


def new_store(tmp_path) -> tuple[rocksdb_store.Store, TP]:
    table = TimerApp(WorkerSettings(brokers="127.0.0.1:1", store="rocksdb", data_dir=tmp_path), Policy(), 4).table
    store = table.data
    assert isinstance(store, rocksdb_store.Store) and store.reader is not None
    return store, TP(table.changelog_topic.get_topic_name(), 1)


def stored(store: rocksdb_store.Store, tp: TP) -> dict:
    db = store._db_for_partition(tp.partition)
    return {KEY_CODEC.loads(key): CODEC.loads(value).kinds for key, value in store._visible_items(db)}


def test_a_partition_without_local_state_is_read_from_its_start_and_one_with_from_after_its_offset(tmp_path):
    store, tp = new_store(tmp_path)
    assert store._read_start(tp) == 0
    store._apply(tp, [raw(0, "T-1", "r"), raw(1, "T-2", "r")])
    assert store._read_start(tp) == 2


def test_records_read_are_written_in_order_with_deletions_and_the_offset_follows(tmp_path):
    store, tp = new_store(tmp_path)
    store._apply(tp, [raw(0, "T-1", "r"), raw(1, "T-2", "r"), raw(2, "T-1", "u"), raw(3, "T-2", None)])
    assert stored(store, tp) == {"T-1": "u"}
    assert rocksdb_store.rocksdb.Store.persisted_offset(store, tp) == 3


def test_while_a_read_runs_faust_s_records_win_and_its_offsets_wait_for_the_read_to_end(tmp_path):
    store, tp = new_store(tmp_path)
    loop = asyncio.new_event_loop()
    store._reads[tp] = loop.create_future()  # a read of the partition is running
    store._ends[tp] = 10
    message = SimpleNamespace(tp=tp, partition=1, offset=12, key=KEY_CODEC.dumps("T-1"), value=CODEC.dumps(
        ticket("T-1", kinds="u")))
    newer = recovered_event(tp, "T-1", ticket("T-1", kinds="u"))
    newer.message = message
    store.apply_changelog_batch([newer], store.table._to_key, store.table._to_value)
    assert store.persisted_offset(tp) == 9  # what faust's recovery sees: from the end the read stops at
    assert rocksdb_store.rocksdb.Store.persisted_offset(store, tp) is None  # 12 is not written: records 0-9 lack
    store._apply(tp, [raw(4, "T-1", "r"), raw(5, "T-3", "r")])
    assert stored(store, tp) == {"T-1": "u", "T-3": "r"}
    assert rocksdb_store.rocksdb.Store.persisted_offset(store, tp) == 5
    store._read_done(tp, 10)
    assert rocksdb_store.rocksdb.Store.persisted_offset(store, tp) == 12
    loop.close()


def test_timer_entries_list_a_partition_s_tickets_as_the_due_heaps_need_them(tmp_path):
    store, tp = new_store(tmp_path)
    store._apply(tp, [raw(0, "T-1", "r"), raw(1, "T-2", "u"), raw(2, "T-3", None)])
    entries = sorted(store.timer_entries([tp.partition]))
    expected = [ticket(t, kinds=k) for t, k in (("T-1", "r"), ("T-2", "u"))]
    assert entries == [("T-1", 1, "r", 0, expected[0].due), ("T-2", 1, "u", 0, expected[1].due)]
    assert expected[0].due is not None
    assert list(store.timer_entries([2])) == []


async def test_stopping_the_store_stops_its_changelog_reads(tmp_path):
    store, tp = new_store(tmp_path)
    read = store._reads[tp] = asyncio.ensure_future(asyncio.sleep(3600))  # a read of the partition running
    await store.stop()
    assert tp not in store._reads
    await asyncio.wait([read])
    assert read.cancelled()
