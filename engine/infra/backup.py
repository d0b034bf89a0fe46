"""Backup and restore of the whole Sanji database (`flask --app app backup|restore FILE`).

- SQLite: the sqlite3 online-backup API (a consistent copy while Sanji runs); restore copies a
  checked backup file back page by page.
- PostgreSQL: `pg_dump --format=custom` of Sanji's schema (`public`, or the schema named by
  `options=-csearch_path=…` in DATABASE_URL) — a consistent snapshot while Sanji runs;
  restore replays it with `pg_restore | psql --single-transaction` after dropping the schema,
  so a failed restore changes nothing and a restored database holds exactly the backup.

Attachments live in the database too (`blob` / `blob_chunk`, engine/platform/attachments/store.py),
so a backup holds every uploaded file and a restore brings them back with the rows that bind them.

Restore replaces everything: stop the web workers and the scheduler first (docs/deployment.md).
The credentials of DATABASE_URL reach pg_dump/psql through the environment (PGPASSWORD),
never the command line.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from engine.errors import SanjiError

REQUIRED_TABLES = ("alembic_version", "event_log", "process_instance", "user_account")


class BackupError(SanjiError):
    status, code = 500, "backup_failed"


@dataclass
class Result:
    kind: str
    path: Path
    revision: str | None
    size: int


def _sqlite_path(url: str) -> Path:
    u = make_url(url)
    if not u.database or u.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(u.database)


def _pg(url: str) -> tuple[dict[str, str], str]:
    """libpq environment for the URL, and the schema Sanji lives in."""
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value is not None:
            env[var] = str(value)
    schema = "public"
    options = u.query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    if options:
        m = re.search(r"search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)", unquote(options))
        if m:
            schema = m.group(1)
    return env, schema


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError("{name} is not installed (Debian: apt-get install postgresql-client)", name=name)
    return path


def _run(cmd: list[str], env: dict[str, str], stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True, timeout=3600)
    if proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip()[-2000:]
        raise BackupError("{name} failed: {message}", name=Path(cmd[0]).name, message=message)
    return proc.stdout


def _sqlite_check(path: Path) -> str | None:
    """Open `path` read-only, check it is an intact Sanji database; return its revision."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError("{path} cannot be opened as SQLite: {exc}", path=path, exc=exc) from None
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise BackupError("{path} is damaged: {ok}", path=path, ok=ok)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if missing:
            raise BackupError(
                "{path} is not a Sanji database (missing {missing})", path=path, missing=", ".join(missing)
            )
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise BackupError("{path} is not a SQLite database: {exc}", path=path, exc=exc) from None
    finally:
        conn.close()


def backup(url: str, target: Path) -> Result:
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)  # password hashes and confidential records: readable by Sanji's user only
    if url.startswith("sqlite"):
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError("the database file {source} does not exist", source=source)
        src = sqlite3.connect(source)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        revision = _sqlite_check(partial)
        kind = "sqlite"
    else:
        env, schema = _pg(url)
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--schema={schema}",
                f"--file={partial}",
            ],
            env,
        )
        listing = _run([_tool("pg_restore"), "--list", str(partial)], env).decode(errors="replace")
        missing = [t for t in REQUIRED_TABLES if f" TABLE {schema} {t} " not in listing]
        if missing:
            partial.unlink(missing_ok=True)
            raise BackupError(
                "schema {schema} holds no Sanji database (missing {missing})", schema=schema, missing=", ".join(missing)
            )
        revision = None
        kind = "postgresql"
    os.replace(partial, target)
    return Result(kind, target, revision, target.stat().st_size)


def restore(url: str, source: Path) -> Result:
    source = Path(source)
    if not source.is_file():
        raise BackupError("{source} does not exist", source=source)
    if url.startswith("sqlite"):
        revision = _sqlite_check(source)
        live = _sqlite_path(url)
        live.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(live, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        return Result("sqlite", live, revision, live.stat().st_size)
    env, schema = _pg(url)
    listing = _run([_tool("pg_restore"), "--list", str(source)], env).decode(errors="replace")
    dumped = set(re.findall(r"\bSCHEMA - (\w+)\b", listing))
    if dumped and schema not in dumped:
        raise BackupError(
            "{source} is a backup of schema {dumped}, not of {schema}; restore it with a DATABASE_URL "
            "whose search_path names that schema",
            source=source,
            dumped=", ".join(sorted(dumped)),
            schema=schema,
        )
    if f" TABLE {schema} event_log " not in listing:
        raise BackupError("{source} is not a Sanji backup (no event_log table)", source=source)
    script = _run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--no-comments", "--file=-", str(source)], env)
    prelude = f'DROP SCHEMA IF EXISTS "{schema}" CASCADE;\n'.encode()
    _run(
        [_tool("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--file=-"],
        env,
        stdin=prelude + script,
    )
    return Result("postgresql", source, None, source.stat().st_size)
