"""The pure SLA core: no I/O, no wall clock, no framework.

Everything here is plain data and functions with the clock passed in, so the
Kafka worker and the offline replay run exactly the same logic.
"""
