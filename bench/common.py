"""Shared pieces of the benchmark suite: throw-away databases, a big organisation built with
bulk inserts, a live gunicorn, HTTP timing and percentiles.

Databases are real: a SQLite file under a temporary directory, or a PostgreSQL schema of its
own (dropped afterwards) in the database of `--pg-url`, like the test suite does.
"""
from __future__ import annotations

import http.client
import json as jsonlib
import os
import statistics
import sys
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from app import migrate  # noqa: E402
from engine.org.auth import demo_hash  # noqa: E402
from engine.infra.db import make_engine  # noqa: E402
from engine.models import OrgNode, RoleAssignment, User  # noqa: E402

BENCH = ROOT / "bench"
DATA = BENCH / ".data"
PASSWORD = "demo12345"


@dataclass
class Database:
    url: str  # SQLAlchemy URL (postgresql+psycopg://… with the schema's search_path)
    kind: str  # sqlite | postgresql
    drop: Callable[[], None]
    path: Path | None = None  # the SQLite file

    @property
    def env_url(self) -> str:
        return self.url


def pg_base(url: str) -> str:
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


# The system catalogs a schema's creation and drop leave dead rows in. A database that has seen
# hundreds of throw-away schemas (the test suite's, earlier runs') has catalogs bloated tenfold
# (seen: pg_attribute 23,829 dead rows beside 2,462 live), which slowed the quarter load test's
# new connections and plans by a quarter (completions 1,140 → 1,537 in 60 s after a VACUUM).
CATALOGS = ("pg_attribute", "pg_depend", "pg_class", "pg_type", "pg_constraint", "pg_index", "pg_trigger",
            "pg_attrdef", "pg_statistic", "pg_shdepend")


def vacuum_catalogs(admin: Engine) -> None:
    """VACUUM the catalogs schema DDL bloats, so that a run starts alike whatever ran before
    (best effort: a role that may not vacuum them just skips it)."""
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM (ANALYZE) {', '.join(CATALOGS)}"))
    except Exception as exc:  # noqa: BLE001 - a bench convenience, never a reason to stop
        print(f"(catalog vacuum skipped: {type(exc).__name__})")


def throwaway_schema(url: str, prefix: str) -> tuple[str, Callable[[], None]]:
    """A new schema on the PostgreSQL at `url`: the URL that works in it, and its drop (idempotent)."""
    base = pg_base(url)
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    vacuum_catalogs(admin)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    dropped = False

    def drop() -> None:
        nonlocal dropped
        if not dropped:
            dropped = True
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            vacuum_catalogs(admin)
            admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


@contextmanager
def database(kind: str, workdir: Path, label: str, pg_url: str | None = None, *,
             sqlite_file: Path | None = None) -> Iterator[Database]:
    """A fresh, migrated database; dropped (PostgreSQL) when the block ends."""
    if kind == "sqlite":
        path = sqlite_file or workdir / f"{label}.db"
        db = Database(f"sqlite:///{path}", "sqlite", lambda: None, path)
        yield db
        return
    assert pg_url, "PostgreSQL needs --pg-url"
    url, drop = throwaway_schema(pg_url, f"bench_{label}")
    try:
        yield Database(url, "postgresql", drop)
    finally:
        drop()


def open_engine(db: Database, migrate_schema: bool = True) -> Engine:
    engine = make_engine(db.url, pool_size=5)
    if migrate_schema:
        migrate(engine)
    return engine


# ---- a big organisation ---------------------------------------------------------------------------

def deployed_forms(session: Any, now: datetime) -> Any:
    """Deploy forms/*.json into the database, as init-db does (issue 15: the app reads deployed
    forms, not files), and return a store bound to `session` so that a diagram deployed next pins them."""
    from engine.core.forms import FormStore
    from engine.infra.db import make_session_factory
    from engine.services import forms as forms_service

    forms_service.deploy_directory(session, ROOT / "forms", now)
    session.flush()
    return FormStore(ROOT / "forms", make_session_factory(session.get_bind())).bound(session)


def unit_id(u: int) -> str:
    return f"u{u:02d}"


def branch_id(u: int, b: int) -> str:
    return f"u{u:02d}-b{b:02d}"


def build_org(engine: Engine, units: int, branches: int, now: datetime) -> dict[str, Any]:
    """The group, `units` units of `branches` branches each; per unit a committee member
    (`u07_member`), per branch a commissioner (`u07_b03`), plus `admin`. Core bulk inserts."""
    hashed = demo_hash()
    nodes = [{"id": "group", "tier": "group", "name": "集团公司纪委", "parent_id": None, "path": "/group/",
              "sort": 0, "active": True}]
    users: list[dict[str, Any]] = [{"username": "admin", "display_name": "admin"}]
    roles: list[tuple[str, str, str | None]] = [("admin", "admin", None)]
    for u in range(units):
        uid = unit_id(u)
        nodes.append({"id": uid, "tier": "unit", "name": f"第{u}单位纪委", "parent_id": "group",
                      "path": f"/group/{uid}/", "sort": u, "active": True})
        users.append({"username": f"{uid}_member", "display_name": f"{uid} 委员"})
        roles.append((f"{uid}_member", "member", uid))
        for b in range(branches):
            bid = branch_id(u, b)
            nodes.append({"id": bid, "tier": "branch", "name": f"{uid} 第{b}支部", "parent_id": uid,
                          "path": f"/group/{uid}/{bid}/", "sort": b, "active": True})
            users.append({"username": bid.replace("-", "_"), "display_name": f"{bid} 纪检委员"})
            roles.append((bid.replace("-", "_"), "commissioner", bid))
    with engine.begin() as conn:
        conn.execute(insert(OrgNode), nodes)
        conn.execute(insert(User), [dict(u, password_hash=hashed, active=True, created_at=now) for u in users])
        ids = dict(conn.execute(text("SELECT username, id FROM user_account")).all())
        conn.execute(insert(RoleAssignment), [{"user_id": ids[n], "role": r, "node_id": node} for n, r, node in roles])
    return {"user_ids": ids, "nodes": len(nodes)}


# ---- a live server --------------------------------------------------------------------------------

def gunicorn(db_url: str, log_path: Path, workers: int = 1, threads: int = 1, **kw: Any) -> Any:
    """The deployment's own gunicorn configuration (tests/server.py), on a free loopback port."""
    from tests.server import Gunicorn

    return Gunicorn(db_url, log_path, workers=workers, threads=threads, **kw)


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the peak resident set of a process so far."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ---- a lean HTTP client ------------------------------------------------------------------------

@dataclass
class Reply:
    status_code: int
    text: str

    def json(self) -> Any:
        return jsonlib.loads(self.text)


class Http:
    """HTTP/1.1 over the standard library's http.client, for timing the server rather than the
    client: `requests` spent ≈ 3 ms of its own per call on this 2-core machine (proxy and netrc
    look-ups from the environment, urllib3's pool) against ≈ 1 ms here, including the new TCP
    connection a sync gunicorn worker needs for each request (it closes after answering)."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self._conn: Any = None

    def request(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        body = None if json is None else jsonlib.dumps(json).encode()
        head = {"Content-Type": "application/json"} if body is not None else {}
        head.update(headers or {})
        reused = self._conn is not None
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self._conn.request(method, path, body=body, headers=head)
            resp = self._conn.getresponse()
            text = resp.read().decode()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.close()
            if not reused:
                raise
            # the server closed an idle keep-alive connection (gunicorn's and uvicorn's keepalive:
            # 5 s) before reading this request: send it again on a new connection, as browsers do
            return self.request(method, path, json, headers)
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.will_close:
            self.close()
        return Reply(resp.status, text)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Reply:
        return self.request("POST", path, json, headers)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, None, headers)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def login(server_url: str, username: str) -> str:
    """A bearer token of `username` (demo password)."""
    r = Http(server_url).post("/api/v1/auth/login", {"username": username, "password": PASSWORD})
    if r.status_code != 200:
        raise RuntimeError(f"login of {username}: {r.status_code} {r.text[:300]}")
    return str(r.json()["token"])


# ---- statistics -----------------------------------------------------------------------------------

def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def summary(ms: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(ms), 3), "p95_ms": round(pct(ms, 95), 3), "n": len(ms)}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---- CPU time of server processes --------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ms(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (ms; the kernel counts in ticks of
    10 ms, so read it around many requests: the sum is exact on average). Unlike the time at the
    client, it hardly depends on how many other processes want the CPU."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total * 1000 / _TICK
