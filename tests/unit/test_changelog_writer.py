"""ChangelogWriter: a write-out's changelog records as batches, its commit token handed on only once Kafka
has them and every earlier write-out of the partition, refused or lost records sent again with the states
the store holds then.

A stand-in producer plays Kafka's part: holding, failing or refusing an
acknowledgement on demand cannot be had from the embedded broker.
"""

import asyncio
import json
from types import SimpleNamespace

import pytest

from worker.adapters import changelog_writer
from worker.adapters.changelog_writer import ChangelogWriter
from worker.adapters.ticket_table import TicketCodec
from worker.domain.timers import TicketState
from worker.service.timer_service import StoredTicket


def ticket(ticket_id: str, partition: int = 0, held: int = 0) -> StoredTicket:
    return StoredTicket(partition, "r", held, TicketState(ticket_id))


class Store(dict):
    """The table's store: tickets, and the persisted offsets RocksDB keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.persisted: dict = {}

    def set_persisted_offset(self, tp, offset: int) -> None:
        self.persisted[tp] = offset


class Producer:
    """Each call is one batch; its acknowledgement waits until the test settles it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, list]] = []  # (topic, partition, [(key, value)])
        self.futures: list[asyncio.Future] = []
        self.refuse = False
        self.refused = 0
        self._called = asyncio.Event()
        self.gate: asyncio.Event | None = None  # when set here, a send waits for it
        self.begun = 0

    async def calls(self, sent: int = 0, refused: int = 0, begun: int = 0) -> None:
        """Until this many batches were sent and refused, and calls begun (within 5 s: a bound on a hang,
        not a wait)."""
        async def made() -> None:
            while len(self.sent) < sent or self.refused < refused or self.begun < begun:
                self._called.clear()
                await self._called.wait()
        await asyncio.wait_for(made(), timeout=5)

    async def send_to_partition(self, topic, partition, records):
        self.begun += 1
        self._called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.refuse:
            self.refused += 1
            raise RuntimeError("the producer is closed")
        self.sent.append((topic, partition, [(key, value) for key, value, _ in records]))
        future = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return [future]

    def acknowledge(self, n: int, offset: int) -> None:
        self.futures[n].set_result(SimpleNamespace(offset=offset))


def writer(store: Store, producer: Producer, written: list, resent: list | None = None) -> ChangelogWriter:
    return ChangelogWriter("app-tickets-changelog", lambda: store, lambda: producer,
                           lambda partition, token: written.append((partition, token)),
                           (resent if resent is not None else []).append)


def holding_one_ticket(held: int = 0) -> tuple[Store, Producer, list, ChangelogWriter]:
    """A store holding T-1 (partition 0), a producer, the tokens handed on, and a writer over them."""
    store, producer, written = Store(), Producer(), []
    store["T-1"] = ticket("T-1", held=held)
    return store, producer, written, writer(store, producer, written)


@pytest.fixture
def resend_at_once(monkeypatch):
    """Records Kafka failed are sent again without the pause."""
    monkeypatch.setattr(changelog_writer, "RESEND_SECONDS", 0)


async def test_the_token_waits_for_kafka_s_acknowledgement_and_rocksdb_s_offset_follows_it():
    store, producer, written, changelog = holding_one_ticket()
    await changelog.write(2, ["T-1"], "offsets 1")
    (topic, partition, records), = producer.sent
    assert (topic, partition) == ("app-tickets-changelog", 2)
    assert records == [(b'"T-1"', TicketCodec().dumps(store["T-1"]))]  # the bytes faust's table would write
    assert written == [] and store.persisted == {}
    producer.acknowledge(0, offset=40)
    await changelog.settled()
    assert written == [(2, "offsets 1")]
    assert {(tp.topic, tp.partition): offset for tp, offset in store.persisted.items()} == {
        ("app-tickets-changelog", 2): 40}


async def test_a_ticket_gone_from_the_store_is_a_tombstone():
    store, producer, written = Store(), Producer(), []
    await writer(store, producer, written).write(0, ["T-9"], "t")
    assert producer.sent[0][2] == [(b'"T-9"', None)]


async def test_tokens_go_in_write_out_order_per_partition():
    store, producer, written = Store(), Producer(), []
    store.update({"A": ticket("A"), "B": ticket("B"), "C": ticket("C", partition=1)})
    changelog = writer(store, producer, written)
    await changelog.write(0, ["A"], "first")
    await changelog.write(0, ["B"], "second")
    await changelog.write(0, [], "nothing written")  # an empty write-out waits behind the others too
    await changelog.write(1, ["C"], "other partition")
    producer.acknowledge(2, offset=3)
    producer.acknowledge(1, offset=11)  # "second" is acknowledged before "first", and waits for it
    producer.acknowledge(0, offset=10)
    await changelog.settled()
    assert [token for partition, token in written if partition == 0] == ["first", "second", "nothing written"]
    assert (1, "other partition") in written


async def test_records_kafka_fails_are_sent_again_with_the_states_the_store_holds_then(resend_at_once):
    store, producer, written, resent = Store(), Producer(), [], []
    store["T-1"] = ticket("T-1", held=1)
    changelog = writer(store, producer, written, resent)
    await changelog.write(0, ["T-1"], "t")
    store["T-1"] = ticket("T-1", held=2)  # a later write-out changed it meanwhile
    producer.futures[0].set_exception(RuntimeError("request timed out"))
    await producer.calls(sent=2)
    assert written == []
    assert json.loads(producer.sent[1][2][0][1])["h"] == 2  # the state as it is now, never the older one
    assert resent == [1]  # one record sent again (the metric's count)
    producer.acknowledge(1, offset=7)
    await changelog.settled()
    assert written == [(0, "t")]


async def test_records_the_producer_refuses_are_sent_again(resend_at_once):
    store, producer, written, changelog = holding_one_ticket()
    producer.refuse = True
    await changelog.write(0, ["T-1"], "t")
    await producer.calls(refused=2)
    assert producer.sent == [] and written == []
    producer.refuse = False
    await producer.calls(sent=1)
    producer.acknowledge(0, offset=1)
    await changelog.settled()
    assert written == [(0, "t")]


async def test_a_reset_forgets_the_waiting_write_outs_and_sends_nothing_again(resend_at_once):
    store, producer, written, changelog = holding_one_ticket()
    await changelog.write(0, ["T-1"], "before the rebalance")
    assert changelog.reset() == {0: {"T-1"}}  # not acknowledged: the caller writes it again where it stays
    await asyncio.wait_for(changelog.settled(), timeout=5)  # the confirmation was cancelled: a bound on a hang
    assert not producer.futures[0].cancelled()  # the producer's own future is left alone
    producer.futures[0].set_exception(RuntimeError("lost"))
    await changelog.write(0, [], "after")
    assert written == [(0, "after")] and len(producer.sent) == 1


async def test_a_reset_while_a_write_out_is_being_handed_over_sends_nothing_again(resend_at_once):
    """faust signals a revocation while the agent finishes its record, which may be in a write-out."""
    store, producer, written, changelog = holding_one_ticket()
    producer.gate = asyncio.Event()
    writing = asyncio.ensure_future(changelog.write(0, ["T-1"], "t"))
    await producer.calls(begun=1)  # the write-out is in the producer's hands
    assert changelog.reset() == {0: {"T-1"}}
    producer.gate.set()
    await writing
    producer.futures[0].set_exception(RuntimeError("lost"))
    await asyncio.wait_for(changelog.settled(), timeout=5)  # nothing confirms it: a bound on a hang
    assert len(producer.sent) == 1 and written == []
