"""The agent's write-outs: input states wait in the write-back until the partition's next tick, a second
without one, or many tickets gathered, and commits never cover a record whose state is not written yet."""

import json
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from faust.types import TP

from worker.adapters import faust_runtime
from worker.adapters.faust_runtime import TimerApp
from worker.domain.policy import Policy
from worker.service.staged_store import StagedStore
from worker.service.write_back import WriteBack
from worker.settings import WorkerSettings

from tests.unit.test_delivery import Producer, Table

SETTINGS = WorkerSettings(brokers="127.0.0.1:1")
OPENED, RESPONSES, TICKS = (TP(SETTINGS.topic_opened, 0), TP(SETTINGS.topic_responses, 0),
                            TP(SETTINGS.topic_ticks, 0))


def runtime(journal: list) -> TimerApp:
    app = TimerApp(SETTINGS, Policy(), 4)
    app.app.producer = Producer(journal)
    app.write_back = WriteBack(Table(journal))
    app.store = app.service.store = StagedStore(app.write_back)
    app.needs_rebuild = False  # no consumer here: partition 0 is owned from the start
    app.service.assign({0})
    app.written_at[0] = time.monotonic()  # written out just now
    return app


class Stream:
    def __init__(self, messages: list) -> None:
        self.messages = messages

    async def events(self):
        for message in self.messages:
            yield SimpleNamespace(message=message)


def message(tp: TP, offset: int, value: dict, key: str | None = None):
    return SimpleNamespace(tp=tp, topic=tp.topic, partition=tp.partition, offset=offset,
                           key=key.encode() if key else None, value=json.dumps(value).encode())


def opened(ticket: str, minutes_ago: float) -> dict:
    occurred = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return {"type": "incident.opened", "event_id": f"{ticket}#0", "ticket_id": ticket,
            "occurred_at": occurred.isoformat(), "severity": "S1", "plan": "premium", "region": "eu"}


def tick(app: TimerApp, ends: dict[TP, int] | None) -> dict:
    listed = None if ends is None else [[tp.topic, offset] for tp, offset in ends.items()]
    return {"at": datetime.now(timezone.utc).isoformat(), "ends": listed}


def written(journal: list) -> list:
    return [key for what, key in journal if what == "written"]


def changelog_sent(journal: list) -> list:
    return [key for what, keys in journal if what == "changelog sent" for key in keys]


async def test_inputs_wait_for_the_partition_s_tick_and_commits_wait_for_their_write_out():
    journal: list = []
    app = runtime(journal)
    await app._process(Stream([
        message(OPENED, 0, opened("T-1", 21), "T-1"),  # due a minute ago
        message(OPENED, 1, opened("T-2", 5), "T-2"),
        message(TP(SETTINGS.topic_ticks, 1), 0, tick(app, None)),  # another partition's tick
    ]))
    assert written(journal) == [] and app.write_back.pending_in(0) == 2
    assert app.progress.commit_limit(OPENED) is None

    await app._process(Stream([message(TICKS, 0, tick(app, {OPENED: 2, RESPONSES: 0}))]))  # caught up: T-1 fires
    assert sorted(written(journal)) == ["T-1", "T-2"] and app.write_back.pending == 0
    assert journal.index(("acknowledged", b"T-1")) < journal.index(("written", "T-1"))
    assert sorted(changelog_sent(journal)) == [b'"T-1"', b'"T-2"']
    assert app.progress.commit_limit(OPENED) is None  # until Kafka has the changelog records
    await app.changelog.settled()
    assert app.progress.commit_limit(OPENED) == 2 and app.progress.commit_limit(TICKS) == 1


async def test_a_second_without_a_write_out_writes_the_partition_out_at_its_next_record():
    journal: list = []
    app = runtime(journal)
    await app._process(Stream([message(OPENED, 0, opened("T-1", 5), "T-1")]))
    assert written(journal) == []
    app.written_at[0] -= faust_runtime.WRITE_OUT_SECONDS
    await app._process(Stream([message(OPENED, 1, opened("T-2", 5), "T-2")]))
    await app.changelog.settled()
    assert sorted(written(journal)) == ["T-1", "T-2"] and app.progress.commit_limit(OPENED) == 2


async def test_many_tickets_waiting_are_written_out_at_once(monkeypatch):
    monkeypatch.setattr(faust_runtime, "WRITE_OUT_TICKETS", 2)
    journal: list = []
    app = runtime(journal)
    await app._process(Stream([message(OPENED, n, opened(f"T-{n}", 5), f"T-{n}") for n in range(3)]))
    await app.changelog.settled()
    assert written(journal) == ["T-0", "T-1"] and app.progress.commit_limit(OPENED) == 2


async def test_a_rebalance_stops_changelog_sending_and_the_owner_sends_what_kafka_had_not_acknowledged(monkeypatch):
    journal: list = []
    app = runtime(journal)
    app.app.producer.hold_changelog = True  # Kafka never acknowledges these
    await app._process(Stream([message(OPENED, 0, opened("T-1", 5), "T-1"),
                               message(TICKS, 0, tick(app, None))]))
    assert changelog_sent(journal) == [b'"T-1"']
    await app.app.on_partitions_revoked.send(revoked=set())
    assert app.progress.commit_limit(OPENED) is None  # never acknowledged, never committed

    async def restart(consumer, tps):  # no consumer here: reading restarts from the committed offsets
        app.progress.next_offset = {OPENED: 0, TICKS: 0}
    monkeypatch.setattr(app.progress, "restart", restart)
    app.app.producer.hold_changelog = False
    app.owned_partitions = lambda: {0}  # partition 0 stays here
    await app._process(Stream([message(OPENED, 0, opened("T-1", 5), "T-1"),  # read again: a duplicate
                               message(TICKS, 0, tick(app, None))]))
    await app.changelog.settled()
    assert changelog_sent(journal) == [b'"T-1"', b'"T-1"']  # its state, written out before, sent again
    assert app.progress.commit_limit(OPENED) == 1


async def test_changelog_records_of_a_partition_gone_elsewhere_are_not_sent_again(monkeypatch):
    journal: list = []
    app = runtime(journal)
    app.app.producer.hold_changelog = True
    await app._process(Stream([message(OPENED, 0, opened("T-1", 5), "T-1"),
                               message(TICKS, 0, tick(app, None))]))
    await app.app.on_partitions_revoked.send(revoked=set())

    async def restart(consumer, tps):
        app.progress.next_offset = {TP(SETTINGS.topic_opened, 1): 0}
    monkeypatch.setattr(app.progress, "restart", restart)
    app.owned_partitions = lambda: {1}  # partition 0 went to another worker
    await app._process(Stream([message(TP(SETTINGS.topic_opened, 1), 0, opened("T-2", 5), "T-2")]))
    assert changelog_sent(journal).count(b'"T-1"') == 1 and app.unacknowledged == {}


async def test_the_timers_saved_at_stop_leave_out_the_states_not_written_yet():
    journal: list = []
    app = runtime(journal)
    await app._process(Stream([message(OPENED, 0, opened("T-1", 5), "T-1"),
                               message(TICKS, 0, tick(app, None))]))  # T-1 written out at the tick
    await app._process(Stream([message(OPENED, 1, opened("T-2", 5), "T-2")]))  # waits for the next tick
    assert written(journal) == ["T-1"] and app.write_back.pending_in(0) == 1
    saved = app.timers_to_save()
    assert saved[0].counts == {"r": 1}  # T-1's response timer; T-2 is not in the table
    assert sorted(ticket for _, ticket in saved[0].heap) == ["T-1", "T-2"]  # T-2's entry stays, stale
    app.needs_rebuild = True  # a rebalance: the heaps no longer stand for anything
    assert app.timers_to_save() == {}
