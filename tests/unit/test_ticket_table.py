"""The ticket table's own changelog writes: faust's bytes, and no commit past an unacknowledged write.

A stand-in producer plays Kafka's part: holding an acknowledgement back, or
failing it, cannot be had from the embedded broker on demand. faust's recovery
from these records is covered by the integration and reliability tests.
"""

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from worker.adapters import ticket_table
from worker.adapters.faust_runtime import TimerApp
from worker.domain.policy import Policy
from worker.domain.timers import TicketState
from worker.service.timer_service import StoredTicket
from worker.settings import WorkerSettings

OPENED = TP("incidents.opened", 1)
CHANGELOG = "incident-timer-tickets-changelog"


class Producer:
    """Records what is sent; each acknowledgement waits until the test settles it."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.acks: list[asyncio.Future] = []
        self._more = asyncio.Event()
        self.gate: asyncio.Event | None = None  # when given, each send waits for it (a full producer buffer)

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.append((topic, key, value, partition))
        self.acks.append(asyncio.get_running_loop().create_future())
        self._more.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.acks[-1]

    async def until_sent(self, count: int) -> None:
        while len(self.sent) < count:
            self._more.clear()
            await asyncio.wait_for(self._more.wait(), 10)  # a guard: a send that never comes fails the test

    def acknowledge(self, n: int, offset: int) -> None:
        self.acks[n].set_result(SimpleNamespace(offset=offset))


def ticket(ticket_id: str, held: int = 0) -> StoredTicket:
    return StoredTicket(1, "r", held, TicketState(ticket_id))


@pytest.fixture
async def running():
    """A runtime whose ticket table sends to a stand-in producer."""
    app = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4)
    producer = Producer()
    writer = asyncio.ensure_future(app.tickets.run(producer))
    yield app, app.tickets, producer
    writer.cancel()


def faust_bytes(app: TimerApp, key: str, value: StoredTicket | None) -> tuple[bytes, bytes | None]:
    changelog, table = app.table.changelog_topic, app.table
    encoded = None if value is None else changelog.prepare_value(value, table.value_serializer, None)[0]
    return changelog.prepare_key(key, table.key_serializer, None)[0], encoded


async def test_changelog_records_are_the_bytes_faust_writes_one_per_ticket_written(running):
    app, tickets, producer = running
    tickets["T-1"] = ticket("T-1")
    tickets["T-2"] = ticket("T-2")
    del tickets["T-2"]
    await tickets.send(OPENED, 7)
    await producer.until_sent(2)
    await tickets.drained()
    assert producer.sent == [  # each ticket's value when sent, or a tombstone
        (CHANGELOG, *faust_bytes(app, "T-1", ticket("T-1")), 1),
        (CHANGELOG, *faust_bytes(app, "T-2", None), 1),
    ]
    assert tickets.get("T-1") == ticket("T-1") and "T-2" not in tickets


async def test_no_commit_passes_a_record_whose_changelog_writes_are_unacknowledged(running):
    app, tickets, producer = running
    app.progress.processed(OPENED, 5)
    tickets["T-1"] = ticket("T-1")
    await tickets.send(OPENED, 3)
    await tickets.send(OPENED, 4)  # nothing written: nothing to wait for
    tickets["T-2"] = ticket("T-2")
    tickets["T-3"] = ticket("T-3")
    await tickets.send(OPENED, 5)
    await producer.until_sent(3)

    assert app.commit_limit(OPENED) == 3
    producer.acknowledge(0, offset=100)
    producer.acknowledge(2, offset=102)
    assert app.commit_limit(OPENED) == 5  # one of record 5's two writes is still out
    producer.acknowledge(1, offset=101)
    assert app.commit_limit(OPENED) == 6  # all acknowledged: up to the last record processed
    assert tickets.unacknowledged_from(TP("incidents.opened", 2)) is None  # another partition


async def test_a_failed_write_is_sent_again_with_the_tickets_current_value(running):
    app, tickets, producer = running
    tickets["T-1"] = ticket("T-1")
    await tickets.send(OPENED, 3)
    await producer.until_sent(1)
    tickets["T-1"] = ticket("T-1", held=2)  # a later record wrote the ticket again
    await tickets.send(OPENED, 4)
    await producer.until_sent(2)
    producer.acks[0].set_exception(RuntimeError("not acknowledged"))
    producer.acknowledge(1, offset=8)

    assert tickets.unacknowledged_from(OPENED) == 3
    await producer.until_sent(3)
    assert producer.sent[2] == (CHANGELOG, *faust_bytes(app, "T-1", ticket("T-1", held=2)), 1)
    assert tickets.unacknowledged_from(OPENED) == 3  # until the second try is acknowledged
    producer.acknowledge(2, offset=9)
    assert tickets.unacknowledged_from(OPENED) is None


async def test_acknowledged_writes_keep_their_changelog_offset_in_the_store(running):
    app, tickets, producer = running
    persisted: list = []
    app.table.data.set_persisted_offset = lambda tp, offset: persisted.append((tp, offset))
    for offset in (3, 4):
        tickets[f"T-{offset}"] = ticket(f"T-{offset}")
        await tickets.send(OPENED, offset)
    await producer.until_sent(2)
    producer.acknowledge(0, offset=40)
    producer.acknowledge(1, offset=41)
    assert tickets.unacknowledged_from(OPENED) is None
    assert persisted == [(TP(CHANGELOG, 1), 41)]


async def test_writes_of_a_partition_given_away_are_not_sent_nor_waited_for(running):
    app, tickets, producer = running
    tickets["T-1"] = ticket("T-1")
    await tickets.send(OPENED, 3)
    await producer.until_sent(1)
    producer.acks[0].set_exception(RuntimeError("not acknowledged"))
    assert tickets.unacknowledged_from(OPENED) == 3  # queued again...
    tickets.keep_only({0, 2})  # ...and partition 1 goes to another worker before it is sent
    await tickets.drained()
    assert len(producer.sent) == 1
    assert tickets.unacknowledged_from(OPENED) is None


async def test_a_few_writes_are_sent_by_the_agent_and_many_are_left_to_the_writer(running):
    app, tickets, producer = running
    tickets["T-1"] = ticket("T-1")
    await tickets.send(OPENED, 3)
    assert len(producer.sent) == 1  # sent before the agent goes on
    for n in range(ticket_table.INLINE + 1):
        tickets[f"T-{n}"] = ticket(f"T-{n}")
    await tickets.send(OPENED, 4)
    assert len(producer.sent) == 1  # queued: the agent goes on firing
    await producer.until_sent(1 + ticket_table.INLINE + 1)


async def test_the_agent_waits_while_the_backlog_is_over_its_bound(running, monkeypatch):
    app, tickets, producer = running
    monkeypatch.setattr(ticket_table, "BACKLOG", 1)
    monkeypatch.setattr(ticket_table, "INLINE", 0)
    producer.gate = asyncio.Event()
    tickets["T-1"] = ticket("T-1")
    tickets["T-2"] = ticket("T-2")
    sending = asyncio.ensure_future(tickets.send(OPENED, 3))
    await producer.until_sent(1)
    assert not sending.done()  # two writes queued, the producer holding the first: over the bound
    producer.gate.set()
    await sending
    assert len(producer.sent) == 2
