"""The bytes of a partition's saved timers (``PartitionTimers``): written at a graceful stop, read at the next start.

A JSON header line (format, version, the changelog offset the store had
persisted, counts, ticket count, byte order, CRC-32 of the rest), then each
heap entry's due time as a signed 64-bit integer of microseconds since the
epoch, then the ticket ids as one JSON list, in heap order. A million
entries read back in well under a second: JSON lists of pairs took as long
to parse as reading the tickets themselves.
"""

from __future__ import annotations

import sys
import zlib
from array import array

import orjson

from worker.domain.state_codec import from_micros, to_micros
from worker.service.timer_service import PartitionTimers

FORMAT = "incident-timer partition timers"
VERSION = 1


def encode(timers: PartitionTimers, offset: int) -> bytes:
    """The file's bytes for ``timers``, saved when the store had persisted changelog offset ``offset``."""
    dues = array("q", [to_micros(due) for due, _ in timers.heap])
    body = dues.tobytes() + orjson.dumps([ticket_id for _, ticket_id in timers.heap])
    header = {"format": FORMAT, "version": VERSION, "offset": offset, "tickets": len(dues), "counts": timers.counts,
              "byteorder": sys.byteorder, "crc32": zlib.crc32(body)}
    return orjson.dumps(header) + b"\n" + body


def decode(raw: bytes, offset: int) -> PartitionTimers:
    """The timers in ``raw``, for a store at persisted changelog offset ``offset``; ValueError, saying why, if
    they were saved at a later one (the store is older than the file) or the file is not sound.

    A later offset is fine: acknowledgements of changelog records the store
    held when its timers were saved may arrive after that, at stop.
    """
    line, _, body = raw.partition(b"\n")
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"unreadable header: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError("not a partition timers file")
    if header.get("version") != VERSION:
        raise ValueError(f"unsupported version {header.get('version')!r} (this build reads {VERSION})")
    if not isinstance(header.get("offset"), int) or header["offset"] > offset:
        raise ValueError(f"saved at changelog offset {header.get('offset')!r}, the store is at {offset}")
    if header.get("byteorder") != sys.byteorder:
        raise ValueError(f"written on a {header.get('byteorder')!r}-endian machine")
    if zlib.crc32(body) != header.get("crc32"):
        raise ValueError("checksum mismatch: the file is damaged or incomplete")
    tickets = header["tickets"]
    dues = array("q")
    dues.frombytes(body[: 8 * tickets])
    ids = orjson.loads(body[8 * tickets:])
    if len(ids) != tickets:
        raise ValueError(f"{len(ids)} ticket ids for {tickets} due times")
    return PartitionTimers([(from_micros(due), ticket_id) for due, ticket_id in zip(dues, ids)],
                           dict(header["counts"]))
