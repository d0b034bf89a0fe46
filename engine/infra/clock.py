"""Injectable time.

Everything in the engine asks a Clock for the time, never `datetime.now()`, so that tests
can travel to 2027-01-01 09:00 and the scheduler can be driven tick by tick.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

UTC = UTC


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """The system clock shifted by a fixed offset (SANJI_CLOCK_OFFSET), for rehearsals and load
    tests that need every process — web workers and scheduler — at the same future date."""

    def __init__(self, offset_s: float) -> None:
        self.offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def clock_for(offset_s: float) -> Clock:
    """The clock a process runs on: the system clock, shifted when SANJI_CLOCK_OFFSET is set."""
    return OffsetClock(offset_s) if offset_s else SystemClock()


class FrozenClock:
    """A clock that only moves when told to; thread-safe so servers in tests can share it."""

    def __init__(self, start: datetime | str) -> None:
        self._lock = threading.Lock()
        self._now = _aware(start)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime | str) -> None:
        with self._lock:
            self._now = _aware(when)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._now = self._now + (delta or timedelta(**kwargs))
            return self._now


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError("clock times must carry a time zone")
    return value.astimezone(UTC)


def local(dt: datetime, tz: str | ZoneInfo) -> datetime:
    """`dt` seen in the organisation's time zone (Asia/Shanghai by default)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return dt.astimezone(zone)


def as_utc(dt: datetime) -> datetime:
    """Normalise to aware UTC; naive values are taken as UTC (as databases return them)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
