"""The one calendar: durations, due dates, months and quarters, cron and timer fire times.

Every date computation of Sanji goes through here: BPMN timers (`timeDate`, `timeDuration`,
`timeCycle`, engine/core/spiff.py and schedules.py), task deadlines (`dueIn`, `dueAt`), the
script date helpers (engine/core/scripts.py), the linkage reports, dashboards and study rates.

The rule for durations (durations.py), in the organisation's zone (Asia/Shanghai by default):
date units (Y, M, W, D) move the local wall-clock date and keep the time of day (P1D = same
local time tomorrow, Jan 31 + P1M = Feb 28); time units (H, M, S) are elapsed time (PT24H =
24 real hours, 23 or 25 on the clock across a DST change). Cron (cron.py) is evaluated on the
local wall clock; croniter computes its fire times from our validated form.

- durations.py: Duration, add_duration, parse_datetime, due_from
- periods.py: months and quarters (quarter_of, quarter_bounds, month_end, add_months, …)
- cron.py: Cron (validator, `L`, fire times through croniter), describe_zh
- timers.py: literal detection, R[n]/start/period, Timer, deploy-time validation and bounds
"""

from __future__ import annotations

from engine.core.calendar.cron import CRON, CRONISH, Cron, describe_zh
from engine.core.calendar.durations import (
    EARLIEST_YEAR,
    ISO_DATE,
    ISO_DURATION,
    LATEST_YEAR,
    MAX_PERIOD_SECONDS,
    UTC,
    Duration,
    TimerExpressionError,
    add_duration,
    due_from,
    end_of_day,
    parse_datetime,
)
from engine.core.calendar.periods import (
    add_months,
    days_in_month,
    month_bounds,
    month_end,
    month_start,
    next_quarter,
    previous_quarter,
    quarter_bounds,
    quarter_end,
    quarter_label,
    quarter_months,
    quarter_of,
    quarter_start,
)
from engine.core.calendar.timers import (
    ISO_CYCLE,
    IsoCycle,
    Timer,
    bound_problems,
    check_timer,
    is_cron,
    is_literal,
    literal_text,
    make_timer,
    validate_timer,
)

__all__ = [
    "CRON",
    "CRONISH",
    "EARLIEST_YEAR",
    "ISO_CYCLE",
    "ISO_DATE",
    "ISO_DURATION",
    "LATEST_YEAR",
    "MAX_PERIOD_SECONDS",
    "UTC",
    "Cron",
    "Duration",
    "IsoCycle",
    "Timer",
    "TimerExpressionError",
    "add_duration",
    "add_months",
    "bound_problems",
    "check_timer",
    "days_in_month",
    "describe_zh",
    "due_from",
    "end_of_day",
    "is_cron",
    "is_literal",
    "literal_text",
    "make_timer",
    "month_bounds",
    "month_end",
    "month_start",
    "next_quarter",
    "parse_datetime",
    "previous_quarter",
    "quarter_bounds",
    "quarter_end",
    "quarter_label",
    "quarter_months",
    "quarter_of",
    "quarter_start",
    "validate_timer",
]
