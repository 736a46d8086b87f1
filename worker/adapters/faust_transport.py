"""faust's aiokafka transport with a configurable fetch wait.

faust hard-codes ``fetch_max_wait_ms=1500`` for its stream consumer. Kafka answers
a fetch as soon as data arrives, but brokers that hold fetches for the full wait
(the embedded Tansu broker does) then add up to 1.5 s to every tick and event,
and timers must fire within a second. Registered as the ``timerkafka`` transport
through faust's ``faust.transports`` entry point.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

DEFAULT_FETCH_MAX_WAIT_MS = 500  # Kafka's own default; TimerApp sets app.fetch_max_wait_ms


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
