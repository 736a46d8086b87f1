"""Worker configuration: environment variables ``INCIDENT_TIMER_<NAME>``, each with a matching flag."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "INCIDENT_TIMER_"
STREAM_OF_TYPE = {"incident.opened": "opened", "incident.response": "responses", "incident.update": "updates"}
ISO_DURATION = TypeAdapter(timedelta)  # ISO 8601 text such as PT30S <-> timedelta


class SettingsError(ValueError):
    """Configuration that cannot be used; the message names the variable."""


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    brokers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port")
    app_id: str = Field("incident-timer", description="Consumer group id and prefix of internal topics")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach Kafka"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)"
    )
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged)")
    ssl_cafile: Path | None = Field(None, description="CA bundle that signs the brokers' certificates")
    ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS)")
    ssl_keyfile: Path | None = Field(None, description="Client key (mutual TLS)")

    topic_opened: str = Field("incidents.opened", description="Input: incident opened events")
    topic_responses: str = Field("incidents.responses", description="Input: first responses")
    topic_updates: str = Field("incidents.updates", description="Input: updates")
    topic_breaches: str = Field("incidents.sla-breaches", description="Output: response breaches and their follow-ups")
    topic_overdue: str = Field("incidents.update-overdue", description="Output: update overdue and cleared")
    topic_dead_letters: str = Field("incidents.timer-dlq", description="Output: rejected input, original bytes")
    topic_ticks: str = Field("incident-timer.ticks", description="Internal: per-partition clock ticks")
    partitions: int = Field(8, ge=1, description="Partitions of the topics the worker creates (inputs must match)")
    create_topics: bool = Field(False, description="Create missing topics at start-up (dev and tests)")
    replication_factor: int = Field(3, ge=1, description="Replication of created topics and the state changelog")

    policy: Path | None = Field(None, description="SLA policy file (YAML); default the built-in policy")
    store: Literal["memory", "rocksdb"] = Field("memory", description="Ticket state store")
    data_dir: Path = Field(Path("incident-timer-data"), description="Directory of the state store")

    tick_interval: timedelta = Field(timedelta(milliseconds=200), description="How often due timers are checked")
    catch_up_bound: timedelta = Field(timedelta(seconds=30), description="Fire anyway when inputs lag longer")
    orphan_ttl: timedelta = Field(timedelta(hours=24), description="How long events wait for their opened event")
    closed_retention: timedelta = Field(timedelta(days=30), description="How long closed tickets are kept")
    max_future_skew: timedelta = Field(timedelta(minutes=5), description="Reject events further in the future")

    fetch_max_wait: timedelta = Field(
        timedelta(milliseconds=500), description="Longest a fetch waits for data (brokers that hold fetches)"
    )
    producer_max_batch_size: int = Field(
        16384, ge=1, description="Producer batch bytes; 1 works around brokers with wrong end offsets (Tansu)"
    )
    session_timeout: timedelta = Field(timedelta(seconds=30), description="Kafka consumer group session timeout")
    heartbeat_interval: timedelta = Field(timedelta(seconds=3), description="Kafka consumer group heartbeat")
    rebalance_timeout: timedelta = Field(timedelta(seconds=30), description="Kafka rebalance timeout")

    http_port: int = Field(9464, ge=0, le=65535, description="Port of /metrics, /healthz and /readyz (0: off)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")
    log_format: Literal["json", "console"] = Field("json", description="JSON lines, or readable console lines")

    @field_validator("tick_interval", "catch_up_bound", "fetch_max_wait", "orphan_ttl", "closed_retention", "session_timeout",
                     "heartbeat_interval", "rebalance_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    @property
    def input_topics(self) -> dict[str, str]:
        return {"opened": self.topic_opened, "responses": self.topic_responses, "updates": self.topic_updates}

    def topic_for(self, event_type: str) -> str:
        """The input topic of an event type (KeyError for an unknown type)."""
        return self.input_topics[STREAM_OF_TYPE[event_type]]

    @property
    def bootstrap_servers(self) -> list[str]:
        return [server.strip().removeprefix("kafka://") for server in self.brokers.split(",") if server.strip()]


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (``--catch-up-bound`` for INCIDENT_TIMER_CATCH_UP_BOUND); flags win over env."""
    group = parser.add_argument_group("worker settings (flag or environment variable)")
    for name, info in WorkerSettings.model_fields.items():
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=f"setting_{name}",
            metavar="VALUE",
            help=f"{info.description} [{ENV_PREFIX}{name.upper()}, default {_default_text(info.default)}]",
        )


def _default_text(value: Any) -> str:
    if isinstance(value, timedelta):
        return ISO_DURATION.dump_python(value, mode="json")
    return str(value)


def from_args(args: argparse.Namespace, **overrides: Any) -> WorkerSettings:
    given = {
        key.removeprefix("setting_"): value
        for key, value in vars(args).items()
        if key.startswith("setting_") and value is not None
    }
    try:
        return WorkerSettings(**{**overrides, **given})
    except ValidationError as exc:
        problems = [
            f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper()} (--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}): {e['msg']}"
            for e in exc.errors()
        ]
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


def to_environment(settings: WorkerSettings) -> dict[str, str]:
    """The settings as INCIDENT_TIMER_* variables, for starting a worker process with them."""
    env = {}
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        if name == "sasl_password" and settings.sasl_password is not None:
            value = settings.sasl_password.get_secret_value()
        env[ENV_PREFIX + name.upper()] = value if isinstance(value, str) else json.dumps(value)
    return env
