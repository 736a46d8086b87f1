"""Orchestration between the pure SLA core and the stream runtime (no Kafka, no faust here)."""
