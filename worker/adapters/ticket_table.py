"""The ticket table's faust key and value types and their codecs: objects in memory, compact JSON in the
changelog."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import orjson
from faust.serializers import codecs

from worker.domain.state_codec import state_from_dict, state_to_dict
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

    The memory store keeps the objects themselves, so reading a ticket costs no decoding.
    orjson writes the bytes ``json.dumps`` with compact separators writes (non-ASCII
    text as UTF-8 rather than escaped), ten times faster. Recovery reads them with
    ``json``: tickets decoded by orjson took 65 bytes more each in memory (757
    against 692 per ticket at a million, bench_memory.py), for 2.3 s less decoding.
    """

    def _dumps(self, stored: StoredTicket) -> bytes:
        return right_sized(orjson.dumps(
            {"p": stored.partition, "k": stored.kinds, "h": stored.held, "state": state_to_dict(stored.state)}
        ))

    def _loads(self, raw: bytes) -> StoredTicket:
        data = json.loads(raw)
        return StoredTicket(data["p"], data["k"], data["h"], state_from_dict(data["state"]))


class TicketKeyCodec(codecs.Codec):
    """Table keys: the ticket id as JSON, the bytes faust's own json codec writes (with orjson), right-sized."""

    def _dumps(self, ticket_id: str) -> bytes:
        return right_sized(orjson.dumps(ticket_id))

    def _loads(self, raw: bytes) -> str:
        return orjson.loads(raw)


codecs.register(TICKET_CODEC, TicketCodec())
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
