"""Log output: one JSON object per line on stderr, times in UTC, no secrets.

Two kinds of lines matter to operators (docs/deployment.md):

- `sanji.request`: one per HTTP request — method, path (without the query string), status,
  duration_ms, user, request_id, remote_addr;
- `sanji.events`: one per row written to `event_log`, emitted when the transaction that wrote it
  commits — event_id, type, at, instance_id, task_id, actor and the payload *without* form data
  or start variables (those can hold confidential case facts) and without any key that looks
  like a credential.

Everything else (warnings, errors with tracebacks, gunicorn's own messages) uses the same
formatter. Plain Python: the engine, the web workers and the scheduler all use it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from engine.infra.settings import Settings

# Keys never written to a log line, at any depth of an event payload or `extra`.
SECRET_KEYS = ("password", "passwd", "token", "secret", "cookie", "authorization", "session", "csrf")
# Event payload keys holding user-entered content: form data, start variables.
CONTENT_KEYS = ("data", "variables", "values", "form", "facts")
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


_SECRET = re.compile("|".join(SECRET_KEYS))
_SCALARS = (bool, int, float, type(None))


_KEEP, _DROP, _CONTENT = 0, 1, 2
_VERDICTS: dict[str, int] = {}  # key → what redact does with it; keys repeat from line to line
_MAX_VERDICTS = 4096  # payload keys may come from form data: the cache stays bounded


def _verdict(key: str) -> int:
    verdict = _VERDICTS.get(key)
    if verdict is None:
        lowered = key.lower()
        verdict = _DROP if _SECRET.search(lowered) else _CONTENT if lowered in CONTENT_KEYS else _KEEP
        if len(_VERDICTS) < _MAX_VERDICTS:
            _VERDICTS[key] = verdict
    return verdict


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of `value` without credential-like or content keys (for log lines only).
    Every log line passes through here (some twice): each key's verdict is looked up (one regex
    the first time a key is seen), and no call per scalar or short string."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k)
            verdict = _verdict(key)
            if verdict == _DROP:
                continue
            if depth == 0 and verdict == _CONTENT:
                out[key] = "[omitted]"
                continue
            if isinstance(v, _SCALARS) or (type(v) is str and len(v) <= 500):
                out[key] = v
            else:
                out[key] = redact(v, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, depth + 1) for v in value[:50]]
    if isinstance(value, str) and len(value) > 500:
        return value[:500] + "…"
    return value


class JsonFormatter(logging.Formatter):
    """`{"ts": "...Z", "level": ..., "logger": ..., "msg": ..., **extra}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(redact(out), ensure_ascii=False, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.converter = lambda *a: datetime.now(UTC).timetuple()


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


_configured_pid: int | None = None


def configure(settings: Settings) -> None:
    """Send the `sanji` loggers to stderr in the configured format (once per process).

    When the root logger already has handlers (gunicorn configures it from
    deploy/gunicorn.conf.py with the same formatter; pytest's caplog) records propagate there.
    """
    global _configured_pid
    logger = logging.getLogger("sanji")
    logger.setLevel(settings.log_level.upper())
    if settings.env == "test" or _configured_pid == os.getpid() or logging.getLogger().handlers:
        return  # tests, or a host that set up logging (gunicorn's logconfig_dict): propagate to it
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    handler.set_name("sanji-stderr")
    logger.handlers = [h for h in logger.handlers if h.get_name() != "sanji-stderr"] + [handler]
    logger.propagate = False
    _configured_pid = os.getpid()
