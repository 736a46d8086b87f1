"""Prometheus metrics of the worker (prometheus-client), in base units, ``incident_timer_`` prefix."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    disable_created_metrics,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from worker.domain.timers import OutputMessage

disable_created_metrics()  # *_created series only double the series count

FIRE_DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TIMER_OUTPUTS = frozenset({"sla.response_breached", "sla.update_overdue"})


class Metrics:
    """The worker's metrics in their own registry; also the TimerService observer."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        p = "incident_timer_"
        self.input_events = Counter(p + "input_events", "Input records read, by topic and event type "
                                    "('rejected' when it did not validate)", ["topic", "type"], registry=registry)
        self.rejected_events = Counter(p + "rejected_events", "Input records sent to the dead-letter topic, by reason",
                                       ["reason"], registry=registry)
        self.duplicate_events = Counter(p + "duplicate_events", "Input events whose event id was already applied",
                                        registry=registry)
        self.output_events = Counter(p + "output_events", "Output events, by type, severity and plan",
                                     ["type", "severity", "plan"], registry=registry)
        self.open_timers_gauge = Gauge(p + "open_timers", "Tickets of owned partitions holding a timer, by kind",
                                       ["kind"], registry=registry)
        self.fire_delay = Histogram(p + "fire_delay_seconds", "Detection time minus due instant of fired timers",
                                    buckets=FIRE_DELAY_BUCKETS, registry=registry)
        self.processing = Histogram(p + "event_processing_seconds", "Time to process one input record",
                                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
                                    registry=registry)
        self.consumer_lag = Gauge(p + "consumer_lag", "Input records not yet processed, per owned partition",
                                  ["topic", "partition"], registry=registry)
        self.recovery_duration = Gauge(p + "recovery_duration_seconds",
                                       "Duration of the last recovery (assignment to timers rebuilt)",
                                       registry=registry)
        self.recovering = Gauge(p + "recovering", "1 while tables recover after a start or rebalance",
                                registry=registry)
        self.orphan_events_held = Gauge(p + "orphan_events_held", "Events waiting for their ticket's opened event",
                                        registry=registry)
        self.orphan_events_dropped = Counter(p + "orphan_events_dropped",
                                             "Events dropped after waiting the orphan TTL", registry=registry)
        self.fired_while_lagging = Counter(p + "fired_while_lagging",
                                           "Outputs fired after the catch-up bound while inputs lagged",
                                           registry=registry)
        self.ready = Gauge(p + "ready", "1 when tables are recovered and the worker consumes", registry=registry)
        self.broker_stalls = Counter(p + "broker_stalls", "Ticker rounds (end offsets, tick records) that failed "
                                     "or took longer than 5 s (Kafka slow or unreachable)", registry=registry)
        self.changelog_resends = Counter(p + "changelog_resends", "Changelog records sent again after Kafka "
                                         "refused them or did not acknowledge them", registry=registry)
        self.changelog_unreadable = Counter(p + "changelog_unreadable_records", "Changelog records the memory "
                                            "store could not decode when recovering (skipped: their tickets keep an "
                                            "earlier state)", registry=registry)
        self.last_tick = Gauge(p + "last_tick_timestamp_seconds", "Unix time of the last processed tick",
                               registry=registry)
        self._children: dict[tuple, Counter | Gauge] = {}

    # -- TimerService observer ------------------------------------------------
    def _child(self, metric: Counter | Gauge, *values: str) -> Counter | Gauge:
        """``metric.labels(*values)``, kept: a label lookup costs more than the update itself, and these run
        for every event and every output."""
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def received(self, topic: str, event_type: str) -> None:
        self._child(self.input_events, topic, event_type).inc()

    def rejected(self, reason: str) -> None:
        self.rejected_events.labels(reason=reason).inc()

    def duplicate(self) -> None:
        self.duplicate_events.inc()

    def emitted(self, output: OutputMessage, lagging: bool) -> None:
        self._child(self.output_events, output.type, output.severity, output.plan).inc()
        if output.type in TIMER_OUTPUTS:
            self.fire_delay.observe(output.lateness_seconds)
        if lagging:
            self.fired_while_lagging.inc()

    def orphans_dropped(self, events: int) -> None:
        self.orphan_events_dropped.inc(events)

    def open_timers(self, counts: dict[str, int], held_events: int) -> None:
        for kind, count in counts.items():
            self._child(self.open_timers_gauge, kind).set(count)
        self.orphan_events_held.set(held_events)
