"""The ticket table's faust key and value types and their codecs: objects in memory, compact JSON in the
changelog."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import orjson
from faust.serializers import codecs

from worker.domain.state_codec import VERSION, check_version, from_micros, state_to_dict
from worker.service.timer_service import StoredTicket

TICKET_CODEC = "incident_timer_ticket"
TICKET_KEY_CODEC = "incident_timer_ticket_key"


def right_sized(raw: bytes) -> bytes:
    """A copy of orjson's output that holds only its length.

    orjson (3.12 and later) returns bytes whose buffer is at least 4 KiB,
    whatever their length, and ``sys.getsizeof`` does not show it. Every
    changelog record waiting in the producer held two (key and value): after a
    burst of 100,000 dues had queued theirs, the worker's RSS was 618-755 MiB
    instead of about 210 (BENCHMARKS.md).
    """
    return bytes(memoryview(raw))


class TicketCodec(codecs.Codec):
    """Table values: StoredTicket objects in memory, compact JSON in the changelog (and RocksDB).

    The memory store keeps the objects themselves. orjson writes the bytes
    ``json.dumps`` with compact separators writes (non-ASCII text as UTF-8 rather
    than escaped), ten times faster. A value read back keeps its state's JSON
    undecoded (``StoredTicket.encoded``): the header and the due time are all a
    restart needs, and the state is decoded, with ``json`` (``state_codec.loads``),
    when the ticket is next touched. Decoding every state took 9.7 us a ticket,
    most of a million tickets' recovery.
    """

    def _dumps(self, stored: StoredTicket) -> bytes:
        encoded = stored.encoded_state
        if encoded is not None:
            return _header(stored.partition, stored.kinds, stored.held) + encoded + b"}"
        return right_sized(orjson.dumps(
            {"p": stored.partition, "k": stored.kinds, "h": stored.held, "state": state_to_dict(stored.state)}
        ))

    def _loads(self, raw: bytes) -> StoredTicket:
        data = orjson.loads(raw)
        partition, kinds, held, state = data["p"], data["k"], data["h"], data["state"]
        check_version(state)  # at once: a ticket kept encoded is decoded only when next touched
        header = _header(partition, kinds, held)
        # The state's own bytes, when the value is laid out as this codec writes it (else written afresh).
        encoded = raw[len(header):-1] if raw.startswith(header) and raw.endswith(b"}") else orjson.dumps(state)
        return StoredTicket.encoded(partition, kinds, held, from_micros(state["d"]), encoded)


@functools.lru_cache(maxsize=4096)  # few distinct values (partitions x timer kinds), one lookup per ticket read
def _header(partition: int, kinds: str, held: int) -> bytes:
    """A value's bytes before its state's, as TicketCodec writes them."""
    return b'{"p":%d,"k":"%s","h":%d,"state":' % (partition, kinds.encode(), held)


_STATE = b',"state":{"v":%d,' % VERSION  # what follows a value's header, for the state version this build reads
_HEADER = re.compile(rb'\{"p":(\d+),"k":"([a-z]*)","h":(\d+)')
_DUE = re.compile(rb',"d":(-?\d+|null),"z":(?:-?\d+|null)\}\}')  # the state's last two keys, then the value's end


def timer_fields(raw: bytes) -> tuple[int, str, int, datetime | None]:
    """Partition, timer kinds, held count and due time of a value, as the due heaps need them.

    Read from the bytes where the value is laid out as TicketCodec writes it:
    the header before the state, and the state's due time among its last keys.
    Parsing the whole value for them cost half of rebuilding the heaps from a
    million RocksDB entries (BENCHMARKS.md). Any other value is decoded in full.
    """
    cut, end = raw.find(_STATE), len(raw)
    fields = _header_fields(raw[:cut]) if cut > 0 else None
    due = _DUE.search(raw, cut if end - cut < 64 else end - 64) if fields is not None else None
    if due is None or due.end() != end:
        stored = _CODEC._loads(raw)
        return stored.partition, stored.kinds, stored.held, stored.due
    partition, kinds, held = fields  # type: ignore[misc]
    micros = due[1]
    return partition, kinds, held, None if micros == b"null" else from_micros(int(micros))


@functools.lru_cache(maxsize=4096)  # few distinct headers, as for _header
def _header_fields(header: bytes) -> tuple[int, str, int] | None:
    match = _HEADER.fullmatch(header)
    return None if match is None else (int(match[1]), match[2].decode(), int(match[3]))


class TicketKeyCodec(codecs.Codec):
    """Table keys: the ticket id as JSON, the bytes faust's own json codec writes (with orjson), right-sized."""

    def _dumps(self, ticket_id: str) -> bytes:
        return right_sized(orjson.dumps(ticket_id))

    def _loads(self, raw: bytes) -> str:
        return orjson.loads(raw)


_CODEC = TicketCodec()
codecs.register(TICKET_CODEC, _CODEC)
codecs.register(TICKET_KEY_CODEC, TicketKeyCodec())


class TicketKey:
    """The ticket table's faust key type: ticket ids (str), written by TicketKeyCodec (see TicketValue)."""

    _options = SimpleNamespace(serializer=TICKET_KEY_CODEC)

    @classmethod
    def from_data(cls, data: str, preferred_type: Any = None) -> str:
        return data


class TicketValue:
    """The ticket table's faust value type: it names the codec, and values pass through as decoded.

    faust reads a table's serializer from its value type (``_options.serializer``,
    as on faust Records) and rebuilds values with ``from_data``; StoredTicket is a
    plain dataclass, so this stands in for a Record.
    """

    _options = SimpleNamespace(serializer=TICKET_CODEC)

    @classmethod
    def from_data(cls, data: StoredTicket, preferred_type: Any = None) -> StoredTicket:
        return data
