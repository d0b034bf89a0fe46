"""Timer expressions in words for Chinese readers: cron (engine/core/calendar describe_zh), ISO 8601
durations (P3D → 3天) and cycles (R/PT1H → 每1小时). Other languages, and what cannot be read, keep
the expression itself."""

from __future__ import annotations

import re

from engine.core.calendar import describe_zh, is_cron

from .base import current_language

_DURATION = re.compile(
    r"^P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)
_UNITS = (("Y", "年"), ("M", "个月"), ("W", "周"), ("D", "天"), ("h", "小时"), ("m", "分钟"), ("s", "秒"))
KINDS_ZH = {"timeCycle": "周期", "timeDate": "定时", "timeDuration": "延时"}
ZONES_ZH = {"Asia/Shanghai": "北京时间"}


def duration_zh(text: str) -> str | None:
    """`P1DT12H` → 1天12小时; None when it is not a duration."""
    m = _DURATION.match(text.strip())
    if not m or text.strip() in ("P", "PT"):
        return None
    parts = [f"{int(m.group(k))}{word}" for k, word in _UNITS if m.group(k)]
    return "".join(parts) or None


def timer_words(expression: str | None) -> str | None:
    """The expression in words on a Chinese page; None when there are none."""
    if not expression or not current_language().startswith("zh"):
        return None
    text = expression.strip()
    try:
        if is_cron(text):
            return describe_zh(text)
    except Exception:
        return None
    if text.startswith("R"):
        head, _, rest = text.partition("/")
        period = duration_zh(rest.split("/")[-1]) if rest else None
        if period:
            times = head[1:]
            return f"每{period}" + (f"，共{times}次" if times else "")
        return None
    return duration_zh(text)


def kind_words(kind: str) -> str:
    return KINDS_ZH.get(kind, kind) if current_language().startswith("zh") else kind


def zone_words(zone: str) -> str:
    return ZONES_ZH.get(zone, zone) if current_language().startswith("zh") else zone
