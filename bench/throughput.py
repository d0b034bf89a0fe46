"""(5) Throughput under concurrency and (6) memory: gunicorn on PostgreSQL with 1, 2 and 4
workers (the deployment's configuration, sync workers: one request per process at a time),
N client threads (default 8) each completing tasks of different instances for a bounded time
(default 20 s per run; `--throughput-seconds 60` for the issue's full length).

Instances: one real instance of bench/two_step.bpmn started by the engine, then cloned with
SQL (instance row and its open task row) — every clone is a valid instance waiting at the
form task. Reported per run: completions/s, median and p95 latency, errors (any answer but
200), and the lost-completion check: the tasks the database holds as completed equal the
number of 200 answers. After each run the peak RSS (VmHWM) of every web worker is read.
"""
from __future__ import annotations

import threading
import time
from http.client import HTTPException
from pathlib import Path
from typing import Any

from .common import ROOT, Http, build_org, database, deployed_forms, gunicorn, login, open_engine, peak_rss_mb, summary
from .completion import BPMN, FORM_DATA


def prepare(engine: Any, db_url: str, clones: int) -> None:
    from sqlalchemy import text

    from engine.core import repository
    from engine.infra.clock import SystemClock
    from engine.infra.db import make_session_factory, write_intent
    from engine.core.forms import FormStore
    from engine.core.runtime import Runtime
    from engine.infra.settings import load_settings

    clock = SystemClock()
    build_org(engine, 2, 5, clock.now())
    settings = load_settings({}, env="test", database_url=db_url, forms_dir=ROOT / "forms", scheduler="off")
    forms = FormStore(settings.forms_dir)
    with write_intent(), make_session_factory(engine)() as s:
        forms = deployed_forms(s, clock.now())  # the app reads deployed forms (issue 15)
        repository.deploy(s, BPMN.read_bytes(), BPMN.name, "bench", clock.now(), forms, 5 << 20)
        template = Runtime(s, clock, settings, forms).start("bench_two_step", {"branch_id": "u00-b00", "unit_id": "u00"})
        s.commit()
        tid = template.id
    cols = ("definition_id, process_key, status, title, scope_node_id, unit_id, started_at, updated_at, state, "
            "data, version")
    task_cols = ("task_guid, spec_id, name, process_key, lane, tier, node_id, unit_id, candidate_roles, form_key, "
                 "status, created_at, due_at")
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO process_instance ({cols}) SELECT {cols} FROM process_instance, "
                          f"generate_series(1, {clones}) WHERE id = {tid}"))
        conn.execute(text("UPDATE process_instance SET root_id = id WHERE root_id IS NULL"))
        conn.execute(text(f"INSERT INTO task (instance_id, root_instance_id, {task_cols}) "
                          f"SELECT p.id, p.id, {', '.join('t.' + c.strip() for c in task_cols.split(','))} "
                          f"FROM process_instance p JOIN task t ON t.instance_id = {tid} WHERE p.id <> {tid}"))
        conn.execute(text("ANALYZE"))


def one_run(server: Any, task_ids: Any, lock: threading.Lock, clients: int, seconds: float,
            tokens: list[str]) -> dict[str, Any]:
    ms: list[float] = []
    statuses: dict[int, int] = {}
    done: list[int] = []
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        http = Http(server.url)
        headers = {"Authorization": f"Bearer {tokens[k % len(tokens)]}"}
        while time.perf_counter() < stop:
            with lock:
                tid = next(task_ids)
            t0 = time.perf_counter()
            try:
                status = http.post(f"/api/v1/tasks/{tid}/complete", {"data": FORM_DATA}, headers).status_code
            except (OSError, HTTPException):
                status = -1
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                ms.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    done.append(tid)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"ms": ms, "statuses": statuses, "done": done, "wall_s": wall}


def run(args: Any, workdir: Path) -> list[dict[str, Any]]:
    if args.pg_skip:
        return [{"name": "throughput_pg", "value": "skipped", "unit": "", "target": args.pg_skip, "pass": None}]
    from sqlalchemy import text

    seconds = 6.0 if args.quick else args.throughput_seconds
    clones = int(250 * seconds) * 3 + 500
    figures: list[dict[str, Any]] = []
    rates: dict[int, float] = {}
    peak = 0.0
    with database("postgresql", workdir, "tp", args.pg_url) as db:
        engine = open_engine(db)
        prepare(engine, db.url, clones)
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(text(
                "SELECT id FROM task WHERE status = 'open' AND spec_id = 'write' ORDER BY id"))]
        task_ids, lock = iter(ids), threading.Lock()
        for workers in (1, 2, 4):
            with gunicorn(db.url, workdir / f"tp-{workers}.log", workers=workers, threads=1) as server:
                tokens = [login(server.url, "u00_b00") for _ in range(min(args.clients, 4))]
                # warm every worker (imports, spec cache, pool) before the timed run
                one_run(server, task_ids, lock, args.clients, 1.5, tokens)
                out = one_run(server, task_ids, lock, args.clients, seconds, tokens)
                rss = [peak_rss_mb(pid) or 0.0 for pid in server.worker_pids()]
                peak = max([peak, *rss])
            with engine.connect() as conn:
                completed = conn.scalar(text("SELECT count(*) FROM task WHERE status = 'completed' AND id = ANY(:ids)"),
                                        {"ids": out["done"]}) if out["done"] else 0
            ok = out["statuses"].get(200, 0)
            errors = sum(v for k, v in out["statuses"].items() if k != 200)
            rate = ok / out["wall_s"]
            rates[workers] = rate
            stats = summary(out["ms"]) if out["ms"] else {"median_ms": float("nan"), "p95_ms": float("nan")}
            figures.append({
                "name": f"throughput_pg_{workers}w", "value": round(rate, 1), "unit": "completions/s",
                "median_ms": stats["median_ms"], "p95_ms": stats["p95_ms"], "clients": args.clients,
                "seconds": seconds, "errors": errors, "statuses": {str(k): v for k, v in out["statuses"].items()},
                "db_completed": completed, "answers_200": ok, "worker_peak_rss_mb": [round(x, 1) for x in rss],
                "target": "0 errors, 0 lost", "pass": errors == 0 and completed == ok})
        with engine.connect() as conn:  # nothing completed that no client was told about, over all runs
            total_completed = conn.scalar(text("SELECT count(*) FROM task WHERE status = 'completed'"))
        engine.dispose()
    scaling = rates[2] / rates[1] if rates.get(1) else float("nan")
    figures.append({"name": "throughput_2w_vs_1w", "value": round(scaling, 2), "unit": "×",
                    "target": "≥ 1.6×", "pass": scaling >= 1.6})
    figures.append({"name": "throughput_lost_completions", "value": 0 if all(f.get("pass") for f in figures[:3]) else
                    "see runs", "unit": "", "target": "0", "pass": all(f.get("pass") for f in figures[:3]),
                    "db_completed_all_runs": total_completed})
    figures.append({"name": "memory_peak_rss_worker", "value": round(peak, 1), "unit": "MB",
                    "target": "≤ 250 MB", "pass": peak <= 250.0})
    return figures


