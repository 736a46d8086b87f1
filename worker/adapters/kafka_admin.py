"""Kafka client options, start-up checks and topic creation, and one-off reads (broker-agnostic)."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from worker.settings import WorkerSettings


class TopologyError(RuntimeError):
    """The topics cannot be used as they are; the message says what to fix."""


def client_options(settings: WorkerSettings) -> dict[str, Any]:
    """Connection options shared by every Kafka client of the worker (aiokafka names)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        if not (settings.sasl_mechanism and settings.sasl_username and settings.sasl_password):
            raise TopologyError(
                f"security_protocol {settings.security_protocol} needs INCIDENT_TIMER_SASL_MECHANISM, "
                "INCIDENT_TIMER_SASL_USERNAME and INCIDENT_TIMER_SASL_PASSWORD"
            )
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options


def ssl_context(settings: WorkerSettings) -> ssl.SSLContext:
    """A verifying TLS context: the CA bundle if given, else the system's trust store."""
    context = ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)
    if settings.ssl_certfile:
        context.load_cert_chain(str(settings.ssl_certfile), str(settings.ssl_keyfile) if settings.ssl_keyfile else None)
    return context


async def tls_problem(settings: WorkerSettings, timeout: float = 10.0) -> str | None:
    """Why a TLS handshake with the bootstrap servers fails, if it does (aiokafka only says it could not connect)."""
    context = ssl_context(settings)
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, int(port), ssl=context, server_hostname=host), timeout
            )
        except ssl.SSLCertVerificationError as exc:
            return (f"TLS handshake with {server} failed: certificate verify failed: {exc.verify_message} "
                    "(check INCIDENT_TIMER_SSL_CAFILE and that the broker's certificate names this host)")
        except ssl.SSLError as exc:
            return f"TLS handshake with {server} failed: {exc.reason or exc}"
        except (OSError, asyncio.TimeoutError):
            continue  # not a TLS problem; aiokafka's own error says enough
        writer.close()
    return None


async def first_offset_from(settings: WorkerSettings, tp: Any, offset: int, timeout: float = 10.0) -> int | None:
    """The offset of the first record at or after ``offset`` in partition ``tp``, read by a consumer of its own
    (None when none arrives in ``timeout``): tells a gap of the log itself from records a consumer skipped."""
    partition = TopicPartition(tp.topic, tp.partition)
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, offset)
        records = await consumer.getmany(partition, timeout_ms=int(timeout * 1000), max_records=1)
        found = records.get(partition)
        return found[0].offset if found else None
    finally:
        await consumer.stop()


async def prepare_topics(settings: WorkerSettings) -> int:
    """Create missing topics when asked, then check co-partitioning; returns the partition count."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        reason = await tls_problem(settings) if "ssl_context" in client_options(settings) else None
        raise TopologyError(f"cannot reach Kafka at {settings.brokers}: {reason or exc}") from None
    try:
        inputs = list(settings.input_topics.values())
        outputs = [settings.topic_breaches, settings.topic_overdue, settings.topic_dead_letters]
        if settings.create_topics:
            await _create_missing(admin, inputs + [settings.topic_ticks] + outputs, settings)
        counts = await _partition_counts(admin, inputs + [settings.topic_ticks] + outputs)
        missing = [topic for topic, count in counts.items() if count is None]
        if missing:
            raise TopologyError(
                f"missing topics: {', '.join(missing)} (create them with {settings.partitions} partitions, "
                "or set INCIDENT_TIMER_CREATE_TOPICS=true)"
            )
        input_counts = {topic: counts[topic] for topic in inputs}
        if len(set(input_counts.values())) != 1:
            detail = ", ".join(f"{topic}={count}" for topic, count in input_counts.items())
            raise TopologyError(
                f"input topics must be co-partitioned (same partition count, keyed by ticket id): {detail}"
            )
        partitions = next(iter(input_counts.values()))
        if counts[settings.topic_ticks] != partitions:
            raise TopologyError(
                f"internal topic {settings.topic_ticks} has {counts[settings.topic_ticks]} partitions, "
                f"the inputs {partitions}: delete it so it is recreated, or recreate it with {partitions}"
            )
        return partitions
    finally:
        await admin.close()


async def _create_missing(admin: AIOKafkaAdminClient, topics: list[str], settings: WorkerSettings) -> None:
    existing = set(await admin.list_topics())
    new = [
        NewTopic(topic, settings.partitions, settings.replication_factor) for topic in topics if topic not in existing
    ]
    if not new:
        return
    try:
        await admin.create_topics(new)
    except TopicAlreadyExistsError:
        pass  # another worker created them first


async def _partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int | None]:
    existing = set(await admin.list_topics())
    present = [topic for topic in topics if topic in existing]
    counts: dict[str, int | None] = {topic: None for topic in topics}
    if present:
        for description in await admin.describe_topics(present):
            if description.get("error_code", 0) == 0:
                counts[description["topic"]] = len(description["partitions"])
    return counts
