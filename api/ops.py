"""Operations: what a deployment needs from the app (docs/deployment.md).

- `ProxyFix` when `SANJI_PROXY_FIX=N` (N trusted reverse proxies set X-Forwarded-*);
- secure session cookies behind HTTPS (`SANJI_COOKIE_SECURE`, on by default in production);
- one JSON log line per request (`sanji.request`) with a request id echoed as `X-Request-ID`;
- the production start-up checks (engine/infra/startup.py) in serving processes;
- the `backup`, `restore` and `check` commands.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click
from flask import Flask, Response, g, request
from werkzeug.routing import IntegerConverter

from engine.infra import backup as db_backup
from engine.infra import logs, startup
from engine.infra.settings import ENV_VARS, ConfigError, Settings

from .extensions import state

request_log = logging.getLogger("sanji.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class Int32Converter(IntegerConverter):
    """`<int:…>` ids beyond 2**31-1 (the id columns' range) become 0, an id that never exists:
    the route still matches for every method (so PATCH/DELETE are not 405), the lookup
    answers 404, and the database never sees an out-of-range value."""

    def to_python(self, value: str) -> Any:
        number = super().to_python(value)
        return number if isinstance(number, int) and number <= 2**31 - 1 else 0


def init_app(app: Flask, settings: Settings) -> None:
    logs.configure(settings)
    app.url_map.converters["int"] = Int32Converter  # before the blueprints are registered
    if settings.proxy_fix:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_fix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    app.config["SESSION_COOKIE_SECURE"] = settings.secure_cookies
    _request_logging(app)
    register_cli(app)
    if serving() and settings.production:
        st = state(app)
        try:
            startup.check(settings, st.engine, st.clock.now())
        except ConfigError as exc:
            raise SystemExit(f"configuration error: {exc}") from None


def serving() -> bool:
    """False inside `flask …` commands: maintenance must work even when a check fails
    (`flask run` and the scheduler command call `startup.check` themselves)."""
    return os.environ.get("FLASK_RUN_FROM_CLI") != "true"


def _request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g._t0 = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _log(response: Response) -> Response:
        rid = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = rid
        principal = g.get("principal")
        duration = (time.perf_counter() - g.get("_t0", time.perf_counter())) * 1000
        request_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration, 1),
                "user": principal.username if principal is not None else None,
                "request_id": rid,
                "remote_addr": request.remote_addr,
            },
        )
        return response


def register_cli(app: Flask) -> None:
    @app.cli.command("backup")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(file: Path) -> None:
        """Write a consistent backup of the database to FILE (safe while Sanji runs)."""
        url = state(app).settings.database_url
        try:
            result = db_backup.backup(url, file)
        except db_backup.BackupError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        click.echo(f"backup written: {result.path} ({result.kind}, {result.size} bytes)")

    @app.cli.command("restore")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--yes", is_flag=True, help="do not ask: replace the database with the backup")
    def restore_command(file: Path, yes: bool) -> None:
        """Replace the whole database with the backup FILE. Stop the web workers and the scheduler first."""
        st = state(app)
        where = st.engine.url.render_as_string(hide_password=True)
        if not yes:
            click.confirm(f"replace everything in {where} with {file}?", abort=True)
        st.engine.dispose()
        try:
            result = db_backup.restore(st.settings.database_url, file)
        except db_backup.BackupError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        click.echo(
            f"restored {file} into {where} ({result.kind}); run `flask --app app init-db` "
            "if the backup is older than this code"
        )

    @app.cli.command("check")
    def check_command() -> None:
        """Validate the settings and run the production start-up checks; print the settings."""
        st = state(app)
        s = st.settings
        for name, var in ENV_VARS.items():
            value: Any = getattr(s, name)
            if name == "secret_key":
                value = "(set)" if value != "dev-secret-change-me" else "(default: development only)"
            elif name == "cookie_secure":
                value = f"{int(s.secure_cookies)}" + (" (default)" if value is None else "")
            elif name == "database_url":
                value = st.engine.url.render_as_string(hide_password=True)
            click.echo(f"{var}={value}")
        try:
            startup.check(s.with_(env="production"), st.engine, st.clock.now())
        except ConfigError as exc:
            click.echo(f"{'error' if s.production else 'not ready for production'}: {exc}", err=True)
            sys.exit(1 if s.production else 0)
        click.echo("ready for production" if s.production else "checks passed (SANJI_ENV is not production)")
