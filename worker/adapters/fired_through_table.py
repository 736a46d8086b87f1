"""Each partition's fired-through instant, kept in a faust table of its own (one changelog record per tick
that fired, instead of one per ticket fired).

The tickets a tick fires are written without a changelog record (StagedStore,
unlogged); the tick then writes its partition's instant here, after Kafka has
acknowledged the outputs, so the offset commit that follows covers it. A later
owner brings those tickets' logged states forward to it (TimerService).

Bringing a state forward replays the engine without outputs, so it is only
right under the policy the outputs were computed with. Each mark names that
policy and the engine's settings (and the holidays package, whose data the
calendars use); a mark written under others is ignored, and the timers since
the logged states fire again, under the same ids where the facts are the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from datetime import datetime

import holidays

from worker.adapters.logs import get_logger
from worker.domain.timers import TicketEngine

log = get_logger("incident_timer.worker")


def engine_fingerprint(engine: TicketEngine) -> str:
    """Names what the engine's facts depend on besides the events: the policy, the settings, holiday data."""
    named = {
        "policy": engine.policy.model_dump(mode="json"),
        "orphan_ttl": engine.settings.orphan_ttl.total_seconds(),
        "closed_retention": engine.settings.closed_retention.total_seconds(),
        "holidays": holidays.__version__,
    }
    return hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:16]


class FiredThroughTable:
    """Reads and writes the marks, keyed by partition number, as JSON text."""

    def __init__(self, table: MutableMapping[str, str], engine: TicketEngine) -> None:
        self.table = table
        self.fingerprint = engine_fingerprint(engine)

    def write(self, partition: int, instant: datetime) -> None:
        """Call while processing a record of ``partition``: faust writes the changelog record there."""
        self.table[str(partition)] = json.dumps({"at": instant.isoformat(), "engine": self.fingerprint})

    def read(self, partitions: set[int]) -> dict[int, datetime]:
        """The marks of these partitions written under this engine; others are logged and left out."""
        marks: dict[int, datetime] = {}
        for partition in sorted(partitions):
            raw = self.table.get(str(partition))
            if raw is None:
                continue
            try:
                mark = json.loads(raw)
                instant = datetime.fromisoformat(mark["at"])
                engine = mark["engine"]
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable fired-through mark ignored: its timers fire again", partition=partition,
                            error=repr(exc))
                continue
            if engine != self.fingerprint:
                log.warning("fired-through mark of another policy ignored: its timers fire again",
                            partition=partition, written_under=engine, running=self.fingerprint)
                continue
            marks[partition] = instant
        return marks
