"""The agent's delivery of outputs: lots sent as they are fired, and only Kafka's failures read as such.

A stand-in producer plays Kafka's part here: refusing a record, or failing an
acknowledgement, cannot be had from the embedded broker on demand.
"""

import asyncio

import pytest

from worker.adapters.faust_runtime import NotDelivered, TimerApp
from worker.domain.policy import Policy
from worker.service.records import Record
from worker.settings import WorkerSettings


def record(n: int) -> Record:
    return Record("breaches", f"T-{n}".encode(), b"{}", (("ce_id", str(n).encode()),))


class Producer:
    def __init__(self, journal: list, refuse: bool = False, fail_ack: bool = False) -> None:
        self.journal, self.refuse, self.fail_ack = journal, refuse, fail_ack

    async def send_batched(self, records):
        if self.refuse:
            raise RuntimeError("buffer full")
        self.journal += [("sent", key) for _, key, _, _ in records]
        future = asyncio.get_running_loop().create_future()
        if self.fail_ack:
            future.set_exception(RuntimeError("not acknowledged"))
        else:
            future.set_result(None)
        return [future]


def runtime(producer: Producer) -> TimerApp:
    app = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4)
    app.app.producer = producer
    return app


def lots(journal: list, count: int, fail_at: int | None = None):
    for n in range(count):
        if n == fail_at:
            raise ZeroDivisionError("a bug while firing")
        journal.append(("fired", n))
        yield [record(n)]


async def test_each_lot_is_sent_before_the_next_is_fired_and_all_are_returned():
    journal: list = []
    records = await runtime(Producer(journal))._deliver(lots(journal, 3))
    assert [r.key for r in records] == [b"T-0", b"T-1", b"T-2"]
    assert journal == [("fired", 0), ("sent", b"T-0"), ("fired", 1), ("sent", b"T-1"), ("fired", 2), ("sent", b"T-2")]


@pytest.mark.parametrize("producer", [{"refuse": True}, {"fail_ack": True}], ids=["refused", "not acknowledged"])
async def test_kafka_failures_are_not_delivered(producer):
    with pytest.raises(NotDelivered, match="RuntimeError"):
        await runtime(Producer([], **producer))._deliver(lots([], 2))


async def test_an_error_while_firing_is_not_taken_for_kafka_s():
    journal: list = []
    with pytest.raises(ZeroDivisionError):
        await runtime(Producer(journal))._deliver(lots(journal, 3, fail_at=1))
    assert journal == [("fired", 0), ("sent", b"T-0")]
