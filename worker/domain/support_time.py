"""Support-time arithmetic: how much *countable* time lies between instants.

A calendar answers two questions for one severity in one region:

* ``add(start, target)``: the earliest instant at which ``target`` of countable
  time has elapsed since ``start`` (SPEC 3.1);
* ``elapsed(start, end)``: how much countable time lies in ``[start, end)``.

Support-hours calendars walk *open intervals* (runs of open local days merged
end to start), never minutes, so a 48-hour target across a long holiday costs
a handful of steps. All arithmetic is on UTC instants, so a 23- or 25-hour
local day across a daylight-saving change counts what really elapsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
# A calendar that stays closed this long is broken (for example every day a
# holiday); refuse rather than walk forever.
MAX_CLOSED_DAYS = 3660
# Open runs are handed out in pieces of at most this many days, so a calendar
# open around the clock every day still yields (adjacent pieces add up exactly).
MAX_RUN_DAYS = 7


class Calendar(Protocol):
    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def elapsed(self, start: datetime, end: datetime) -> timedelta: ...


class AlwaysOpen:
    """24/7: countable time is plain elapsed time."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start.astimezone(timezone.utc) + duration

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return end - start  # aware datetimes subtract as real elapsed time

    def __repr__(self) -> str:
        return "AlwaysOpen()"


class CalendarClosedError(ValueError):
    """The calendar has no open time within MAX_CLOSED_DAYS of an instant."""


class SupportHours:
    """Open on some weekdays between two local times, minus holiday days.

    ``opens_minute``/``closes_minute`` count minutes from local midnight;
    ``closes_minute == 1440`` means the day is open to 24:00, which merges with
    the next day when that one opens at 00:00 (24/5 support: one interval from
    Monday 00:00 to Saturday 00:00).
    """

    def __init__(
        self,
        tz: ZoneInfo,
        open_weekdays: frozenset[int],
        is_holiday: Callable[[date], bool],
        opens_minute: int = 0,
        closes_minute: int = 24 * 60,
    ) -> None:
        if not 0 <= opens_minute < closes_minute <= 24 * 60:
            raise ValueError("opening time must be before closing time within one day")
        if not open_weekdays:
            raise ValueError("a support-hours calendar needs at least one open weekday")
        self.tz = tz
        self.open_weekdays = open_weekdays
        self.is_holiday = is_holiday
        self.opens_minute = opens_minute
        self.closes_minute = closes_minute
        self._day_cache: dict[date, tuple[datetime, datetime] | None] = {}

    def __repr__(self) -> str:
        return (
            f"SupportHours(tz={self.tz.key!r}, weekdays={sorted(self.open_weekdays)}, "
            f"opens={self.opens_minute}, closes={self.closes_minute})"
        )

    def _local_instant(self, day: date, minute: int) -> datetime:
        day = day + timedelta(days=minute // 1440)
        minute %= 1440
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)
        return local.astimezone(timezone.utc)

    def _day_interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The open UTC interval of one local day, or None when it is closed."""
        try:
            return self._day_cache[day]
        except KeyError:
            pass
        interval = None
        if day.weekday() in self.open_weekdays and not self.is_holiday(day):
            opens = self._local_instant(day, self.opens_minute)
            closes = self._local_instant(day, self.closes_minute)
            if opens < closes:  # an opening hour inside a daylight-saving gap can swallow the day
                interval = (opens, closes)
        self._day_cache[day] = interval
        return interval

    def open_intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ``[a, b)`` with ``b > start``, in order, merged end to start."""
        day = start.astimezone(self.tz).date() - ONE_DAY  # the previous day may still be open
        run: tuple[datetime, datetime] | None = None
        run_days = 0
        closed_days = 0
        while True:
            interval = self._day_interval(day)
            day += ONE_DAY
            if interval is None:
                if run is not None:
                    if run[1] > start:
                        yield run
                    run = None
                closed_days += 1
                if closed_days > MAX_CLOSED_DAYS:
                    raise CalendarClosedError(
                        f"no open support time within {MAX_CLOSED_DAYS} days after {start.isoformat()}"
                    )
                continue
            closed_days = 0
            if run is not None and interval[0] == run[1] and run_days < MAX_RUN_DAYS:
                run = (run[0], interval[1])
                run_days += 1
                continue
            if run is not None and run[1] > start:
                yield run
            run = interval
            run_days = 1

    def add(self, start: datetime, duration: timedelta) -> datetime:
        if duration < ZERO:
            raise ValueError("duration must not be negative")
        start = start.astimezone(timezone.utc)
        if duration == ZERO:
            return start
        remaining = duration
        for a, b in self.open_intervals(start):
            a = max(a, start)
            available = b - a
            if remaining <= available:
                return a + remaining
            remaining -= available
        raise AssertionError("open_intervals is infinite")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
        if end < start:
            return -self.elapsed(end, start)
        total = ZERO
        for a, b in self.open_intervals(start):
            if a >= end:
                break
            total += min(b, end) - max(a, start)
        return total
