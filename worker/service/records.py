"""Kafka records the worker writes: outputs with CloudEvents headers, and dead letters."""

from __future__ import annotations

from dataclasses import dataclass

from worker.domain.timers import OutputMessage

BREACH_TYPES = frozenset({"sla.response_breached", "sla.response_breach_retracted", "sla.responded_after_breach"})
CE_SOURCE = "urn:incident-timer"
# Kafka's default record size limit is 1 MB; a dead letter must not be refused by the broker itself.
# Longer payloads keep their first bytes, and the source topic/partition/offset point at the rest.
MAX_DEAD_LETTER_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One record to produce; ``stream`` is 'breaches', 'overdue' or 'dead_letters'."""

    stream: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def output_record(output: OutputMessage) -> Record:
    """An output event as a keyed record, its body the contract's JSON, CloudEvents binary-mode headers."""
    stream = "breaches" if output.type in BREACH_TYPES else "overdue"
    headers = (
        ("ce_specversion", b"1.0"),
        ("ce_id", output.id.encode()),
        ("ce_type", output.type.encode()),
        ("ce_source", CE_SOURCE.encode()),
        ("ce_subject", output.ticket_id.encode()),
        ("ce_time", output.fired_at.isoformat().replace("+00:00", "Z").encode()),
        ("content-type", b"application/json"),
    )
    return Record(stream, output.ticket_id.encode(), output.model_dump_json().encode(), headers)


def dead_letter_record(
    key: bytes | None, raw: bytes, reason: str, detail: str, topic: str, partition: int, offset: int
) -> Record:
    """The original bytes and key with why and where in headers (bytes cut only past 512 KiB)."""
    headers = [
        ("dlq_reason", reason.encode()),
        ("dlq_detail", detail.encode()[:2000]),
        ("dlq_source_topic", topic.encode()),
        ("dlq_source_partition", str(partition).encode()),
        ("dlq_source_offset", str(offset).encode()),
    ]
    if len(raw) > MAX_DEAD_LETTER_BYTES:
        headers.append(("dlq_truncated_from_bytes", str(len(raw)).encode()))
        raw = raw[:MAX_DEAD_LETTER_BYTES]
    return Record("dead_letters", key, raw, tuple(headers))
