"""Ticket states written to the table a partition at a time: fewer changelog records, and nothing lost when
the records whose states were not written yet are read again."""

import json
from datetime import timedelta

import pytest

from worker.service.staged_store import StagedStore
from worker.service.write_back import WriteBack

from tests.unit.builders import at
from tests.unit.test_timer_service import OPENED, RESPONSE, feed, service, types


class Table(dict):
    """The ticket table: counts writes (each is a changelog record)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def __setitem__(self, key, value) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key) -> None:
        self.writes.append(key)
        super().__delitem__(key)


def stack():
    """The runtime's layers: acknowledgements (StagedStore) over the write-back over the table."""
    table = Table()
    write_back = WriteBack(table)
    return table, write_back, service(StagedStore(write_back))


def settle(svc) -> None:
    svc.store.apply()  # as the runtime does once the outputs are acknowledged (there are none here)


def event(base: dict, ticket: str, **changes) -> dict:
    return {**base, "ticket_id": ticket, "event_id": f"{ticket}/{base['event_id']}", **changes}


def test_a_ticket_changed_several_times_is_written_once():
    table, write_back, svc = stack()
    svc.assign({0})
    feed(svc, "opened", event(OPENED, "T-1"), now=at(0))
    settle(svc)
    feed(svc, "responses", event(RESPONSE, "T-1"), now=at(16), offset=1)
    settle(svc)
    assert table == {} and write_back.pending_in(0) == 1
    assert {e.event_id for e in write_back["T-1"].state.events} == {"T-1/e1", "T-1/e2"}  # reads see it meanwhile
    write_back.write_out(0)
    assert table.writes == ["T-1"] and len(table["T-1"].state.events) == 2 and write_back.pending == 0


def test_a_write_out_writes_its_own_partition_only():
    table, write_back, svc = stack()
    svc.assign({0, 1})
    feed(svc, "opened", event(OPENED, "T-1"), now=at(0), partition=0, key=b"T-1")
    feed(svc, "opened", event(OPENED, "T-2"), now=at(0), partition=1, key=b"T-2")
    settle(svc)
    write_back.write_out(1)
    assert list(table) == ["T-2"] and (write_back.pending_in(0), write_back.pending_in(1)) == (1, 0)


def test_a_deletion_waits_for_its_partition_s_write_out():
    table = Table()
    write_back = WriteBack(table)
    table["T-1"] = type("Stored", (), {"partition": 3})()
    del write_back["T-1"]
    assert "T-1" not in write_back and "T-1" in table and write_back.pending_in(3) == 1
    write_back.write_out(3)
    assert "T-1" not in table
    with pytest.raises(KeyError):
        del write_back["T-1"]


def test_records_read_again_after_a_discard_end_where_writing_them_out_would_have():
    """A crash or a rebalance before the write-out: the records are read again (their offsets were not
    committed), against the table, and the breach fires as it would have."""
    events = [("opened", event(OPENED, "T-1")), ("responses", event(RESPONSE, "T-1")),
              ("opened", event(OPENED, "T-2", occurred_at=at(1).isoformat()))]

    def run(crash: bool):
        table, write_back, svc = stack()
        svc.assign({0})
        feed(svc, *events[0], now=at(0), key=b"T-1")
        settle(svc)
        write_back.write_out(0)
        for offset, (stream, body) in enumerate(events[1:], start=1):
            assert feed(svc, stream, body, now=at(16), offset=offset, key=body["ticket_id"].encode()) == []
            settle(svc)
        if crash:  # as _rebuild does, then the records after the last write-out come again
            write_back.discard()
            svc.assign({0})
            for offset, (stream, body) in enumerate(events[1:], start=1):
                feed(svc, stream, body, now=at(17), offset=offset, key=body["ticket_id"].encode())
                settle(svc)
        fired = svc.on_tick(0, at(40), caught_up=True)
        settle(svc)
        write_back.write_out(0)
        return types(fired), [json.loads(r.value)["id"] for r in fired], {k: v.state for k, v in table.items()}

    assert run(crash=True) == run(crash=False)
    fired_types, _, states = run(crash=True)
    assert fired_types == ["sla.response_breached"] and set(states) == {"T-1", "T-2"}  # T-2's; T-1 was answered
    assert len(states["T-1"].events) == 2


def test_tickets_due_in_the_write_back_are_found_by_the_rebuild_after_a_refused_output():
    """The runtime rebuilds the heaps after Kafka refused outputs (NotDelivered): tickets whose states
    wait in the write-back are due all the same."""
    table, write_back, svc = stack()
    svc.assign({0})
    feed(svc, "opened", event(OPENED, "T-1"), now=at(0))
    settle(svc)
    svc.assign({0})
    assert types(svc.on_tick(0, at(20) + timedelta(seconds=1), caught_up=True)) == ["sla.response_breached"]
