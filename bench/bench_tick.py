"""How long one scheduler tick takes as the number of waiting instances grows.

For each size N it builds a fresh database with N running instances that wait on a boundary
timer (rows copied from one real instance with Core inserts), of which 100 per tick are due,
then times `engine.core.scheduler.tick`: the ticks that fire 100 due timers, and an idle tick that
finds nothing due. The due query reads only due rows (index on status, next_timer_at), so
neither time should grow with N.

    .venv/bin/python bench/bench_tick.py                          # SQLite, N = 1,000 and 100,000
    .venv/bin/python bench/bench_tick.py --database-url postgresql://127.0.0.1:5432/test
    .venv/bin/python bench/bench_tick.py --sizes 1000,10000,100000 --ticks 5
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from app import migrate  # noqa: E402
from bench.common import deployed_forms, throwaway_schema  # noqa: E402
from engine.org import demo
from engine.core import repository  # noqa: E402
from engine.infra.clock import FrozenClock  # noqa: E402
from engine.infra.db import make_engine, make_session_factory, write_intent  # noqa: E402
from engine.core.forms import FormStore  # noqa: E402
from engine.models import HumanTask, ProcessInstance  # noqa: E402
from engine.core.runtime import Runtime  # noqa: E402
from engine.core.scheduler import due_instances_query, tick  # noqa: E402
from engine.infra.settings import load_settings  # noqa: E402

DEADLINE = ROOT / "tests" / "bpmn" / "deadline.bpmn"
T0 = "2027-01-05T09:00:00+08:00"


def database(url: str | None, workdir: Path, label: str) -> tuple[str, Callable[[], None]]:
    if not url:
        return f"sqlite:///{workdir / f'bench-{label}.db'}", lambda: None
    return throwaway_schema(url, "bench")


def run_size(n: int, due_per_tick: int, ticks: int, url: str | None, workdir: Path) -> dict[str, float]:
    db_url, drop = database(url, workdir, str(n))
    engine = make_engine(db_url, pool_size=5)
    try:
        migrate(engine)
        sessions = make_session_factory(engine)
        clock = FrozenClock(T0)
        settings = load_settings({}, env="test", database_url=db_url, forms_dir=ROOT / "tests" / "forms",
                                 scheduler="off")
        forms = FormStore(settings.forms_dir)
        with write_intent(), sessions() as s:
            demo.load_demo(s, clock.now())
            forms = deployed_forms(s, clock.now())  # the app reads deployed forms (issue 15)
            repository.deploy(s, DEADLINE.read_bytes(), DEADLINE.name, "bench", clock.now(), forms, 5 << 20)
            template = Runtime(s, clock, settings, forms).start("deadline_test", {"unit_id": "xuchang"}, None)
            s.commit()
            row = {c: getattr(template, c) for c in (
                "definition_id", "process_key", "status", "title", "scope_node_id", "unit_id", "started_at",
                "updated_at", "state", "data", "version")}
            timer_due = template.next_timer_at
        assert timer_due is not None
        seed_start = time.perf_counter()
        total_due = due_per_tick * ticks
        rows = []
        with write_intent(), engine.begin() as conn:
            for i in range(n - 1):
                r = dict(row)
                if i < total_due:  # tick k (k = 0..ticks-1) finds exactly `due_per_tick` of these due
                    r["next_timer_at"] = timer_due + timedelta(minutes=i // due_per_tick)
                else:  # waiting on a timer that is not due yet
                    r["next_timer_at"] = timer_due + timedelta(days=30, seconds=i)
                rows.append(r)
                if len(rows) == 5000:
                    conn.execute(insert(ProcessInstance), rows)
                    rows = []
            if rows:
                conn.execute(insert(ProcessInstance), rows)
            # the template instance is not due either
            conn.execute(ProcessInstance.__table__.update().where(ProcessInstance.id == template.id)
                         .values(next_timer_at=timer_due + timedelta(days=60)))
            if engine.dialect.name == "postgresql":
                conn.execute(text("ANALYZE process_instance"))
        seed_s = time.perf_counter() - seed_start
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(ProcessInstance)) == n

        with sessions() as s:
            q = due_instances_query(timer_due, 100).compile(engine, compile_kwargs={"literal_binds": True})
            if engine.dialect.name == "postgresql":
                plan = " | ".join(r[0] for r in s.execute(text(f"EXPLAIN {q}")))
            else:
                plan = " | ".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {q}")))
        fire_ms, idle_ms, query_ms = [], [], []
        for k in range(ticks):
            clock.set(timer_due + timedelta(minutes=k))
            started = time.perf_counter()
            result = tick(sessions, clock, settings)
            fire_ms.append((time.perf_counter() - started) * 1000)
            assert (result.instances, result.timers) == (due_per_tick, due_per_tick), result
            started = time.perf_counter()
            idle = tick(sessions, clock, settings)
            idle_ms.append((time.perf_counter() - started) * 1000)
            assert not idle.busy
            with sessions() as s:
                for _ in range(50):
                    started = time.perf_counter()
                    s.scalars(due_instances_query(clock.now(), 100)).all()
                    query_ms.append((time.perf_counter() - started) * 1000)
        with sessions() as s:
            escalations = s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.spec_id == "escalate"))
        assert escalations == total_due, escalations
        return {"n": n, "seed_s": seed_s, "fire_ms": statistics.median(fire_ms), "fire_all": fire_ms,
                "idle_ms": statistics.median(idle_ms), "query_ms": statistics.median(query_ms),
                "plan": plan}
    finally:
        engine.dispose()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL server URL (a throw-away schema is used); default: a SQLite file")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--due", type=int, default=100, help="due timers per tick")
    parser.add_argument("--ticks", type=int, default=3, help="firing ticks per size (median reported)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite'}; load average before: {load_before}")
    print(f"{'instances':>10} {'seed s':>8} {'tick, 100 due (ms)':>19} {'per timer (ms)':>15} "
          f"{'idle tick (ms)':>15} {'due query (ms)':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = run_size(n, args.due, args.ticks, args.database_url, Path(tmp))
            print(f"{r['n']:>10,} {r['seed_s']:>8.1f} {r['fire_ms']:>19.1f} {r['fire_ms'] / args.due:>15.2f} "
                  f"{r['idle_ms']:>15.2f} {r['query_ms']:>15.3f}   (ticks: "
                  + ", ".join(f"{x:.0f}" for x in r["fire_all"]) + ")")
            print(f"{'':>10} due query plan: {r['plan']}")
    with open("/proc/loadavg") as f:
        print(f"load average after: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
