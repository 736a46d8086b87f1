"""The ticket table's key and value codecs: the changelog's bytes as before, held without orjson's slack."""

import tracemalloc

from faust.serializers import codecs

from tests.unit.test_state_codec import ENGINE, at, opened
from worker.adapters.ticket_table import TICKET_KEY_CODEC, TicketCodec, TicketKeyCodec
from worker.domain.timers import TicketState
from worker.service.timer_service import StoredTicket


def test_keys_are_written_as_faust_s_json_codec_wrote_them_so_existing_changelogs_still_read():
    faust_json, key_codec = codecs.get_codec("json"), TicketKeyCodec()
    for ticket_id in ("T-1", "T-Örebro-1", 'quote " and \\ back', "tab\there"):
        assert key_codec.dumps(ticket_id) == faust_json.dumps(ticket_id)
        assert key_codec.loads(faust_json.dumps(ticket_id)) == ticket_id


def test_the_worker_s_table_writes_its_keys_with_the_key_codec():
    from worker.adapters.faust_runtime import TimerApp
    from worker.domain.policy import Policy
    from worker.settings import WorkerSettings

    table = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4).table
    assert table.key_serializer == TICKET_KEY_CODEC
    assert table.changelog_topic.key_serializer == TICKET_KEY_CODEC


def held_bytes_each(make, n: int = 2000) -> float:
    """Bytes of memory each result of ``make`` holds while kept (sys.getsizeof does not see orjson's slack)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make(i) for i in range(n)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == n
    return held / n


def test_a_queued_changelog_record_holds_little_more_than_its_bytes():
    """A burst of dues queues one changelog record per fired ticket: key and value must not hold 4 KiB each."""
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    stored, codec, key_codec = StoredTicket(3, "r", 0, state), TicketCodec(), TicketKeyCodec()
    value_length = len(codec.dumps(stored))
    assert held_bytes_each(lambda i: codec.dumps(stored)) < value_length + 200
    assert held_bytes_each(lambda i: key_codec.dumps(f"T-{i:09d}")) < 200


def test_a_ticket_read_back_keeps_its_state_encoded_until_the_state_is_read():
    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    codec = TicketCodec()
    raw = codec.dumps(StoredTicket(3, "r", 0, state))
    read = codec.loads(raw)
    assert read.encoded_state is not None
    assert (read.partition, read.kinds, read.held, read.due) == (3, "r", 0, state.due)
    assert codec.dumps(read) == raw  # written again without decoding, byte for byte
    assert read.state == state
    assert read.encoded_state is None and codec.dumps(read) == raw


def test_values_laid_out_otherwise_are_read_all_the_same():
    import json

    from worker.domain.state_codec import state_to_dict

    state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    spaced = json.dumps({"p": 3, "k": "r", "h": 0, "state": state_to_dict(state)}).encode()
    reordered = json.dumps({"state": state_to_dict(state), "h": 0, "k": "r", "p": 3}).encode()
    for raw in (spaced, reordered):
        read = TicketCodec().loads(raw)
        assert read == StoredTicket(3, "r", 0, state) and read.state == state


def test_a_state_of_an_unknown_version_is_refused_when_read_not_later():
    import pytest

    with pytest.raises(ValueError, match="version 99"):
        TicketCodec().loads(b'{"p":3,"k":"r","h":0,"state":{"v":99,"t":"T-1","e":[],"x":[],"h":null,"d":null}}')


def test_timer_fields_read_from_the_bytes_are_those_of_the_decoded_value_whatever_the_layout(monkeypatch):
    import json
    from types import SimpleNamespace

    import pytest

    from worker.adapters import ticket_table
    from worker.domain.state_codec import state_to_dict

    codec = TicketCodec()
    open_state = ENGINE.apply(TicketState("T-1"), opened(), now=at(0)).state
    done = open_state.__class__(ticket_id="T-2", events=open_state.events)  # no due time
    assert done.due is None
    values = [codec.dumps(StoredTicket(partition, kinds, held, state))
              for partition, kinds, held, state in ((3, "r", 0, open_state), (11, "ou", 7, open_state),
                                                    (0, "", 0, done))]
    values += [json.dumps({"p": 3, "k": "r", "h": 0, "state": state_to_dict(open_state)}).encode(),  # spaced
               json.dumps({"state": state_to_dict(open_state), "h": 0, "k": "r", "p": 3}).encode()]  # reordered
    decoded = []
    monkeypatch.setattr(ticket_table, "_CODEC", SimpleNamespace(_loads=lambda raw: decoded.append(raw) or
                                                                codec.loads(raw)))
    for raw in values:
        read = codec.loads(raw)
        assert ticket_table.timer_fields(raw) == (read.partition, read.kinds, read.held, read.due)
    assert decoded == values[3:], "the codec's own layout is read from the bytes; others are decoded in full"
    assert ticket_table.timer_fields(values[0])[3] == open_state.due is not None
    with pytest.raises(ValueError, match="version 99"):
        ticket_table.timer_fields(values[0].replace(b'"v":1', b'"v":99'))
