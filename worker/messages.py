"""The message contract: every input and output event, as pydantic models.

JSON Schema files generated from these models are checked in under
``schemas/`` (``incident-timer schemas``); a test fails when they
drift. Output field names are read by other tools: do not rename them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

Severity = Literal["S1", "S2", "S3", "S4"]
Plan = Literal["standard", "premium"]
Status = Literal["ongoing", "resolved", "closed"]


def _rfc3339_text(value: Any) -> Any:
    # pydantic would also take Unix numbers; the contract says RFC 3339 text.
    if not isinstance(value, (str, datetime)):
        raise ValueError("must be an RFC 3339 timestamp string with a UTC offset")
    return value


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    Field(description="RFC 3339 timestamp with a UTC offset, e.g. 2026-03-02T09:15:00+01:00"),
]
Identifier = Annotated[str, Field(min_length=1, max_length=256)]
ShortText = Annotated[str, Field(max_length=1024)]


class _InputEvent(BaseModel):
    # Tolerant reader: unknown fields from newer producers are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Identifier = Field(description="Unique id of this event; duplicates are applied once.")
    ticket_id: Identifier = Field(description="The ticket; also the Kafka record key.")
    occurred_at: Timestamp = Field(description="When it happened (event time).")


class _StatesNextUpdate(BaseModel):
    next_update_at: Timestamp | None = Field(
        default=None, description="Absolute time of the next update promised to the customer."
    )
    next_update_in: timedelta | None = Field(
        default=None, description="ISO 8601 duration from this event to the next update, e.g. PT2H."
    )

    @model_validator(mode="after")
    def _one_next_update(self):
        if self.next_update_at is not None and self.next_update_in is not None:
            raise ValueError("give next_update_at or next_update_in, not both")
        if self.next_update_in is not None and self.next_update_in <= timedelta(0):
            raise ValueError("next_update_in must be a positive duration")
        occurred_at = getattr(self, "occurred_at", None)
        if self.next_update_at is not None and occurred_at is not None and self.next_update_at <= occurred_at:
            raise ValueError("next_update_at must be after occurred_at")
        return self

    def stated_next_update(self) -> datetime | None:
        """The next update time this event promises, if any."""
        if self.next_update_at is not None:
            return self.next_update_at
        if self.next_update_in is not None:
            return self.occurred_at + self.next_update_in  # type: ignore[attr-defined]
        return None


class IncidentOpened(_InputEvent):
    """A ticket was opened; starts the response timer."""

    type: Literal["incident.opened"]
    severity: Severity
    plan: Plan
    region: Identifier | None = Field(
        default=None, description="Support region (a key of the policy's regions); default_region if absent."
    )
    customer_id: ShortText | None = None
    component: ShortText | None = None
    title: ShortText | None = None


class IncidentResponse(_InputEvent, _StatesNextUpdate):
    """The first human response from support."""

    type: Literal["incident.response"]
    responder: ShortText | None = None
    channel: ShortText | None = None


class IncidentUpdate(_InputEvent, _StatesNextUpdate):
    """A customer-visible (public) or internal update, possibly changing status or severity."""

    type: Literal["incident.update"]
    status: Status
    public: bool = True
    severity: Severity | None = Field(default=None, description="New severity, if it changes.")


InputEvent = Annotated[
    Union[IncidentOpened, IncidentResponse, IncidentUpdate], Field(discriminator="type")
]
INPUT_EVENT = TypeAdapter(InputEvent)


class _OutputEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Deterministic id from (ticket, kind, due instant, repeat count); dedupe on it.")
    ticket_id: str
    severity: Severity = Field(description="Severity in force when the timer fired.")
    plan: Plan
    region: str
    due_at: datetime = Field(description="The due instant this event is about (UTC).")
    fired_at: datetime = Field(description="Event time at which the timer fired or the fact happened (UTC).")
    detected_at: datetime = Field(description="Clock time at which the worker detected it (UTC).")
    lateness_seconds: float = Field(description="detected_at minus fired_at, in seconds.")
    detected_while_lagging: bool = Field(
        default=False,
        description="True when fired after the catch-up bound while input partitions were still behind.",
    )


class ResponseBreached(_OutputEvent):
    type: Literal["sla.response_breached"] = "sla.response_breached"


class ResponseBreachRetracted(_OutputEvent):
    """An on-time response arrived after the breach had been emitted."""

    type: Literal["sla.response_breach_retracted"] = "sla.response_breach_retracted"


class RespondedAfterBreach(_OutputEvent):
    """The late response arrived (fired_at is its time): pagers can resolve the page."""

    type: Literal["sla.responded_after_breach"] = "sla.responded_after_breach"


class UpdateOverdue(_OutputEvent):
    type: Literal["sla.update_overdue"] = "sla.update_overdue"
    overdue_count: int = Field(ge=1, description="1 at the due time, then +1 every cadence period.")
    due_source: Literal["stated", "cadence"] = Field(
        description="stated: the previous update promised due_at; cadence: the default cadence."
    )


class UpdateOverdueCleared(_OutputEvent):
    type: Literal["sla.update_overdue_cleared"] = "sla.update_overdue_cleared"
    overdue_count: int = Field(ge=0, description="Overdue count reached before clearing.")
    reason: Literal["update", "resolved", "cadence_stopped", "rescheduled", "retracted"] = Field(
        description=(
            "update: the awaited update arrived; resolved: resolved or closed; "
            "cadence_stopped: the new severity has no cadence; rescheduled: a severity change "
            "re-anchored the cadence; retracted: an update made in time arrived late."
        )
    )


OutputEvent = Annotated[
    Union[
        ResponseBreached,
        ResponseBreachRetracted,
        RespondedAfterBreach,
        UpdateOverdue,
        UpdateOverdueCleared,
    ],
    Field(discriminator="type"),
]
OUTPUT_EVENT = TypeAdapter(OutputEvent)


class DeadLetter(BaseModel):
    """A rejected input record: the original bytes (as text or base64) and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["incident_timer.dead_letter"] = "incident_timer.dead_letter"
    reason: str
    detail: str
    source_topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    line: int | None = Field(default=None, description="Line number, for file input.")
    payload_base64: str = Field(description="The original bytes, base64-encoded.")
    rejected_at: datetime

    @field_validator("detail")
    @classmethod
    def _short(cls, value: str) -> str:
        return value[:2000]
