"""Durations, date-times and due dates: the one rule for adding an ISO 8601 duration.

The rule (java.time's Period + Duration, ISO 8601 "nominal" date units):
- years, months, weeks and days move the local wall-clock date in the organisation's zone and
  keep the local time of day: P1D from 12:00 is 12:00 the next day, also across a DST change
  (23 or 25 real hours); Jan 31 + P1M = Feb 28 (29): the day is clamped to the month's end;
- hours, minutes and seconds are elapsed time: PT24H is 24 real hours, whatever the clock says;
- the date part is applied first, then the time part (P1DT2H = next day same time, plus 2 h);
- a local time the spring-forward skips moves forward by the gap (02:30 → 03:30 CEST); a local
  time the fall-back repeats means its first occurrence (zoneinfo's fold=0, like java.time).

Timers (`timeDuration`, cycles), `dueIn` and the script helpers all add durations here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

UTC = UTC

ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DURATION_PARTS = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)

# The dates a timer may name, and its longest duration or period (issue 13: a timeDate of
# 0001-01-01 overflowed at deploy; a period of a second or a millisecond was accepted).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MAX_PERIOD_SECONDS = 100 * 365.2425 * 86400


class TimerExpressionError(ValueError):
    """A timer expression Sanji cannot schedule; the message says why, for the process owner."""


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = _DURATION_PARTS.match(text.strip().upper())
        if not m or not ISO_DURATION.match(text.strip().upper()):
            raise TimerExpressionError(f"{text!r} is not an ISO 8601 duration such as P10D, P1M or PT2H")
        y, mo, w, d, h, mi, s = m.groups()
        return cls(int(y or 0), int(mo or 0), int(w or 0), int(d or 0), int(h or 0), int(mi or 0), float(s or 0))

    def approx_seconds(self) -> float:
        """For bounds only (is a period too short / too long): a month counts 30.44 days."""
        return (
            (self.years * 365.2425 + self.months * 30.436875 + self.weeks * 7 + self.days) * 86400
            + self.hours * 3600
            + self.minutes * 60
            + self.seconds
        )

    def add_to(self, start: datetime, zone: Any, times: int = 1) -> datetime:
        """start + times × self (see the module's rule); the result is in UTC.

        `times` multiplies the duration before adding it (the k-th fire of a cycle is
        start + k × period, never period added k times: Jan 31 → Feb 28 → Mar 31)."""
        local = start.astimezone(zone)
        shifted = local + relativedelta(
            years=self.years * times, months=self.months * times, weeks=self.weeks * times, days=self.days * times
        )
        # Re-attach the zone (fold=0) so the offset is the one valid on the new local date.
        shifted = shifted.replace(tzinfo=zone, fold=0)
        clock_part = timedelta(hours=self.hours * times, minutes=self.minutes * times, seconds=self.seconds * times)
        return shifted.astimezone(UTC) + clock_part


def add_duration(start: datetime, expression: str, zone: Any) -> datetime:
    """start + an ISO 8601 duration (`dueIn`, `timeDuration`), by the module's rule, in UTC."""
    return Duration.parse(expression).add_to(start, zone)


def parse_datetime(text: str, zone: Any) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is local time in `zone`. Only years
    EARLIEST_YEAR…LATEST_YEAR: year 1 or 9999 overflow when converted between zones."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TimerExpressionError(f"{text!r} is not an ISO 8601 date-time such as 2027-01-01T09:00:00+08:00") from None
    if not EARLIEST_YEAR <= dt.year <= LATEST_YEAR:
        raise TimerExpressionError(
            f"{text!r} is outside {EARLIEST_YEAR}-01-01 … {LATEST_YEAR}-12-31, the dates a timer may name"
        )
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(UTC)


def end_of_day(d: date, zone: Any) -> datetime:
    """The last second of a local day: a due date without a time is due by the end of that day."""
    return datetime.combine(d, time(23, 59, 59), zone)


def due_from(value: Any, zone: Any) -> datetime:
    """A `dueAt` value: a datetime (naive = local), a date `YYYY-MM-DD` (due by the end of that
    local day) or an ISO date-time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return end_of_day(value, zone)
    text = str(value)
    if len(text) == 10:
        return end_of_day(datetime.fromisoformat(text).date(), zone)
    return parse_datetime(text, zone)
