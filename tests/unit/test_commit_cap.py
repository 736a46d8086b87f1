"""The transport's commit cap (the app's ``commit_limit``) on faust's own choice of offsets to commit."""

from collections import defaultdict
from types import SimpleNamespace

from faust.types import TP

from worker.adapters.faust_transport import Consumer

OPENED = TP("incidents.opened", 0)


def consumer(limits: dict[TP, int | None]) -> Consumer:
    """faust's commit bookkeeping, without a Kafka client behind it."""
    made = Consumer.__new__(Consumer)
    made._acked = defaultdict(list)
    made._acked_index = defaultdict(set)
    made._gap = defaultdict(list)  # no gaps (faust keeps an IntervalTree, empty and falsy like this)
    made._committed_offset = defaultdict(lambda: None)
    made.app = SimpleNamespace(commit_limit=limits.get)
    return made


def ack(made: Consumer, *offsets: int) -> None:
    for offset in offsets:
        made._acked[OPENED].append(offset)
        made._acked_index[OPENED].add(offset)


def commit(made: Consumer) -> int | None:
    """What faust's commit does with the offset: commit it if it moves on."""
    offset = made._new_offset(OPENED)
    if offset is not None and made._should_commit(OPENED, offset):
        made._committed_offset[OPENED] = offset
        return offset
    return None


def test_offsets_held_back_by_the_cap_are_committed_once_it_moves():
    limits: dict[TP, int | None] = {OPENED: 13}
    made = consumer(limits)
    ack(made, *range(10, 20))
    assert commit(made) == 13
    ack(made, 20, 21)
    assert commit(made) is None  # still capped
    limits[OPENED] = 22
    assert commit(made) == 22  # faust forgot 13-19 once; they are back in its list


def test_nothing_is_committed_while_the_cap_is_unknown_and_everything_after():
    limits: dict[TP, int | None] = {OPENED: None}
    made = consumer(limits)
    ack(made, 0, 1, 2)
    assert commit(made) is None
    limits[OPENED] = 3
    assert commit(made) == 3


def test_without_a_cap_above_faust_s_offset_it_is_faust_s():
    made = consumer({OPENED: 100})
    ack(made, 5, 6, 7, 9)
    assert commit(made) == 8  # up to faust's gap
    assert made._acked[OPENED] == [9]
