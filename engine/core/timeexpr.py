"""Moved to engine.core.calendar (issue 14, one calendar). This re-export keeps the imports of
modules being restructured in parallel (spiff.py, repository.py) working; delete it once they
import engine.core.calendar."""
from engine.core.calendar import (  # noqa: F401
    CRON,
    CRONISH,
    ISO_CYCLE,
    Cron,
    Duration,
    IsoCycle,
    Timer,
    TimerExpressionError,
    check_timer,
    is_literal,
    literal_text,
    make_timer,
    parse_datetime,
    validate_timer,
)
