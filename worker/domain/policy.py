"""The SLA policy: targets per plan and severity, calendars, regions, holidays.

The built-in default is SPEC section 1. A policy file (YAML) replaces any of the
top-level keys; every value is validated at start-up, and a bad file is refused
with a message naming the bad key (``PolicyError``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from worker.domain.support_time import AlwaysOpen, Calendar, SupportHours

Severity = Literal["S1", "S2", "S3", "S4"]
Plan = Literal["standard", "premium"]
SEVERITIES: tuple[Severity, ...] = ("S1", "S2", "S3", "S4")
PLANS: tuple[Plan, ...] = ("standard", "premium")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "always"


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration such as PT30M")
    return value


PositiveDuration = Annotated[timedelta, Field(description="ISO 8601 duration, e.g. PT30M")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """One severity's promise under one plan."""

    response: PositiveDuration
    update_every: PositiveDuration | None = None

    _check_response = field_validator("response")(_positive)

    @field_validator("update_every")
    @classmethod
    def _check_update_every(cls, value: timedelta | None) -> timedelta | None:
        return None if value is None else _positive(value)


class Period(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.to < self.from_:
            raise ValueError(f"period ends ({self.to}) before it starts ({self.from_})")
        return self


class Holidays(_Strict):
    """A region's holiday days: a country's public holidays plus extra whole days."""

    country: str | None = None
    subdivision: str | None = None
    dates: list[date] = []
    periods: list[Period] = []

    @model_validator(mode="after")
    def _known_country(self) -> Holidays:
        if self.country is not None:
            try:
                holidays.country_holidays(self.country, subdiv=self.subdivision)
            except NotImplementedError as exc:
                raise ValueError(f"unknown holiday country {self.country!r}") from exc
        elif self.subdivision is not None:
            raise ValueError("subdivision needs a country")
        return self


class Region(_Strict):
    timezone: str
    holidays: Holidays = Holidays()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def _minutes(value: str) -> int:
    match = _CLOCK.match(value)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 24:00)")
    return int(match.group(1)) * 60 + int(match.group(2))


class WorkingWeek(_Strict):
    """Open hours of a support-hours calendar, in the region's local time."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = [
        "mon", "tue", "wed", "thu", "fri",
    ]
    opens: str = "00:00"
    closes: str = "24:00"

    @model_validator(mode="after")
    def _valid(self) -> WorkingWeek:
        if not self.days:
            raise ValueError("a calendar needs at least one open day")
        if _minutes(self.opens) >= _minutes(self.closes):
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


def _default_plans() -> dict[str, dict[str, Target]]:
    m = lambda n: timedelta(minutes=n)  # noqa: E731
    h = lambda n: timedelta(hours=n)  # noqa: E731
    return {
        "premium": {
            "S1": Target(response=m(20), update_every=m(30)),
            "S2": Target(response=m(90)),
            "S3": Target(response=h(6)),
            "S4": Target(response=h(24)),
        },
        "standard": {
            "S1": Target(response=m(60)),
            "S2": Target(response=m(180)),
            "S3": Target(response=h(12)),
            "S4": Target(response=h(48)),
        },
    }


def _default_regions() -> dict[str, Region]:
    return {
        "eu": Region(timezone="Europe/Berlin", holidays=Holidays(country="DE")),
        "us": Region(timezone="America/New_York", holidays=Holidays(country="US")),
        "apac": Region(timezone="Asia/Singapore", holidays=Holidays(country="SG")),
    }


class Policy(_Strict):
    """The whole SLA policy. ``Policy()`` is the built-in default (SPEC 1)."""

    plans: dict[Plan, dict[Severity, Target]] = Field(default_factory=_default_plans)
    hours: dict[Severity, str] = Field(
        default_factory=lambda: {"S1": ALWAYS, "S2": ALWAYS, "S3": "support_hours", "S4": "support_hours"}
    )
    calendars: dict[str, WorkingWeek] = Field(default_factory=lambda: {"support_hours": WorkingWeek()})
    regions: dict[str, Region] = Field(default_factory=_default_regions)
    default_region: str = "eu"
    severity_change: Literal["recompute_from_open", "restart_at_change"] = "recompute_from_open"

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        for plan in PLANS:
            if plan not in self.plans:
                raise ValueError(f"plans.{plan}: missing")
            for severity in SEVERITIES:
                if severity not in self.plans[plan]:
                    raise ValueError(f"plans.{plan}.{severity}: missing")
        for severity in SEVERITIES:
            name = self.hours.get(severity)
            if name is None:
                raise ValueError(f"hours.{severity}: missing")
            if name != ALWAYS and name not in self.calendars:
                raise ValueError(
                    f"hours.{severity}: unknown calendar {name!r} (use 'always' or a key of calendars)"
                )
        if ALWAYS in self.calendars:
            raise ValueError(f"calendars.{ALWAYS}: reserved name")
        if not self.regions:
            raise ValueError("regions: at least one region is needed")
        if self.default_region not in self.regions:
            raise ValueError(f"default_region: {self.default_region!r} is not a key of regions")
        return self

    def target(self, plan: str, severity: str) -> Target:
        return self.plans[plan][severity]  # type: ignore[index]

    def calendar(self, severity: str, region: str) -> Calendar:
        """The calendar that counts time for ``severity`` in ``region`` (cached)."""
        key = (self.hours[severity], region)  # type: ignore[index]
        try:
            return self._calendars[key]
        except KeyError:
            calendar = self._build_calendar(*key)
            self._calendars[key] = calendar
            return calendar

    @cached_property
    def _calendars(self) -> dict[tuple[str, str], Calendar]:
        return {}

    def _build_calendar(self, name: str, region_name: str) -> Calendar:
        if name == ALWAYS:
            return AlwaysOpen()
        week = self.calendars[name]
        region = self.regions[region_name]
        return SupportHours(
            tz=ZoneInfo(region.timezone),
            open_weekdays=frozenset(WEEKDAYS.index(day) for day in week.days),
            is_holiday=_holiday_test(region.holidays),
            opens_minute=_minutes(week.opens),
            closes_minute=_minutes(week.closes),
        )


def _holiday_test(spec: Holidays):
    extra = set(spec.dates)
    periods = [(p.from_, p.to) for p in spec.periods]
    country = (
        holidays.country_holidays(spec.country, subdiv=spec.subdivision)
        if spec.country is not None
        else None
    )

    def is_holiday(day: date) -> bool:
        if day in extra or any(a <= day <= b for a, b in periods):
            return True
        return country is not None and day in country

    return is_holiday


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the bad key."""


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_policy(data: Any, source: str = "policy") -> Policy:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the top level must be a mapping of keys such as plans, hours, regions")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            location = _location(error["loc"])
            problems.append(message if location == "(top level)" else f"{location}: {message}")
        raise PolicyError(f"{source}: invalid policy: " + "; ".join(problems)) from None


def load_policy(path: str | Path | None) -> Policy:
    """The policy in ``path`` (YAML), or the built-in default when ``path`` is None."""
    if path is None:
        return Policy()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    return parse_policy(data, source=str(path))
