"""Months and quarters: the one place that knows Q1 is January-March and Jan 31 + 1 month is Feb 28.

Used by the script helpers (`quarter_of`, `month_end`, …), the dashboards, the linkage
reports and study rates. Pure date arithmetic: no zone (the caller passes a local date).
"""

from __future__ import annotations

import calendar as _std
from datetime import date


def days_in_month(year: int, month: int) -> int:
    return _std.monthrange(year, month)[1]


def add_months(d: date, n: int) -> date:
    """d + n calendar months, the day clamped to the month's end (Jan 31 + 1 = Feb 28/29)."""
    m = d.month - 1 + n
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, days_in_month(y, m)))


def month_start(d: date) -> date:
    return d.replace(day=1)


def month_end(d: date) -> date:
    return d.replace(day=days_in_month(d.year, d.month))


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First and last day of a month."""
    return date(year, month, 1), date(year, month, days_in_month(year, month))


def quarter_of(d: date) -> int:
    """1-4: Q1 = January-March."""
    return (d.month - 1) // 3 + 1


def quarter_months(quarter: int) -> tuple[int, int, int]:
    """The three months of a quarter: Q2 → (4, 5, 6)."""
    first = 3 * quarter - 2
    return first, first + 1, first + 2


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a quarter (Q1 2027 → 2027-01-01, 2027-03-31)."""
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter {quarter} is not 1-4")
    months = quarter_months(quarter)
    return month_bounds(year, months[0])[0], month_bounds(year, months[2])[1]


def quarter_start(d: date) -> date:
    return quarter_bounds(d.year, quarter_of(d))[0]


def quarter_end(d: date) -> date:
    return quarter_bounds(d.year, quarter_of(d))[1]


def previous_quarter(year: int, quarter: int) -> tuple[int, int]:
    """(year, quarter) before: Q1 2027 → (2026, 4)."""
    return (year - 1, 4) if quarter == 1 else (year, quarter - 1)


def next_quarter(year: int, quarter: int) -> tuple[int, int]:
    """(year, quarter) after: Q4 2027 → (2028, 1)."""
    return (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def quarter_label(year: int, quarter: int) -> str:
    """The key reports and records use: 2027-Q1."""
    return f"{year}-Q{quarter}"
