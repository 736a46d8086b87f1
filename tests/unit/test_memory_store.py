"""The memory store's own changelog reads: applied in order, and never over what faust's recovery applied."""

import asyncio
from types import SimpleNamespace

from faust.types import TP

from tests.unit.test_state_codec import ENGINE, at, opened
from worker.adapters import memory_store
from worker.adapters.faust_runtime import TimerApp
from worker.adapters.ticket_table import TicketCodec, TicketKeyCodec
from worker.domain.policy import Policy
from worker.domain.timers import TicketState
from worker.service.timer_service import StoredTicket
from worker.settings import WorkerSettings

CODEC, KEY_CODEC = TicketCodec(), TicketKeyCodec()


def ticket(ticket_id: str, partition: int = 1, kinds: str = "r") -> StoredTicket:
    state = ENGINE.apply(TicketState(ticket_id), opened(at(0)), now=at(0)).state
    return StoredTicket(partition, kinds, 0, state)


def record(offset: int, ticket_id: str, stored: StoredTicket | None) -> SimpleNamespace:
    """A changelog record as the reader hands it over (aiokafka's ConsumerRecord fields used)."""
    return SimpleNamespace(offset=offset, key=KEY_CODEC.dumps(ticket_id),
                           value=None if stored is None else CODEC.dumps(stored))


def recovered_event(tp: TP, ticket_id: str, stored: StoredTicket | None) -> SimpleNamespace:
    """A changelog event as faust's recovery applies it (decoded key and value, its message's partition)."""
    return SimpleNamespace(key=ticket_id, value=stored, message=SimpleNamespace(tp=tp, partition=tp.partition,
                                                                                value=stored and b"x"))


def new_store() -> tuple[memory_store.Store, TP]:
    table = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4).table
    store = table.data
    assert isinstance(store, memory_store.Store) and store.reader is not None
    return store, TP(table.changelog_topic.get_topic_name(), 1)


def test_records_read_are_applied_in_order_with_deletions():
    store, tp = new_store()
    first, second = ticket("T-1", kinds="r"), ticket("T-1", kinds="u")
    store._apply(tp, [record(0, "T-1", first), record(1, "T-2", ticket("T-2")), record(2, "T-1", second),
                      record(3, "T-2", None)])
    assert store.data == {"T-1": second}
    assert store._key_partition == {"T-1": 1}


def test_what_faust_s_recovery_applied_during_a_read_wins_over_older_records_read_after_it():
    store, tp = new_store()
    loop = asyncio.new_event_loop()
    store._reads[tp] = loop.create_future()  # a read of the partition is running
    newer = ticket("T-1", kinds="u")
    store.apply_changelog_batch([recovered_event(tp, "T-1", newer), recovered_event(tp, "T-2", None)],
                                store.table._to_key, store.table._to_value)
    store._apply(tp, [record(0, "T-1", ticket("T-1", kinds="r")), record(1, "T-2", ticket("T-2")),
                      record(2, "T-3", ticket("T-3"))])
    assert set(store.data) == {"T-1", "T-3"}  # T-2 was deleted by the later record faust applied
    assert store.data["T-1"] == newer
    loop.close()


def test_an_unreadable_record_is_skipped_counted_and_the_rest_applied(capsys):
    app = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4)
    store, tp = app.table.data, TP(app.table.changelog_topic.get_topic_name(), 1)
    bad = SimpleNamespace(offset=1, key=KEY_CODEC.dumps("T-9"), value=b'{"p":1,"k":"r","h":0,"state":{"v":99}}')
    store._apply(tp, [record(0, "T-1", ticket("T-1")), bad, record(2, "T-2", ticket("T-2"))])
    assert set(store.data) == {"T-1", "T-2"}
    assert "changelog record not readable" in capsys.readouterr().out
    assert app.metrics.registry.get_sample_value("incident_timer_changelog_unreadable_records_total") == 1


def test_a_partition_the_reader_reads_is_reported_persisted_up_to_its_end():
    store, tp = new_store()
    assert store.persisted_offset(tp) is None  # faust's memory store: recovery reads everything
    store._ends[tp] = 120
    assert store.persisted_offset(tp) == 119  # faust's recovery reads from 120 on


async def test_stopping_the_store_stops_its_changelog_reads():
    store, tp = new_store()
    read = store._reads[tp] = asyncio.ensure_future(asyncio.sleep(3600))  # a read of the partition running
    await store.stop()
    assert tp not in store._reads
    await asyncio.wait([read])
    assert read.cancelled()
