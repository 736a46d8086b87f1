"""Ticket writes wait for the outputs' acknowledgement: a fact is never recorded as emitted before it left."""

import json
from datetime import timedelta

from worker.service.staged_store import StagedStore

from tests.unit.builders import at
from tests.unit.test_timer_service import OPENED, feed, service


def test_reads_see_pending_writes_and_deletions_the_backing_store_does_not():
    backing = {"a": 1, "b": 2}
    store = StagedStore(backing)
    store["a"] = 10
    store["c"] = 3
    del store["b"]
    assert (store["a"], store.get("b"), "b" in store, store["c"]) == (10, None, False, 3)
    assert sorted(store) == ["a", "c"] and len(store) == 2 and dict(store.items()) == {"a": 10, "c": 3}
    assert backing == {"a": 1, "b": 2} and store.pending == 3
    store.apply()
    assert backing == {"a": 10, "c": 3} and store.pending == 0


def test_discarded_writes_leave_the_backing_store_as_it_was():
    backing = {"a": 1}
    store = StagedStore(backing)
    store["a"] = 2
    store.pop("a")
    store.discard()
    assert backing == {"a": 1} and store["a"] == 1


def test_an_unacknowledged_breach_fires_again_under_the_same_id():
    backing = {}
    svc = service(StagedStore(backing))
    svc.assign({0})
    feed(svc, "opened", OPENED, now=at(0))
    svc.store.apply()
    before = backing["T-1"]

    first = svc.on_tick(0, at(20) + timedelta(seconds=1), caught_up=True)
    assert len(first) == 1 and backing["T-1"] is before, "recorded as emitted before it was delivered"
    svc.store.discard()  # Kafka did not acknowledge it
    svc.assign({0})  # as the runtime does: the heaps follow the store again
    again = svc.on_tick(0, at(20) + timedelta(seconds=2), caught_up=True)
    assert [json.loads(r.value)["id"] for r in again] == [json.loads(first[0].value)["id"]]

    svc.store.apply()  # acknowledged this time
    assert backing["T-1"] is not before
    assert svc.on_tick(0, at(21), caught_up=True) == []


def test_items_with_writes_pending_read_the_backing_store_once_and_lay_the_writes_over_it():
    class Backing(dict):
        """Counts key-by-key lookups: the rebuild after a refused output reads every ticket."""
        lookups = 0

        def __getitem__(self, key):
            Backing.lookups += 1
            return super().__getitem__(key)

        def get(self, key, default=None):
            Backing.lookups += 1
            return super().get(key, default)

    backing = Backing(a=1, b=2, c=3)
    store = StagedStore(StagedStore(backing))  # the runtime's two layers
    store.backing["b"] = 20
    del store.backing["c"]
    store.backing["d"] = 4
    store["a"] = 10
    Backing.lookups = 0
    assert dict(store.backing.items()) == {"a": 1, "b": 20, "d": 4} and Backing.lookups == 0
    assert sorted(store.items()) == [("a", 10), ("b", 20), ("d", 4)]
