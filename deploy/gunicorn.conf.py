"""Gunicorn configuration of Sanji's web workers (docs/deployment.md).

    gunicorn -c deploy/gunicorn.conf.py            # from the checkout, with .venv/bin on PATH

Every value comes from the settings module (engine/infra/settings.py), i.e. from the environment:
SANJI_BIND, SANJI_WEB_WORKERS, SANJI_WEB_THREADS, SANJI_WEB_TIMEOUT, SANJI_LOG_LEVEL,
SANJI_LOG_FORMAT — a bad value stops gunicorn before it binds, naming the variable.

Choices and why:

- Worker class `gthread` (SANJI_WEB_THREADS threads per process; 1 selects plain `sync`
  workers). A completion can wait on the instance's row lock (`SELECT … FOR UPDATE`) while
  another worker finishes; threads keep the process answering other requests meanwhile and
  keep-alive connections from a reverse proxy cheap. Engine work itself is CPU-bound Python,
  so scale with processes (SANJI_WEB_WORKERS ≈ 2 × cores), not with more threads.
- `preload_app = False`: each worker imports the app and opens its own connection pool
  after the fork, so no database socket is ever shared between processes; `kill -HUP` (systemd
  `reload`) replaces workers gracefully with freshly imported code; a worker that dies
  (even `kill -9`) is replaced by a clean one. The price is ~1 s of import per worker at start.
- `SANJI_SCHEDULER=off` is forced: web workers never fire timers. Exactly one scheduler
  process (`flask --app app scheduler`, deploy/sanji-scheduler.service) does, for all hosts.
- The production start-up checks (demo passwords, schema revision; engine/infra/startup.py) run
  once in the master before any worker is forked, so a refusal is one clear message.
- No gunicorn access log: the app writes one JSON line per request itself (`sanji.request`,
  with user and request id); gunicorn's own messages use the same JSON formatter.
- Forwarded headers are interpreted in one place only, the app's ProxyFix
  (SANJI_PROXY_FIX=N); gunicorn's own X-Forwarded-Proto handling is switched off.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if os.environ.get("SANJI_SCHEDULER", "off") != "off":
    raise SystemExit("configuration error: SANJI_SCHEDULER must be off (or unset) for the web workers; "
                     "timers run in the one scheduler process (flask --app app scheduler)")
os.environ["SANJI_SCHEDULER"] = "off"

from engine.infra.settings import ConfigError, load_settings  # noqa: E402

try:
    settings = load_settings()
except ConfigError as _exc:
    raise SystemExit(f"configuration error: {_exc}") from None

wsgi_app = "app:create_app()"
chdir = str(ROOT)
proc_name = "sanji-web"
bind = [settings.web_bind]
workers = settings.web_workers
threads = settings.web_threads
worker_class = "gthread" if settings.web_threads > 1 else "sync"
timeout = settings.web_timeout_s
graceful_timeout = 30
keepalive = 5
preload_app = False
# Recycle workers now and then (memory held by big workflows is returned to the OS).
max_requests = 5000
max_requests_jitter = 500
# Request size limits before the app sees anything (the app caps bodies: SANJI_MAX_REQUEST_BYTES).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = "127.0.0.1,::1"
control_socket_disable = True  # gunicorn 24+: no runtime control socket (several instances per host)

accesslog = None
errorlog = "-"
loglevel = settings.log_level.lower()
_formatter = "engine.infra.logs.JsonFormatter" if settings.log_format == "json" else "engine.infra.logs.TextFormatter"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"sanji": {"()": _formatter}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "sanji", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": settings.log_level.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
}


def on_starting(server):  # type: ignore[no-untyped-def]
    """Master, before forking: refuse to serve when a production check fails."""
    if not settings.production:
        return
    from engine.infra.clock import SystemClock
    from engine.infra.db import make_engine
    from engine.infra.startup import check

    engine = make_engine(settings.database_url, **settings.engine_options())
    try:
        check(settings, engine, SystemClock().now())
    except ConfigError as exc:
        server.log.error("configuration error: %s", exc)
        raise SystemExit(f"configuration error: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. the database is unreachable
        server.log.error("start-up check failed: %s: %s", type(exc).__name__, exc)
        raise SystemExit(f"start-up check failed: {type(exc).__name__}: {exc}") from None
    finally:
        engine.dispose()


def worker_abort(worker):  # type: ignore[no-untyped-def]
    """SIGABRT after SANJI_WEB_TIMEOUT seconds without a heartbeat: say so before dying."""
    worker.log.error("worker %s timed out after %s s and is replaced", worker.pid, timeout)
