"""The agent's delivery of outputs: lots sent as they are fired, states written only once Kafka has their
outputs, a burst settled piece by piece, and only Kafka's failures read as such.

A stand-in producer plays Kafka's part here: refusing a record, or failing an
acknowledgement, cannot be had from the embedded broker on demand.
"""

import asyncio
import gc
from types import SimpleNamespace

import pytest

from worker.adapters import faust_runtime
from worker.adapters.faust_runtime import NotDelivered, TimerApp
from worker.domain.policy import Policy
from worker.service.records import Record
from worker.service.staged_store import StagedStore
from worker.settings import WorkerSettings


def record(n: int) -> Record:
    headers = {"ce_id": str(n), "ce_subject": f"T-{n}", "ce_type": "incident.response.breached"}
    return Record("breaches", f"T-{n}".encode(), b"{}", tuple((k, v.encode()) for k, v in headers.items()))


class Producer:
    """Acknowledges each lot at the loop's next turn, as Kafka would after a round trip."""

    def __init__(self, journal: list, refuse: bool = False, fail_ack: bool = False,
                 hold_changelog: bool = False) -> None:
        self.journal, self.refuse, self.fail_ack, self.hold_changelog = journal, refuse, fail_ack, hold_changelog
        self.buffer = self

    async def send_batched(self, records):
        if self.refuse:
            raise RuntimeError("buffer full")
        keys = [key for _, key, _, _ in records]
        self.journal += [("sent", key) for key in keys]
        future = asyncio.get_running_loop().create_future()
        if self.fail_ack:
            future.set_exception(RuntimeError("not acknowledged"))
        else:
            future.add_done_callback(lambda _: self.journal.extend(("acknowledged", key) for key in keys))
            asyncio.get_running_loop().call_soon(future.set_result, None)
        return [future]

    async def send_to_partition(self, topic, partition, records):  # the table's changelog
        keys = [key for key, _, _ in records]
        self.journal.append(("changelog sent", keys))
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda _: self.journal.append(("changelog acknowledged", keys)))
        if not self.hold_changelog:
            asyncio.get_running_loop().call_soon(future.set_result, SimpleNamespace(offset=0))
        return [future]


class Table(dict):
    """The table's store."""

    def __init__(self, journal: list) -> None:
        super().__init__()
        self.journal = journal

    def __setitem__(self, key, value) -> None:
        self.journal.append(("written", key))
        super().__setitem__(key, value)

    def set_persisted_offset(self, tp, offset: int) -> None:
        pass


def runtime(producer: Producer) -> TimerApp:
    app = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4)
    app.app.producer = producer
    app.store = StagedStore(Table(producer.journal))
    return app


def lots(journal: list, count: int, fail_at: int | None = None, store: StagedStore | None = None):
    for n in range(count):
        if n == fail_at:
            raise ZeroDivisionError("a bug while firing")
        journal.append(("fired", n))
        if store is not None:
            store[f"T-{n}"] = n  # the fired ticket's new state, staged
        yield [record(n)]


async def test_each_lot_is_sent_before_the_next_is_fired():
    journal: list = []
    await runtime(Producer(journal))._deliver(0, lots(journal, 3))
    assert [e for e in journal if e[0] in ("fired", "sent")] == [
        ("fired", 0), ("sent", b"T-0"), ("fired", 1), ("sent", b"T-1"), ("fired", 2), ("sent", b"T-2")
    ]


async def test_a_burst_is_settled_piece_by_piece_each_state_after_its_output_is_acknowledged(monkeypatch):
    monkeypatch.setattr(faust_runtime, "SETTLE_EVERY", 2)
    journal: list = []
    app = runtime(Producer(journal))
    await app._deliver(0, lots(journal, 5, store=app.store))
    assert app.store.backing == {f"T-{n}": n for n in range(5)} and app.store.pending == 0
    for n in range(5):  # never the other way round: a crash between them would lose the output
        assert journal.index(("acknowledged", f"T-{n}".encode())) < journal.index(("written", f"T-{n}"))
    # settled after every two tickets
    assert [e[0] for e in journal if e[0] in ("written", "fired")] == [
        "fired", "fired", "written", "written", "fired", "fired", "written", "written", "fired", "written",
    ]


async def test_states_not_acknowledged_stay_unwritten():
    journal: list = []
    app = runtime(Producer(journal, fail_ack=True))
    with pytest.raises(NotDelivered):
        await app._deliver(0, lots(journal, 2, store=app.store))
    assert app.store.backing == {} and app.store.pending == 2  # the agent discards them, reads the tick again


@pytest.mark.parametrize("producer", [{"refuse": True}, {"fail_ack": True}], ids=["refused", "not acknowledged"])
async def test_kafka_failures_are_not_delivered(producer):
    with pytest.raises(NotDelivered, match="RuntimeError"):
        await runtime(Producer([], **producer))._deliver(0, lots([], 2))


async def test_an_error_while_firing_is_not_taken_for_kafka_s():
    journal: list = []
    with pytest.raises(ZeroDivisionError):
        await runtime(Producer(journal))._deliver(0, lots(journal, 3, fail_at=1))
    assert journal == [("fired", 0), ("sent", b"T-0")]


async def test_no_garbage_collection_runs_while_a_tick_fires_and_delivers():
    journal: list = []
    collecting: list[bool] = []

    def firing(fail_at: int | None = None):
        for lot in lots(journal, 3, fail_at=fail_at):
            collecting.append(gc.isenabled())
            yield lot

    assert gc.isenabled()
    await runtime(Producer(journal))._deliver(0, firing())
    assert collecting == [False, False, False] and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        await runtime(Producer(journal))._deliver(0, firing(fail_at=1))
    assert gc.isenabled()
