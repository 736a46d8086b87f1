"""I/O adapters: Kafka administration, the faust runtime, the embedded broker."""
