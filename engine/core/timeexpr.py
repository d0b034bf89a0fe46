"""Timer expressions as written in the diagrams: recognise, validate, compute fire times.

Literal values are what process owners type in a modeler: ISO 8601 dates (`timeDate`),
durations (`timeDuration`), repeating intervals `R[n]/start/period` and 5-field cron
(`timeCycle`). Anything else is a (restricted) Python expression evaluated in the task's
data, SpiffWorkflow's convention (`"P10D"`, `month_end()`).

Calendar rules (the organisation's time zone, Asia/Shanghai by default):
- a duration's years, months, weeks and days are calendar units on the local wall clock
  (Jan 31 + P1M = Feb 28), its hours, minutes and seconds are elapsed time;
- the k-th fire of `R[n]/start/period` is `start + k × period`, computed from the start every
  time (never by adding the period to the previous fire, which drifts: Jan 31 → Feb 28 → Mar 28);
  `R[n]/period` counts from the moment the timer starts (the deployment, for a start event);
  `n` is the number of fires, `R` alone repeats forever;
- cron is minute hour day-of-month month day-of-week, evaluated on the local wall clock, with
  `*`, lists, ranges, steps, month and weekday names and `L` (last day of the month) in the
  day-of-month field; when both day fields are restricted a day matching either fires (Vixie cron).
"""
from __future__ import annotations

import ast
import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from engine.core.scripts import check_source

UTC = timezone.utc

ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
ISO_CYCLE = re.compile(r"^R\d*/")
# Five fields; the first two (minute, hour) must look like cron, so that a five-word Python
# expression such as `a if b else c` is not mistaken for one.
CRON = re.compile(r"^[\d*,/\-]+\s+[\d*,/\-]+(\s+\S+){3}$")
# What a cron-minded author may type (Quartz seconds, `?`, `#`, `W`): recognised to be refused clearly.
CRONISH = re.compile(r"^[\d*,/\-?]+(\s+[\w*,/\-?#]+){3,6}$")
_DURATION_PARTS = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")

# Cron search horizon: Feb 29 recurs within 8 years (2096 → 2104 skips a leap year).
_HORIZON_DAYS = 366 * 9
# The dates a timer may name, and its longest duration or period (issue 13: a timeDate of
# 0001-01-01 overflowed at deploy; a period of a second or a millisecond was accepted).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MAX_PERIOD_SECONDS = 100 * 365.2425 * 86400


class TimerExpressionError(ValueError):
    """A timer expression Sanji cannot schedule; the message says why, for the process owner."""


def is_literal(text: str) -> bool:
    t = text.strip()
    return bool(ISO_DURATION.match(t.upper()) or ISO_DATE.match(t) or ISO_CYCLE.match(t.upper())
                or (CRON.match(t) and not any(c in t for c in "()'\"")))


def literal_text(text: str | None) -> str | None:
    """The literal value of a timer expression: as typed, or the value of a quoted Python string
    (`"P10D"`, SpiffWorkflow's convention). None for any other expression."""
    t = (text or "").strip()
    if not t:
        return None
    if is_literal(t):
        return t
    try:
        value = ast.literal_eval(t)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value.strip() if isinstance(value, str) and is_literal(value) else None


# ---- durations --------------------------------------------------------------------------------

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
    def parse(cls, text: str) -> "Duration":
        m = _DURATION_PARTS.match(text.strip().upper())
        if not m or not ISO_DURATION.match(text.strip().upper()):
            raise TimerExpressionError(f"{text!r} is not an ISO 8601 duration such as P10D, P1M or PT2H")
        y, mo, w, d, h, mi, s = m.groups()
        return cls(int(y or 0), int(mo or 0), int(w or 0), int(d or 0), int(h or 0), int(mi or 0), float(s or 0))

    def approx_seconds(self) -> float:
        return (self.years * 365.2425 + self.months * 30.436875 + self.weeks * 7 + self.days) * 86400 \
            + self.hours * 3600 + self.minutes * 60 + self.seconds

    def add_to(self, start: datetime, zone: ZoneInfo, times: int = 1) -> datetime:
        """start + times × self: calendar units on the local wall clock, clock units elapsed."""
        local = start.astimezone(zone)
        shifted = local + relativedelta(years=self.years * times, months=self.months * times,
                                        weeks=self.weeks * times, days=self.days * times)
        # Re-attach the zone so the offset is the one valid on the new local date.
        shifted = shifted.replace(tzinfo=zone)
        clock_part = timedelta(hours=self.hours * times, minutes=self.minutes * times, seconds=self.seconds * times)
        return shifted.astimezone(UTC) + clock_part


def parse_datetime(text: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is local time in `zone`. Only years
    EARLIEST_YEAR…LATEST_YEAR: year 1 or 9999 overflow when converted between zones."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TimerExpressionError(f"{text!r} is not an ISO 8601 date-time such as 2027-01-01T09:00:00+08:00") from None
    if not EARLIEST_YEAR <= dt.year <= LATEST_YEAR:
        raise TimerExpressionError(f"{text!r} is outside {EARLIEST_YEAR}-01-01 … {LATEST_YEAR}-12-31, "
                                   "the dates a timer may name")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(UTC)


# ---- cron ---------------------------------------------------------------------------------------

_MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day-of-month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day-of-week", 0, 7, _DAYS))


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_star: bool
    dow_star: bool

    @classmethod
    def parse(cls, text: str) -> "Cron":
        fields = text.split()
        if len(fields) != 5:
            extra = " (a seconds or year field, Quartz style, is not supported)" if len(fields) in (6, 7) else ""
            raise TimerExpressionError(
                f"cron {text!r} has {len(fields)} fields; write 5: minute hour day-of-month month day-of-week{extra}")
        values: list[set[int]] = []
        last_day = False
        for raw, (name, lo, hi, names) in zip(fields, _FIELDS):
            got, last = _cron_field(raw, name, lo, hi, names)
            last_day = last_day or last
            values.append(got)
        weekdays = {0 if d == 7 else d for d in values[4]}
        cron = cls(text, tuple(sorted(values[0])), tuple(sorted(values[1])), frozenset(values[2]), last_day,
                   frozenset(values[3]), frozenset(weekdays), fields[2].startswith("*"), fields[4].startswith("*"))
        if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC), UTC) is None:
            raise TimerExpressionError(f"cron {text!r} never fires: no month of those has such a day")
        return cron

    def shortest_gap_seconds(self) -> int:
        """The shortest time between two fires: between fires of one day, or from a day's last
        fire to the next day's first (counted even if the next day does not match: cautious)."""
        times = sorted({h * 60 + m for h in self.hours for m in self.minutes})
        gaps = [b - a for a, b in zip(times, times[1:])] + [1440 - times[-1] + times[0]]
        return min(gaps) * 60

    def _day_matches(self, d: date) -> bool:
        dom = d.day in self.days or (self.last_day and d.day == calendar.monthrange(d.year, d.month)[1])
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def _days(self, start: date, step: int) -> Iterator[date]:
        d = start
        for _ in range(_HORIZON_DAYS):
            if d.month in self.months and self._day_matches(d):
                yield d
            d = d + timedelta(days=step)

    def _times(self, d: date, zone: Any, reverse: bool) -> Iterator[datetime]:
        hours = reversed(self.hours) if reverse else self.hours
        for h in hours:
            minutes = reversed(self.minutes) if reverse else self.minutes
            for m in minutes:
                yield datetime(d.year, d.month, d.day, h, m, tzinfo=zone).astimezone(UTC)

    def next_after(self, t: datetime, zone: Any) -> datetime | None:
        """The first fire strictly after `t`."""
        start = t.astimezone(zone).date()
        for d in self._days(start, 1):
            found = [x for x in self._candidates(d, zone, t, after=True)]
            if found:
                return min(found)
        return None

    def last_at_or_before(self, t: datetime, zone: Any) -> datetime | None:
        """The latest fire at or before `t`."""
        start = t.astimezone(zone).date()
        for d in self._days(start, -1):
            found = [x for x in self._candidates(d, zone, t, after=False)]
            if found:
                return max(found)
        return None

    def _candidates(self, d: date, zone: Any, t: datetime, after: bool) -> Iterator[datetime]:
        # On a day without an offset change local order is UTC order: stop at the first hit.
        day_start = datetime(d.year, d.month, d.day, tzinfo=zone)
        monotone = day_start.utcoffset() == (day_start + timedelta(days=1)).replace(tzinfo=zone).utcoffset()
        for x in self._times(d, zone, reverse=not after):
            if (x > t) if after else (x <= t):
                yield x
                if monotone:
                    return


def _cron_field(raw: str, name: str, lo: int, hi: int, names: dict[str, int]) -> tuple[set[int], bool]:
    where = f"cron {name} field {raw!r}"
    if any(c in raw for c in "?#") or (raw.upper().endswith("W") and raw.upper() not in names):
        raise TimerExpressionError(f"{where}: ?, # and W are Quartz syntax, not supported; use * or a list")
    out: set[int] = set()
    last = False
    for item in raw.split(","):
        if not item:
            raise TimerExpressionError(f"{where}: empty list item")
        if item.upper() == "L":
            if name != "day-of-month":
                raise TimerExpressionError(f"{where}: L (last day of the month) is supported only in the day-of-month field")
            last = True
            continue
        if any("L" in token and token not in names for token in re.split(r"[-/]", item.upper())):
            if name != "day-of-month":
                raise TimerExpressionError(f"{where}: L (last day of the month) is supported only in the day-of-month field")
            raise TimerExpressionError(f"{where}: only a plain L (last day of the month) is supported, not {item!r}")
        body, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise TimerExpressionError(f"{where}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if body == "*":
            first, final = lo, hi
            if name == "day-of-week":
                final = 6
        elif "-" in body:
            a, _, b = body.partition("-")
            first, final = _cron_value(a, where, lo, hi, names), _cron_value(b, where, lo, hi, names)
            if first > final:
                raise TimerExpressionError(f"{where}: range {body!r} runs backwards")
        else:
            first = _cron_value(body, where, lo, hi, names)
            final = (6 if name == "day-of-week" else hi) if step_text else first
        out.update(range(first, final + 1, step))
    return out, last


def _cron_value(text: str, where: str, lo: int, hi: int, names: dict[str, int]) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise TimerExpressionError(f"{where}: {text!r} is not a number" + (
            f" or a name ({', '.join(names)})" if names else ""))
    value = int(text)
    if not lo <= value <= hi:
        raise TimerExpressionError(f"{where}: {value} is outside {lo}-{hi}")
    return value


# ---- repeating intervals ------------------------------------------------------------------------

@dataclass(frozen=True)
class IsoCycle:
    """`R[n]/start/period` (first fire at start) or `R[n]/period` (first fire at anchor + period)."""

    count: int  # number of fires; -1 = forever
    start: datetime | None
    period: Duration

    @classmethod
    def parse(cls, text: str, zone: Any) -> "IsoCycle":
        parts = text.strip().split("/")
        head = parts[0].upper()
        if not head.startswith("R") or len(parts) not in (2, 3):
            raise TimerExpressionError(f"{text!r}: expected R[n]/start/period or R[n]/period")
        if head[1:] and not head[1:].isdigit():
            raise TimerExpressionError(f"{text!r}: the repetition count {head[1:]!r} is not a number")
        count = int(head[1:]) if head[1:] else -1
        if count == 0:
            raise TimerExpressionError(f"{text!r}: R0 never fires")
        if len(parts) == 3 and parts[1].upper().startswith("P"):
            raise TimerExpressionError(f"{text!r}: R[n]/period/end is not supported; write R[n]/start/period")
        period = Duration.parse(parts[-1])
        if period.approx_seconds() <= 0:
            raise TimerExpressionError(f"{text!r}: the period must be longer than zero")
        start = parse_datetime(parts[1], zone) if len(parts) == 3 else None
        return cls(count, start, period)

    def occurrence(self, base: datetime, k: int, zone: Any) -> datetime:
        return self.period.add_to(base, zone, k)

    def _bounds(self, anchor: datetime) -> tuple[datetime, int]:
        return (self.start, 0) if self.start is not None else (anchor, 1)

    def first_index_after(self, t: datetime, anchor: datetime, zone: Any) -> int:
        """Smallest fire index k (ignoring the count) whose time is strictly after t."""
        base, k0 = self._bounds(anchor)
        guess = math.floor((t - base).total_seconds() / self.period.approx_seconds())
        k = max(k0, guess)
        while k > k0 and self.occurrence(base, k - 1, zone) > t:
            k -= 1
        while self.occurrence(base, k, zone) <= t:
            k += 1
        return k

    def next_after(self, t: datetime, anchor: datetime, zone: Any) -> datetime | None:
        base, k0 = self._bounds(anchor)
        k = self.first_index_after(t, anchor, zone)
        if self.count >= 0 and k >= k0 + self.count:
            return None
        return self.occurrence(base, k, zone)

    def last_at_or_before(self, t: datetime, anchor: datetime, zone: Any) -> datetime | None:
        base, k0 = self._bounds(anchor)
        k = self.first_index_after(t, anchor, zone) - 1
        if self.count >= 0:
            k = min(k, k0 + self.count - 1)
        return self.occurrence(base, k, zone) if k >= k0 else None

    def remaining_after(self, t: datetime, anchor: datetime, zone: Any) -> int:
        """Fires still to come after t (-1 = forever)."""
        if self.count < 0:
            return -1
        _base, k0 = self._bounds(anchor)
        return max(0, k0 + self.count - self.first_index_after(t, anchor, zone))


# ---- one timer, any kind ------------------------------------------------------------------------

@dataclass(frozen=True)
class Timer:
    """The fire times of one timer definition.

    `anchor` is when the timer starts counting: the deployment for a start event, the moment
    the task starts waiting inside an instance. `timeDuration` fires once at anchor + duration,
    `timeDate` once at its date, `timeCycle` at every occurrence of the cycle or cron.
    """

    kind: str
    expression: str
    zone: Any
    anchor: datetime

    @property
    def _parsed(self) -> Any:
        return _parse(self.kind, self.expression, self.zone)

    def next_after(self, t: datetime) -> datetime | None:
        p = self._parsed
        if isinstance(p, Cron):
            return p.next_after(t, self.zone)
        if isinstance(p, IsoCycle):
            return p.next_after(t, self.anchor, self.zone)
        once = p if isinstance(p, datetime) else p.add_to(self.anchor, self.zone)
        return once if once > t else None

    def at_or_after(self, t: datetime) -> datetime | None:
        return self.next_after(t - timedelta(microseconds=1))

    def first_due(self) -> datetime | None:
        """The first fire: a one-off is due even if its date has passed (the scheduler then
        applies the misfire grace); a cycle's first fire is at or after the anchor."""
        p = self._parsed
        if isinstance(p, datetime):
            return p
        if isinstance(p, Duration):
            return p.add_to(self.anchor, self.zone)
        return self.at_or_after(self.anchor)

    def last_at_or_before(self, t: datetime) -> datetime | None:
        p = self._parsed
        if isinstance(p, Cron):
            return p.last_at_or_before(t, self.zone)
        if isinstance(p, IsoCycle):
            return p.last_at_or_before(t, self.anchor, self.zone)
        once = p if isinstance(p, datetime) else p.add_to(self.anchor, self.zone)
        return once if once <= t else None

    def remaining_after(self, t: datetime) -> int:
        p = self._parsed
        if isinstance(p, Cron):
            return -1
        if isinstance(p, IsoCycle):
            return p.remaining_after(t, self.anchor, self.zone)
        return 1 if self.next_after(t) is not None else 0

    def upcoming(self, first: datetime | None, n: int) -> list[datetime]:
        """`first` (a due fire, included) and the fires after it, at most n."""
        out: list[datetime] = []
        current = first
        while current is not None and len(out) < n:
            out.append(current)
            current = self.next_after(current)
        return out


_CACHE: dict[tuple[str, str, str], Any] = {}


def _parse(kind: str, expression: str, zone: Any) -> Any:
    key = (kind, expression, str(zone))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    t = expression.strip()
    if kind == "timeDate":
        value: Any = parse_datetime(t, zone)
    elif kind == "timeDuration":
        value = Duration.parse(t)
    elif kind == "timeCycle":
        if ISO_CYCLE.match(t.upper()):
            value = IsoCycle.parse(t, zone)
        elif CRON.match(t) or CRONISH.match(t):
            value = Cron.parse(t)
        else:
            raise TimerExpressionError(f"timeCycle {t!r} is neither R[n]/start/period nor 5-field cron")
    else:
        raise TimerExpressionError(f"unknown timer kind {kind}")
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = value
    return value


def make_timer(kind: str, expression: str, zone: Any, anchor: datetime) -> Timer:
    """A Timer after checking the expression parses (raises TimerExpressionError)."""
    _parse(kind, expression, zone)
    return Timer(kind, expression.strip(), zone, anchor)


# ---- bounds: how often a timer may fire ------------------------------------------------------------

def _span(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}" + ("s" if n > 1 else "")
    return f"{seconds:g} s"


def bound_problems(kind: str, expression: str, zone: Any, min_seconds: float) -> list[str]:
    """What breaks Sanji's bounds in a timer that parses: a duration or a cycle's period shorter
    than `min_seconds` (SANJI_TIMER_MIN_SECONDS) or longer than 100 years (dates are checked
    by `parse_datetime`). A cycle that fires once has no period."""
    parsed = _parse(kind, expression, zone)
    if isinstance(parsed, Cron):
        seconds: float | None = parsed.shortest_gap_seconds()
        what = f"cron {expression.strip()!r} fires every {_span(seconds)} at the shortest"
    elif isinstance(parsed, IsoCycle):
        seconds = parsed.period.approx_seconds() if parsed.count != 1 else None
        what = f"timeCycle {expression.strip()!r} repeats every {_span(seconds or 0)}"
    elif isinstance(parsed, Duration):
        seconds = parsed.approx_seconds()
        what = f"timeDuration {expression.strip()!r} is {_span(seconds)}"
    else:
        return []
    if seconds is None:
        return []
    if seconds < min_seconds:
        return [f"{what}; the shortest timer allowed is {_span(min_seconds)} (SANJI_TIMER_MIN_SECONDS)"]
    if seconds > MAX_PERIOD_SECONDS:
        return [f"{what}; a timer may not be longer than 100 years"]
    return []


def check_timer(kind: str, expression: str, zone: Any, min_seconds: float) -> None:
    """Raise TimerExpressionError if a timer value computed at run time breaks the bounds."""
    problems = bound_problems(kind, expression, zone, min_seconds)
    if problems:
        raise TimerExpressionError(problems[0])


# ---- deploy-time validation -----------------------------------------------------------------------

def validate_timer(kind: str, text: str | None, *, start_event: bool = False, min_seconds: float = 0.0) -> list[str]:
    """Problems with one timer definition; `kind` is timeDate, timeDuration or timeCycle.

    A timer start event is scheduled at deploy, when there is no process data: its expression
    must be a literal (or a quoted Python string). A literal must respect the bounds (see
    `bound_problems`); an expression is checked when it is computed, at run time.
    """
    t = (text or "").strip()
    if not t:
        return [f"{kind} is empty"]
    literal = literal_text(t)
    if literal is None:
        if kind == "timeCycle" and CRONISH.match(t):
            try:
                Cron.parse(t)
            except TimerExpressionError as exc:
                return [f"timeCycle: {exc}"]
        if start_event:
            return [f"{kind} {t!r} of a timer start event must be a literal value (an ISO 8601 date, duration, "
                    "R[n]/start/period or 5-field cron): it is scheduled at deploy, without process data"]
        return [f"{kind} expression: {e}" for e in check_source(t, "eval")]
    try:
        return bound_problems(kind, literal, ZoneInfo("UTC"), min_seconds)
    except TimerExpressionError as exc:
        return [f"{kind}: {exc}"]
