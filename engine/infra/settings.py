"""Every setting Sanji reads, in one place, validated at start.

Settings come from environment variables (or a mapping in tests). A bad value stops the
process with a message naming the variable, instead of failing later in a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parents[2]  # engine/infra/settings.py → the checkout
DEFAULT_SECRET = "dev-secret-change-me"
DEMO_PASSWORD = "demo12345"


class ConfigError(ValueError):
    """A setting has a value Sanji cannot run with."""


@dataclass(frozen=True)
class Settings:
    # name: (environment variable) meaning
    env: str = "development"  # SANJI_ENV: development | test | production
    database_url: str = ""  # DATABASE_URL: SQLAlchemy URL; default SQLite file under instance/
    secret_key: str = DEFAULT_SECRET  # SECRET_KEY: signs web sessions; required in production
    timezone: str = "Asia/Shanghai"  # SANJI_TIMEZONE: the organisation's calendar time zone
    processes_dir: Path = ROOT / "processes"  # SANJI_PROCESSES_DIR: built-in BPMN diagrams
    forms_dir: Path = ROOT / "forms"  # SANJI_FORMS_DIR: JSON-schema forms named by user tasks
    token_ttl_hours: int = 12  # SANJI_TOKEN_TTL_HOURS: lifetime of API bearer tokens
    script_timeout_ms: int = (
        1000  # SANJI_SCRIPT_TIMEOUT_MS: bound of a script's own time (helpers excluded; wall ≤ 30×)
    )
    # ---- bounds on the work one request or instance may cause (issue 13; README "Bounds") ----
    # engine work of one request or scheduler firing (steps, scripts and their helpers, fan-out
    # children): above it the unit of work is rolled back and the instance gets an incident.
    # A 1,000-branch cycle start takes ~5 s on an idle machine, 81 s was seen at load 8-16.
    engine_max_seconds: float = 120.0  # SANJI_ENGINE_MAX_SECONDS
    max_branches: int = 200  # SANJI_MAX_BRANCHES: parallel branches of one gateway / in-instance multi-instance
    max_fanout: int = 5000  # SANJI_MAX_FANOUT: child instances of one multi-instance call activity
    # asynchronous continuation (engine/core/async_jobs.py): a call activity marked async, or a
    # fan-out of more children than the threshold, has its children started by the scheduler's
    # worker, a batch per transaction; the request that reached it returns at once.
    async_mode: str = "worker"  # SANJI_ASYNC: worker | inline (async elements run inside the request)
    async_fanout_threshold: int = 10  # SANJI_ASYNC_FANOUT: larger fan-outs continue asynchronously
    async_batch: int = 10  # SANJI_ASYNC_BATCH: children started per worker transaction
    async_max_attempts: int = 3  # SANJI_ASYNC_MAX_ATTEMPTS: failed batches before an incident
    async_backoff_s: float = 30.0  # SANJI_ASYNC_BACKOFF: first retry delay, doubled on every failure
    # the scheduler process's CPU priority (os.nice): its work is background (timers, continuations)
    # and yields to the web workers' interactive requests; 0 keeps the priority it was started with
    scheduler_nice: int = 10  # SANJI_SCHEDULER_NICE: 0-19
    script_max_mb: int = 64  # SANJI_SCRIPT_MAX_MB: how much one script run may grow the worker's memory
    max_instance_bytes: int = 5 * 1024 * 1024  # SANJI_MAX_INSTANCE_BYTES: an instance's serialized state (JSON)
    max_form_bytes: int = 1024 * 1024  # SANJI_MAX_FORM_BYTES: the data of one completion / start (JSON)
    timer_min_seconds: int = 300  # SANJI_TIMER_MIN_SECONDS: shortest timer duration or cycle period
    max_bpmn_bytes: int = 5 * 1024 * 1024  # SANJI_MAX_BPMN_BYTES: deploy size cap
    max_request_bytes: int = 6 * 1024 * 1024  # SANJI_MAX_REQUEST_BYTES: any request body
    scheduler: str = "embedded"  # SANJI_SCHEDULER: embedded (dev server) | off (web workers)
    scheduler_interval_s: float = 5.0  # SANJI_SCHEDULER_INTERVAL: seconds between ticks
    misfire_grace_days: int = 7  # SANJI_MISFIRE_GRACE_DAYS: how late a missed schedule still fires
    # login throttling (engine/org/throttle.py): slows failing clients, never locks the account's owner out
    login_max_failures: int = 5  # SANJI_LOGIN_MAX_FAILURES: failures on one account before its delay starts
    login_lock_seconds: int = 300  # SANJI_LOGIN_LOCK_SECONDS: longest delay (it doubles from 1 s per failure)
    login_window_seconds: int = 900  # SANJI_LOGIN_WINDOW_SECONDS: failures are forgotten after this quiet time
    login_ip_max_failures: int = 20  # SANJI_LOGIN_IP_MAX_FAILURES: failures of one client across accounts per window
    log_format: str = "json"  # SANJI_LOG_FORMAT: json | text
    # ---- notifications, e-mail and reports (the linkage platform) ----
    base_url: str = ""  # SANJI_BASE_URL: public address of the web app, for links in messages
    smtp_host: str = ""  # SANJI_SMTP_HOST: mail server; empty: e-mail channels fail with a clear error
    smtp_port: int = 25  # SANJI_SMTP_PORT
    smtp_from: str = "sanji@localhost"  # SANJI_SMTP_FROM: sender address
    smtp_tls: str = "none"  # SANJI_SMTP_TLS: none | starttls | ssl
    smtp_user: str = ""  # SANJI_SMTP_USER: login, if the server needs one
    smtp_password: str = ""  # SANJI_SMTP_PASSWORD
    notify_timeout_s: float = 10.0  # SANJI_NOTIFY_TIMEOUT: seconds per webhook POST / SMTP session
    notify_max_attempts: int = 8  # SANJI_NOTIFY_MAX_ATTEMPTS: tries before a message is marked failed
    notify_backoff_s: float = 60.0  # SANJI_NOTIFY_BACKOFF: first retry delay, doubled on every failure
    pdf_font: str = ""  # SANJI_PDF_FONT: a CJK TTF/TTC for PDF reports; default: Debian's fonts-noto-cjk if present
    attachment_max_mb: int = 50  # SANJI_ATTACHMENT_MAX_MB: largest uploaded attachment (413 above it)
    # ---- deployment (docs/deployment.md) ----
    log_level: str = "INFO"  # SANJI_LOG_LEVEL: DEBUG | INFO | WARNING | ERROR
    proxy_fix: int = 0  # SANJI_PROXY_FIX: number of trusted reverse proxies in front (0: trust no X-Forwarded-*)
    cookie_secure: bool | None = None  # SANJI_COOKIE_SECURE: session cookie only over HTTPS (default: on in production)
    web_bind: str = "127.0.0.1:8000"  # SANJI_BIND: gunicorn listen address (host:port or unix:/path)
    web_workers: int = 4  # SANJI_WEB_WORKERS: gunicorn worker processes
    web_threads: int = 4  # SANJI_WEB_THREADS: threads per worker (gthread); 1 selects sync workers
    web_timeout_s: int = 60  # SANJI_WEB_TIMEOUT: seconds before a silent worker is killed and replaced
    db_pool_size: int = 5  # SANJI_DB_POOL_SIZE: PostgreSQL connections kept per process
    db_max_overflow: int = 10  # SANJI_DB_MAX_OVERFLOW: extra connections per process under bursts
    db_pool_timeout_s: float = 10.0  # SANJI_DB_POOL_TIMEOUT: seconds to wait for a free connection (then 503)
    # seconds added to the system clock in every process (rehearsals, load tests); refused in production
    clock_offset_s: float = 0.0  # SANJI_CLOCK_OFFSET
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        return self.production if self.cookie_secure is None else self.cookie_secure

    def engine_options(self) -> dict[str, Any]:
        """Connection-pool options for `engine.infra.db.make_engine` (PostgreSQL only)."""
        if self.database_url.startswith("sqlite"):
            return {}
        return {
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "pool_timeout": self.db_pool_timeout_s,
        }

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_ENV = {
    "env": "SANJI_ENV",
    "database_url": "DATABASE_URL",
    "secret_key": "SECRET_KEY",
    "timezone": "SANJI_TIMEZONE",
    "processes_dir": "SANJI_PROCESSES_DIR",
    "forms_dir": "SANJI_FORMS_DIR",
    "token_ttl_hours": "SANJI_TOKEN_TTL_HOURS",
    "script_timeout_ms": "SANJI_SCRIPT_TIMEOUT_MS",
    "engine_max_seconds": "SANJI_ENGINE_MAX_SECONDS",
    "max_branches": "SANJI_MAX_BRANCHES",
    "max_fanout": "SANJI_MAX_FANOUT",
    "async_mode": "SANJI_ASYNC",
    "async_fanout_threshold": "SANJI_ASYNC_FANOUT",
    "async_batch": "SANJI_ASYNC_BATCH",
    "async_max_attempts": "SANJI_ASYNC_MAX_ATTEMPTS",
    "async_backoff_s": "SANJI_ASYNC_BACKOFF",
    "scheduler_nice": "SANJI_SCHEDULER_NICE",
    "script_max_mb": "SANJI_SCRIPT_MAX_MB",
    "max_instance_bytes": "SANJI_MAX_INSTANCE_BYTES",
    "max_form_bytes": "SANJI_MAX_FORM_BYTES",
    "timer_min_seconds": "SANJI_TIMER_MIN_SECONDS",
    "max_bpmn_bytes": "SANJI_MAX_BPMN_BYTES",
    "max_request_bytes": "SANJI_MAX_REQUEST_BYTES",
    "scheduler": "SANJI_SCHEDULER",
    "scheduler_interval_s": "SANJI_SCHEDULER_INTERVAL",
    "misfire_grace_days": "SANJI_MISFIRE_GRACE_DAYS",
    "login_max_failures": "SANJI_LOGIN_MAX_FAILURES",
    "login_lock_seconds": "SANJI_LOGIN_LOCK_SECONDS",
    "login_window_seconds": "SANJI_LOGIN_WINDOW_SECONDS",
    "login_ip_max_failures": "SANJI_LOGIN_IP_MAX_FAILURES",
    "log_format": "SANJI_LOG_FORMAT",
    "base_url": "SANJI_BASE_URL",
    "smtp_host": "SANJI_SMTP_HOST",
    "smtp_port": "SANJI_SMTP_PORT",
    "smtp_from": "SANJI_SMTP_FROM",
    "smtp_tls": "SANJI_SMTP_TLS",
    "smtp_user": "SANJI_SMTP_USER",
    "smtp_password": "SANJI_SMTP_PASSWORD",
    "notify_timeout_s": "SANJI_NOTIFY_TIMEOUT",
    "notify_max_attempts": "SANJI_NOTIFY_MAX_ATTEMPTS",
    "notify_backoff_s": "SANJI_NOTIFY_BACKOFF",
    "pdf_font": "SANJI_PDF_FONT",
    "attachment_max_mb": "SANJI_ATTACHMENT_MAX_MB",
    "log_level": "SANJI_LOG_LEVEL",
    "proxy_fix": "SANJI_PROXY_FIX",
    "cookie_secure": "SANJI_COOKIE_SECURE",
    "web_bind": "SANJI_BIND",
    "web_workers": "SANJI_WEB_WORKERS",
    "web_threads": "SANJI_WEB_THREADS",
    "web_timeout_s": "SANJI_WEB_TIMEOUT",
    "db_pool_size": "SANJI_DB_POOL_SIZE",
    "db_max_overflow": "SANJI_DB_MAX_OVERFLOW",
    "db_pool_timeout_s": "SANJI_DB_POOL_TIMEOUT",
    "clock_offset_s": "SANJI_CLOCK_OFFSET",
}
ENV_VARS = dict(_ENV)  # setting name -> environment variable, for docs and tools
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment, apply overrides, validate."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for name, var in _ENV.items():
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        kind = types[name]
        try:
            if kind in ("bool | None", "bool", bool):
                if raw.strip().lower() not in _TRUE + _FALSE:
                    raise ValueError(raw)
                values[name] = raw.strip().lower() in _TRUE
            elif kind in ("int", int):
                values[name] = int(raw)
            elif kind in ("float", float):
                values[name] = float(raw)
            elif kind in ("Path", Path):
                values[name] = Path(raw)
            else:
                values[name] = raw
        except ValueError:
            what = {"int": "an integer", "float": "a number", "bool | None": "1/0, true/false, yes/no or on/off"}
            raise ConfigError(f"{var}={raw!r} is not {what.get(str(kind), 'a valid ' + str(kind))}") from None
    values.update(overrides)
    settings = Settings(**values)
    if not settings.database_url:
        settings = settings.with_(database_url=f"sqlite:///{ROOT / 'instance' / 'sanji.db'}")
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    if s.env not in ("development", "test", "production"):
        raise ConfigError(f"SANJI_ENV must be development, test or production, not {s.env!r}")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"SANJI_TIMEZONE {s.timezone!r} is not a known IANA time zone") from None
    if not s.database_url.startswith(("sqlite:", "postgresql")):
        raise ConfigError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")
    if s.scheduler not in ("embedded", "off"):
        raise ConfigError(f"SANJI_SCHEDULER must be embedded or off, not {s.scheduler!r}")
    if s.log_format not in ("json", "text"):
        raise ConfigError(f"SANJI_LOG_FORMAT must be json or text, not {s.log_format!r}")
    for name in (
        "token_ttl_hours",
        "script_timeout_ms",
        "max_bpmn_bytes",
        "max_request_bytes",
        "misfire_grace_days",
        "login_max_failures",
        "login_lock_seconds",
        "login_window_seconds",
        "login_ip_max_failures",
    ):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{_ENV[name]} must be positive")
    for name in (
        "max_branches",
        "max_fanout",
        "script_max_mb",
        "max_instance_bytes",
        "max_form_bytes",
        "attachment_max_mb",
    ):
        if getattr(s, name) <= 0:  # the bounds (issue 13)
            raise ConfigError(f"{_ENV[name]} must be positive")
    for name in ("async_batch", "async_max_attempts"):
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV[name]} must be at least 1")
    if s.async_mode not in ("worker", "inline"):
        raise ConfigError(f"SANJI_ASYNC must be worker or inline, not {s.async_mode!r}")
    if not 0 <= s.scheduler_nice <= 19:
        raise ConfigError(f"SANJI_SCHEDULER_NICE must be 0 to 19, not {s.scheduler_nice}")
    if s.async_fanout_threshold < 0 or s.async_backoff_s < 0:
        raise ConfigError("SANJI_ASYNC_FANOUT and SANJI_ASYNC_BACKOFF must not be negative")
    if not s.engine_max_seconds > 0:
        raise ConfigError("SANJI_ENGINE_MAX_SECONDS must be positive")
    if s.timer_min_seconds < 0:
        raise ConfigError("SANJI_TIMER_MIN_SECONDS must not be negative")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"SANJI_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {s.log_level!r}")
    if not 0 <= s.proxy_fix <= 5:
        raise ConfigError(f"SANJI_PROXY_FIX must be the number of trusted proxies, 0 to 5, not {s.proxy_fix}")
    for name in ("web_workers", "web_threads", "web_timeout_s", "db_pool_size"):
        if getattr(s, name) < 1:
            raise ConfigError(f"{_ENV[name]} must be at least 1")
    if s.db_max_overflow < 0:
        raise ConfigError("SANJI_DB_MAX_OVERFLOW must not be negative")
    if s.db_pool_timeout_s <= 0:
        raise ConfigError("SANJI_DB_POOL_TIMEOUT must be positive")
    if not (s.web_bind.startswith("unix:") or _host_port(s.web_bind)):
        raise ConfigError(f"SANJI_BIND must be HOST:PORT or unix:/path, not {s.web_bind!r}")
    if s.scheduler_interval_s <= 0:
        raise ConfigError("SANJI_SCHEDULER_INTERVAL must be positive")
    if s.smtp_tls not in ("none", "starttls", "ssl"):
        raise ConfigError(f"SANJI_SMTP_TLS must be none, starttls or ssl, not {s.smtp_tls!r}")
    if not 0 < s.smtp_port < 65536:
        raise ConfigError("SANJI_SMTP_PORT must be a TCP port")
    if s.notify_timeout_s <= 0 or s.notify_backoff_s <= 0 or s.notify_max_attempts <= 0:
        raise ConfigError("SANJI_NOTIFY_TIMEOUT, SANJI_NOTIFY_BACKOFF and SANJI_NOTIFY_MAX_ATTEMPTS must be positive")
    if s.base_url and not s.base_url.startswith(("http://", "https://")):
        raise ConfigError("SANJI_BASE_URL must start with http:// or https://")
    if s.clock_offset_s != s.clock_offset_s or abs(s.clock_offset_s) > 100 * 366 * 86400:
        raise ConfigError(f"SANJI_CLOCK_OFFSET must be a number of seconds within ±100 years, not {s.clock_offset_s}")
    if s.production and s.clock_offset_s:
        raise ConfigError(
            "SANJI_CLOCK_OFFSET shifts the clock for rehearsals and load tests: it is refused in production"
        )
    if s.production and (s.secret_key == DEFAULT_SECRET or len(s.secret_key) < 16):
        raise ConfigError("SECRET_KEY must be set to a random value of 16+ characters in production")


def _host_port(bind: str) -> bool:
    host, sep, port = bind.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)
