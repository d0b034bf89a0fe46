"""Timer expressions as written in the diagrams: recognise, validate.

Literal values are what process owners type in a modeler: ISO 8601 dates (`timeDate`),
durations (`timeDuration`), repeating intervals `R[n]/start/period` and 5-field cron
(`timeCycle`). Anything else is a (restricted) Python expression evaluated in the task's
data, SpiffWorkflow's convention (`"P10D"`, `month_end()`).
"""
from __future__ import annotations

import re
from datetime import datetime

from croniter import croniter

from .scripts import check_source

ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
ISO_CYCLE = re.compile(r"^R\d*/")
CRON = re.compile(r"^\S+(\s+\S+){4}$")


def is_literal(text: str) -> bool:
    t = text.strip()
    return bool(ISO_DURATION.match(t.upper()) or ISO_DATE.match(t) or ISO_CYCLE.match(t.upper())
                or (CRON.match(t) and not any(c in t for c in "()'\"")))


def validate_timer(kind: str, text: str | None) -> list[str]:
    """Problems with one timer definition; `kind` is timeDate, timeDuration or timeCycle."""
    t = (text or "").strip()
    if not t:
        return [f"{kind} is empty"]
    if not is_literal(t):
        return [f"{kind} expression: {e}" for e in check_source(t, "eval")]
    up = t.upper()
    if kind == "timeDuration":
        return [] if ISO_DURATION.match(up) else [f"timeDuration {t!r} is not an ISO 8601 duration such as P10D"]
    if kind == "timeDate":
        try:
            datetime.fromisoformat(t.replace("Z", "+00:00"))
            return []
        except ValueError:
            return [f"timeDate {t!r} is not an ISO 8601 date-time"]
    if kind == "timeCycle":
        if ISO_CYCLE.match(up):
            parts = up.split("/")
            if len(parts) not in (2, 3):
                return [f"timeCycle {t!r}: expected R[n]/start/period or R[n]/period"]
            period = parts[-1]
            if not ISO_DURATION.match(period):
                return [f"timeCycle {t!r}: {period!r} is not an ISO 8601 duration"]
            if len(parts) == 3:
                try:
                    datetime.fromisoformat(t.split("/")[1].replace("Z", "+00:00"))
                except ValueError:
                    return [f"timeCycle {t!r}: start {t.split('/')[1]!r} is not an ISO 8601 date-time"]
            return []
        if CRON.match(t):
            return [] if croniter.is_valid(t) else [f"timeCycle {t!r} is not a valid 5-field cron expression"]
        return [f"timeCycle {t!r} is neither R[n]/start/period nor 5-field cron"]
    return [f"unknown timer kind {kind}"]
