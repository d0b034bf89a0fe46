"""Where the quarter load test's requests spend their time, alone: the worklist, the task page and
the completion of each kind of task, timed and profiled in-process on a schema kept by
`bench/load_quarter.py --keep` (it has thousands of open tasks of every kind).

    .venv/bin/python bench/load_quarter.py --database-url postgresql://127.0.0.1:5432/test --keep
    .venv/bin/python -m bench.profile_load_tasks 'postgresql+psycopg://…?options=-csearch_path%3Dload_…'
    .venv/bin/python -m bench.profile_load_tasks URL --spec confirm -n 20 --top 30

Each request goes through the Flask test client (no HTTP), with the statements and this
process's CPU time (the web worker's share, without PostgreSQL's) counted; the median is measured
without the profiler, then as many again are profiled. Completions change the
kept schema (each completes a real task), so a schema serves a few runs.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from .load_quarter import DATA, FIRE, user_for
from .profile_completion import group


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="the kept schema's URL, as load_quarter.py --keep printed it")
    ap.add_argument("--spec", action="append", help="task kinds (default: every kind with open tasks)")
    ap.add_argument("-n", type=int, default=10, help="requests of each kind timed (as many again profiled)")
    ap.add_argument("--top", type=int, default=0, help="print the top functions of each profile")
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--callers", default="", help="also print the callers of functions matching this regex")
    ap.add_argument("--callees", default="", help="also print the callees of functions matching this regex")
    ap.add_argument("--sql", action="store_true", help="print each statement of the last task of each kind, timed")
    ap.add_argument("--profile", default="complete", choices=("list", "page", "complete"),
                    help="which request of each task is profiled")
    a = ap.parse_args()

    import os

    os.environ["SANJI_CLOCK_OFFSET"] = f"{(FIRE + timedelta(hours=1) - datetime.now(FIRE.tzinfo)).total_seconds():.3f}"
    from app import create_app
    from engine.models import HumanTask, User
    from engine.org import auth

    app = create_app({"database_url": a.url, "env": "test", "scheduler": "off"})
    st = app.extensions["sanji"]
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(st.engine, "before_cursor_execute", count)
    trace: list[tuple[str, float]] = []
    started: list[float] = [0.0]

    def before(*_: Any) -> None:
        started[0] = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        trace.append((" ".join(statement.split())[:150], (time.perf_counter() - started[0]) * 1000))

    if a.sql:
        event.listen(st.engine, "before_cursor_execute", before)
        event.listen(st.engine, "after_cursor_execute", after)
    client = app.test_client()
    with st.sessions() as s:
        rows = s.execute(select(HumanTask.id, HumanTask.spec_id, HumanTask.tier, HumanTask.node_id,
                                HumanTask.candidate_roles).where(HumanTask.status == "open")
                         .order_by(HumanTask.id)).all()
        by_spec: dict[str, list[tuple[int, str]]] = {}
        for r in rows:
            by_spec.setdefault(r.spec_id, []).append((r.id, user_for(r)))  # type: ignore[arg-type]
        users = {u.username: u for u in s.scalars(select(User))}
        tokens: dict[str, str] = {}
        for spec, items in by_spec.items():
            for _, name in items[: 2 * a.n]:
                if name not in tokens:
                    tokens[name] = auth.issue_token(s, users[name], st.clock.now(), 24)
        s.commit()
    specs = a.spec or sorted(s for s in by_spec if s in DATA)
    print(f"open tasks: {', '.join(f'{k} {len(v)}' for k, v in sorted(by_spec.items()))}")
    print(f"{'request':34} {'n':>4} {'median ms':>10} {'max ms':>8} {'CPU ms':>7} {'statements':>11}")

    def run(spec: str, items: list[tuple[int, str]], profile: cProfile.Profile | None) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"list": [], "page": [], "complete": [], "stmts": [[], [], []],  # type: ignore[dict-item]
                                       "cpu": [[], [], []]}
        for task_id, user in items:
            h = {"Authorization": f"Bearer {tokens[user]}"}
            for i, (kind, call) in enumerate((
                ("list", lambda: client.get("/api/v1/tasks", headers=h)),
                ("page", lambda: client.get(f"/api/v1/tasks/{task_id}", headers=h)),
                ("complete", lambda: client.post(f"/api/v1/tasks/{task_id}/complete", headers=h,
                                                 json={"data": DATA[spec]})),
            )):
                statements[0] = 0
                trace.clear()
                if profile and kind == a.profile:
                    profile.enable()
                t, c = time.perf_counter(), time.process_time()
                r = call()
                ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
                if profile and kind == a.profile:
                    profile.disable()
                if r.status_code != 200:
                    raise SystemExit(f"{kind} {spec} {task_id}: {r.status_code} {r.get_data(as_text=True)[:300]}")
                out[kind].append(ms)
                if a.sql and task_id == items[-1][0]:
                    print(f"--- {kind} of {spec} {task_id}: {ms:.1f} ms")
                    for text, t_ms in trace:
                        print(f"  {t_ms:6.2f}  {text}")
                out["stmts"][i].append(statements[0])  # type: ignore[attr-defined]
                out["cpu"][i].append(cpu)  # type: ignore[attr-defined]
        return out

    for spec in specs:
        items = by_spec.get(spec, [])
        timed, profiled = items[: a.n], items[a.n: 2 * a.n]
        if not timed:
            continue
        out = run(spec, timed, None)
        for i, kind in enumerate(("list", "page", "complete")):
            vals = out[kind]
            print(f"{spec + ' ' + kind:34} {len(vals):4} {statistics.median(vals):10.1f} {max(vals):8.1f} "
                  f"{statistics.median(out['cpu'][i]):7.1f} "  # type: ignore[arg-type]
                  f"{statistics.median(out['stmts'][i]):11.0f}")  # type: ignore[arg-type]
        if a.top and profiled:
            prof = cProfile.Profile()
            run(spec, profiled, prof)
            print(f"--- profile of {len(profiled)} requests ({a.profile}) of {spec}")
            stats = pstats.Stats(prof).sort_stats(a.sort)
            by_group: dict[str, float] = {}
            for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
                key = group(filename, name)
                by_group[key] = by_group.get(key, 0.0) + row[2]
            total = sum(by_group.values())
            print("  own time by library: " + ", ".join(
                f"{k} {v / total:.0%}" for k, v in sorted(by_group.items(), key=lambda kv: -kv[1])[:14]))
            stats.print_stats(a.top)
            if a.callers:
                stats.print_callers(a.callers)
            if a.callees:
                stats.print_callees(a.callees)


if __name__ == "__main__":
    main()
