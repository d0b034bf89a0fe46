"""(3) Worklist at scale: GET /api/v1/tasks for a unit committee member and a branch
commissioner, in a database of 100,000 instances / 1,000,000 task rows vs. one of 1,000
instances / 10,000 task rows (bench/seed.py: the users' worklists hold the same rows in both),
on SQLite and on PostgreSQL. Through gunicorn (one sync worker) on 127.0.0.1, bearer tokens,
timed at the client, the two databases served side by side with the requests alternating; p95 of each.

The SQLite databases are cached under bench/.data/ (keyed by size and seed version; delete
the directory or pass --no-cache to re-seed); PostgreSQL is seeded into a fresh schema each run.
"""
from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .common import DATA, Database, Http, database, gunicorn, login, open_engine, summary, timed
from .seed import SEED_VERSION, seed

USERS = {"unit_member": "u00_member", "commissioner": "u00_b00"}


def measure(db_urls: dict[int, str], workdir: Path, label: str, reps: int) -> dict[int, dict[str, dict[str, float]]]:
    """Both databases served at once (one gunicorn worker each); each user's requests alternate
    between them, so the 1k and the 100k figures share the machine's conditions of the moment
    (measured one after the other, p95 ratios of a few ms moved by ±30 % with this VM's speed)."""
    out: dict[int, dict[str, dict[str, float]]] = {n: {} for n in db_urls}
    with ExitStack() as stack:
        servers = {n: stack.enter_context(gunicorn(url, workdir / f"worklist-{label}-{n}.log", workers=1, threads=1))
                   for n, url in db_urls.items()}
        for role, username in USERS.items():
            clients = {n: (Http(srv.url), {"Authorization": f"Bearer {login(srv.url, username)}"})
                       for n, srv in servers.items()}
            ms_all: dict[int, list[float]] = {n: [] for n in servers}
            counts: dict[int, int] = {}
            for i in range(reps + 20):
                for n, (http, headers) in clients.items():
                    ms, resp = timed(lambda http=http, headers=headers: http.get("/api/v1/tasks", headers))
                    if resp.status_code != 200:
                        raise RuntimeError(f"worklist of {username}: {resp.status_code} {resp.text[:300]}")
                    counts[n] = len(resp.json()["items"])
                    if i >= 20:
                        ms_all[n].append(ms)
            for n in servers:
                out[n][role] = {**summary(ms_all[n]), "items": counts[n]}
    return out


def plan(db_url: str, username: str) -> str:
    """The database's plan for the worklist query of `username` (the API's own query)."""
    from sqlalchemy import select, text

    from api.rest.tasks import task_query
    from engine.org import nodes as org
    from engine.infra.db import make_engine, make_session_factory
    from engine.models import HumanTask, User
    from engine.org.routing import offered_clause

    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            p = org.load_principal(s, s.scalars(select(User).where(User.username == username)).one())
            q = (task_query().where(HumanTask.status == "open", offered_clause(p))
                 .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id).limit(50))
            sql = str(q.compile(engine, compile_kwargs={"literal_binds": True}))
            if engine.dialect.name == "sqlite":
                return " | ".join(str(r[-1]) for r in s.execute(text("EXPLAIN QUERY PLAN " + sql)))
            return " | ".join(r[0].strip() for r in s.execute(text("EXPLAIN ANALYZE " + sql)))
    finally:
        engine.dispose()


def sqlite_db(n: int, workdir: Path, cache: bool) -> tuple[str, dict[str, Any] | None]:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"worklist-{n}-v{SEED_VERSION}.db"
    if not cache:
        path = workdir / path.name
    seeded = None
    if not path.exists():
        tmp = path.with_suffix(".part")
        for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            p.unlink(missing_ok=True)
        engine = open_engine(Database(f"sqlite:///{tmp}", "sqlite", lambda: None))
        seeded = seed(engine, n)
        engine.dispose()
        shutil.move(tmp, path)
    else:
        engine = open_engine(Database(f"sqlite:///{path}", "sqlite", lambda: None))  # migrate a cached file
        engine.dispose()
    return f"sqlite:///{path}", seeded


def run(args: Any, workdir: Path) -> list[dict[str, Any]]:
    big = 10_000 if args.quick else args.worklist_instances
    reps = 60 if args.quick else 200
    backends = ["sqlite"] + ([] if args.pg_skip else ["postgresql"])
    figures: list[dict[str, Any]] = []
    plans: dict[str, str] = {}
    for backend in backends:
        with ExitStack() as stack:
            urls: dict[int, str] = {}
            seeds: dict[int, Any] = {}
            for n in (1000, big):
                if backend == "sqlite":
                    urls[n], seeds[n] = sqlite_db(n, workdir, not args.no_cache)
                else:
                    db = stack.enter_context(database("postgresql", workdir, f"w{n}", args.pg_url))
                    engine = open_engine(db)
                    seeds[n] = seed(engine, n)
                    engine.dispose()
                    urls[n] = db.url
            measured = measure(urls, workdir, backend, reps)
            results = {n: (measured[n], seeds[n]) for n in urls}
            plans[backend] = plan(urls[big], USERS["unit_member"])
        for role in USERS:
            small, large = results[1000][0][role], results[big][0][role]
            ratio = large["p95_ms"] / small["p95_ms"]
            figures.append({
                "name": f"worklist_{backend}_{role}_{big // 1000}k", "value": large["p95_ms"], "unit": "ms p95",
                "median_ms": large["median_ms"], "p95_ms": large["p95_ms"], "items": large["items"],
                "target": "p95 ≤ 25 ms", "pass": large["p95_ms"] <= 25.0, "seed": results[big][1],
                "plan": plans.get(backend)})
            figures.append({
                "name": f"worklist_{backend}_{role}_{big // 1000}k_vs_1k", "value": round(ratio, 2), "unit": "×",
                "small_p95_ms": small["p95_ms"], "small_median_ms": small["median_ms"], "target": "≤ 1.3×",
                "pass": ratio <= 1.3})
    return figures
