"""Timer expressions as written in the diagrams: recognise, validate, compute fire times.

Literal values are what process owners type in a modeler: ISO 8601 dates (`timeDate`),
durations (`timeDuration`), repeating intervals `R[n]/start/period` and 5-field cron
(`timeCycle`). Anything else is a (restricted) Python expression evaluated in the task's
data, SpiffWorkflow's convention (`"P10D"`, `month_end()`).

The k-th fire of `R[n]/start/period` is `start + k × period` (durations.py's rule), computed from
the start every time (never by adding the period to the previous fire, which drifts: Jan 31 →
Feb 28 → Mar 28); `R[n]/period` counts from the moment the timer starts (the deployment, for a
start event); `n` is the number of fires, `R` alone repeats forever. Cron: see cron.py.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.core.calendar.cron import CRON, CRONISH, Cron
from engine.core.calendar.durations import (
    ISO_DATE,
    ISO_DURATION,
    MAX_PERIOD_SECONDS,
    Duration,
    TimerExpressionError,
    parse_datetime,
)

ISO_CYCLE = re.compile(r"^R\d*/")


def is_literal(text: str) -> bool:
    t = text.strip()
    return bool(
        ISO_DURATION.match(t.upper())
        or ISO_DATE.match(t)
        or ISO_CYCLE.match(t.upper())
        or (CRON.match(t) and not any(c in t for c in "()'\""))
    )


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


def is_cron(expression: str) -> bool:
    text = expression.strip()
    return bool(CRON.match(text)) and not ISO_CYCLE.match(text.upper())


# ---- repeating intervals ------------------------------------------------------------------------


@dataclass(frozen=True)
class IsoCycle:
    """`R[n]/start/period` (first fire at start) or `R[n]/period` (first fire at anchor + period)."""

    count: int  # number of fires; -1 = forever
    start: datetime | None
    period: Duration

    @classmethod
    def parse(cls, text: str, zone: Any) -> IsoCycle:
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
        gap = parsed.shortest_gap_seconds()
        seconds: float | None = gap
        what = f"cron {expression.strip()!r} fires every {_span(gap)} at the shortest"
    elif isinstance(parsed, IsoCycle):
        seconds = parsed.period.approx_seconds() if parsed.count != 1 else None
        what = f"timeCycle {expression.strip()!r} repeats every {_span(seconds or 0)}"
    elif isinstance(parsed, Duration):
        span = parsed.approx_seconds()
        seconds = span
        what = f"timeDuration {expression.strip()!r} is {_span(span)}"
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
            return [
                f"{kind} {t!r} of a timer start event must be a literal value (an ISO 8601 date, duration, "
                "R[n]/start/period or 5-field cron): it is scheduled at deploy, without process data"
            ]
        from engine.core.scripts import check_source  # scripts uses the calendar: import late

        return [f"{kind} expression: {e}" for e in check_source(t, "eval")]
    try:
        return bound_problems(kind, literal, ZoneInfo("UTC"), min_seconds)
    except TimerExpressionError as exc:
        return [f"{kind}: {exc}"]
