"""Five-field cron: our validator (clear messages, `L`), croniter for the fire times, a Chinese description.

Cron is minute hour day-of-month month day-of-week, on the local wall clock of the organisation's
zone, with `*`, lists, ranges, steps, month and weekday names and `L` (last day of the month) in
the day-of-month field. When both day fields are restricted a day matching either fires; a day
field that starts with `*` (`*`, `*/2`) leaves the other one to decide (Vixie cron).

croniter computes the fire times, but from the expression we re-write after validating it, never
from the text the author typed. Measured against croniter 7 (tests/engine/test_calendar.py):
- croniter reads a one-value range `9-9` as `*` (`0 9-9 * * *` fires every hour): the re-written
  expression lists values only;
- croniter treats `*/2` in a day field as restricted (day-of-month OR weekday); Vixie cron and we
  treat it as a star (AND): we pass croniter `day_or` accordingly;
- on the fall-back day croniter fires a wall time that occurs twice at both occurrences (a daily
  `0 2 * * *` in Europe/Berlin fires at 02:00 CEST and again at 02:00 CET): we skip the repeat, so every
  wall-clock time fires at most once, at its first occurrence. A time the spring-forward skips
  fires when the clock jumps (croniter: `30 2 * * *` → 03:00 CEST).
"""

from __future__ import annotations

import calendar as _std
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from croniter import croniter
from croniter.croniter import CroniterBadDateError

from engine.core.calendar.durations import TimerExpressionError

UTC = UTC

# Five fields; the first two (minute, hour) must look like cron, so that a five-word Python
# expression such as `a if b else c` is not mistaken for one.
CRON = re.compile(r"^[\d*,/\-]+\s+[\d*,/\-]+(\s+\S+){3}$")
# What a cron-minded author may type (Quartz seconds, `?`, `#`, `W`): recognised to be refused clearly.
CRONISH = re.compile(r"^[\d*,/\-?]+(\s+[\w*,/\-?#]+){3,6}$")

# The "never fires" check looks this far from 2000 (Feb 29 recurs within 8 years: 2096 → 2104);
# croniter searches this far ahead for a next fire (Feb 29 on a given weekday: within 28 years).
_HORIZON_DAYS = 366 * 9
_CRONITER_YEARS = 40

_MONTHS = {
    name: i
    for i, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)


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
    def parse(cls, text: str) -> Cron:
        fields = text.split()
        if len(fields) != 5:
            extra = " (a seconds or year field, Quartz style, is not supported)" if len(fields) in (6, 7) else ""
            raise TimerExpressionError(
                f"cron {text!r} has {len(fields)} fields; write 5: minute hour day-of-month month day-of-week{extra}"
            )
        values: list[set[int]] = []
        last_day = False
        for raw, (name, lo, hi, names) in zip(fields, _FIELDS):
            got, last = _cron_field(raw, name, lo, hi, names)
            last_day = last_day or last
            values.append(got)
        weekdays = {0 if d == 7 else d for d in values[4]}
        cron = cls(
            text,
            tuple(sorted(values[0])),
            tuple(sorted(values[1])),
            frozenset(values[2]),
            last_day,
            frozenset(values[3]),
            frozenset(weekdays),
            fields[2].startswith("*"),
            fields[4].startswith("*"),
        )
        if not cron._fires_within_horizon():
            raise TimerExpressionError(f"cron {text!r} never fires: no month of those has such a day")
        return cron

    # ---- what croniter is given --------------------------------------------------------------

    @property
    def canonical(self) -> str:
        """The expression as plain value lists (croniter misreads some forms, see the module)."""

        def join(values: Any) -> str:
            return ",".join(str(v) for v in sorted(values))

        days = join(self.days) + ("," if self.days and self.last_day else "") + ("L" if self.last_day else "")
        return " ".join((join(self.minutes), join(self.hours), days, join(self.months), join(self.weekdays)))

    def _iter(self, start: datetime, zone: Any) -> Any:
        return croniter(
            self.canonical,
            start.astimezone(zone),
            day_or=not (self.dom_star or self.dow_star),
            max_years_between_matches=_CRONITER_YEARS,
        )

    def next_after(self, t: datetime, zone: Any) -> datetime | None:
        """The first fire strictly after `t` (UTC)."""
        it = self._iter(t, zone)
        try:
            for _ in range(1000):
                x = it.get_next(datetime).astimezone(UTC)
                if x > t and not _repeated(x, zone):
                    return x
        except CroniterBadDateError:
            return None
        return None

    def last_at_or_before(self, t: datetime, zone: Any) -> datetime | None:
        """The latest fire at or before `t` (UTC)."""
        it = self._iter(t + timedelta(microseconds=1), zone)
        try:
            for _ in range(1000):
                x = it.get_prev(datetime).astimezone(UTC)
                if x <= t and not _repeated(x, zone):
                    return x
        except CroniterBadDateError:
            return None
        return None

    # ---- our own checks ----------------------------------------------------------------------

    def shortest_gap_seconds(self) -> int:
        """The shortest time between two fires: between fires of one day, or from a day's last
        fire to the next day's first (counted even if the next day does not match: cautious)."""
        times = sorted({h * 60 + m for h in self.hours for m in self.minutes})
        gaps = [b - a for a, b in pairwise(times)] + [1440 - times[-1] + times[0]]
        return min(gaps) * 60

    def _day_matches(self, d: date) -> bool:
        dom = d.day in self.days or (self.last_day and d.day == _std.monthrange(d.year, d.month)[1])
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def _fires_within_horizon(self) -> bool:
        d = date(2000, 1, 1)
        for _ in range(_HORIZON_DAYS):
            if d.month in self.months and self._day_matches(d):
                return True
            d += timedelta(days=1)
        return False


def _repeated(x: datetime, zone: Any) -> bool:
    """True for the second occurrence of a wall time the fall-back repeats."""
    wall = x.astimezone(zone).replace(tzinfo=None)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC) != x


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
                raise TimerExpressionError(
                    f"{where}: L (last day of the month) is supported only in the day-of-month field"
                )
            last = True
            continue
        if any("L" in token and token not in names for token in re.split(r"[-/]", item.upper())):
            if name != "day-of-month":
                raise TimerExpressionError(
                    f"{where}: L (last day of the month) is supported only in the day-of-month field"
                )
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
        raise TimerExpressionError(
            f"{where}: {text!r} is not a number" + (f" or a name ({', '.join(names)})" if names else "")
        )
    value = int(text)
    if not lo <= value <= hi:
        raise TimerExpressionError(f"{where}: {value} is outside {lo}-{hi}")
    return value


# ---- in words -----------------------------------------------------------------------------------

_WEEKDAYS_ZH = ("周日", "周一", "周二", "周三", "周四", "周五", "周六")


def _runs(values: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in values:
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _list_zh(values: list[int], fmt: Any) -> str:
    parts = [
        fmt(a) if a == b else f"{fmt(a)}至{fmt(b)}" if b > a + 1 else f"{fmt(a)}、{fmt(b)}"
        for a, b in _runs(sorted(values))
    ]
    return "、".join(parts)


def describe_zh(expression: str) -> str:
    """A cron expression in Chinese words, for pages: `0 9 1 1,4,7,10 *` → 每年1月、4月、7月、10月的1日 09:00."""
    c = Cron.parse(expression.strip())
    if len(c.months) == 12:
        months = "每月"
    else:
        months = "每年" + _list_zh(list(c.months), lambda m: f"{m}月") + "的"
    dom = _list_zh(list(c.days), lambda d: f"{d}日") if len(c.days) < 31 else ""
    if c.last_day:
        dom = (dom + "及" if dom else "") + "最后一天"
    dow = "" if len(c.weekdays) == 7 else _list_zh(list(c.weekdays), lambda d: _WEEKDAYS_ZH[d])
    if c.dom_star or c.dow_star:  # AND: a restricted star-step field still narrows
        days = f"{dom}且逢{dow}" if dom and dow else dom or dow
    else:  # OR: either field's days
        days = f"{dom}或{dow}" if dom and dow else ""
    if len(c.hours) == 24 and len(c.minutes) == 60:
        at = "每分钟"
    elif len(c.hours) == 24:
        at = "每小时第" + _list_zh(list(c.minutes), str) + "分"
    elif len(c.minutes) == 1:
        at = "、".join(f"{h:02d}:{c.minutes[0]:02d}" for h in c.hours)
    else:
        at = _list_zh(list(c.hours), lambda h: f"{h}时") + "的第" + _list_zh(list(c.minutes), str) + "分"
    if not days:
        return f"{months}每天 {at}" if months != "每月" else f"每天 {at}"
    if months == "每月" and not dom:
        return f"每{days} {at}"
    return f"{months}{days} {at}"
