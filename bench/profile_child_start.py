"""What the scheduler's worker spends starting a unit's branch instances (the asynchronous
fan-out of the quarter load test), alone: statements, time and CPU per child, and a profile.

    .venv/bin/python -m bench.profile_child_start --database-url postgresql://127.0.0.1:5432/test
    .venv/bin/python -m bench.profile_child_start --database-url … --units 4 --sql --top 40

A throw-away schema gets `--units` units × 20 branches and the two built-in processes; the
quarterly timer fires, the group's task is submitted and each unit's plan (制定实施方案) is
submitted through the Flask test client; then each unit's 20 children are started by
`async_jobs.run_batch`, as the scheduler process does, timed per batch. The first unit warms
the caches and is not counted.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from .common import throwaway_schema
from .load_quarter import DATA, FIRE, seed, user_for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", ""))
    ap.add_argument("--units", type=int, default=6)
    ap.add_argument("--branches", type=int, default=20)
    ap.add_argument("--sql", action="store_true", help="print the statements of the last batch, timed")
    ap.add_argument("--top", type=int, default=0, help="profile the batches after the first and print the top")
    ap.add_argument("--sort", default="cumulative")
    a = ap.parse_args()
    if not a.database_url:
        raise SystemExit("give --database-url postgresql://127.0.0.1:5432/DB")
    os.environ["SANJI_CLOCK_OFFSET"] = (
        f"{(FIRE + timedelta(seconds=5) - datetime.now(FIRE.tzinfo)).total_seconds():.3f}"
    )
    url, drop = throwaway_schema(a.database_url, "child")
    try:
        run(url, a)
    finally:
        drop()


def run(url: str, a: argparse.Namespace) -> None:
    from app import create_app, migrate
    from engine.core import async_jobs, scheduler
    from engine.infra.clock import FrozenClock
    from engine.infra.db import make_engine, make_session_factory
    from engine.models import FanOut, HumanTask

    engine = make_engine(url, pool_size=2)
    migrate(engine)
    seed(make_session_factory(engine), a.units, a.branches, FrozenClock(FIRE - timedelta(minutes=1)).now())
    engine.dispose()
    app = create_app({"database_url": url, "env": "test", "scheduler": "off", "async_fanout_threshold": 10})
    st = app.extensions["sanji"]
    client = app.test_client()
    from engine.models import User
    from engine.org import auth

    def tokens_for(names: set[str]) -> dict[str, str]:
        with st.sessions() as s:
            out = {
                u.username: auth.issue_token(s, u, st.clock.now(), 24)
                for u in s.scalars(select(User).where(User.username.in_(names)))
            }
            s.commit()
        return out

    def complete_open(spec: str) -> int:
        with st.sessions() as s:
            rows = s.execute(
                select(
                    HumanTask.id, HumanTask.spec_id, HumanTask.tier, HumanTask.node_id, HumanTask.candidate_roles
                ).where(HumanTask.status == "open", HumanTask.spec_id == spec)
            ).all()
        tokens = tokens_for({user_for(r) for r in rows})  # type: ignore[arg-type]
        for r in rows:
            h = {"Authorization": f"Bearer {tokens[user_for(r)]}"}  # type: ignore[arg-type]
            resp = client.post(f"/api/v1/tasks/{r.id}/complete", headers=h, json={"data": DATA[spec]})
            if resp.status_code != 200:
                raise SystemExit(f"{spec} {r.id}: {resp.status_code} {resp.get_data(as_text=True)[:300]}")
        return len(rows)

    def drain() -> None:
        for _ in range(200):
            res = scheduler.tick(st.sessions, st.clock, st.settings)
            with st.sessions() as s:
                if (
                    s.scalar(select(FanOut.instance_id).where(FanOut.due_at.is_not(None)).limit(1)) is None
                    and not res.continued
                ):
                    return

    scheduler.tick(st.sessions, st.clock, st.settings)  # the quarterly timer fires
    complete_open("draft_tasks")
    drain()  # the units' instances start
    complete_open("draft_plan")  # each unit's plan: a fan-out row of 20 children each, none started
    with st.sessions() as s:
        # the plan's async step first (kind "step"), then the children
        steps = s.execute(select(FanOut.instance_id, FanOut.task_guid)).all()
    out = async_jobs.Outcome()
    for inst, guid in steps:
        async_jobs.run_batch(st.sessions, st.clock, st.settings, inst, guid, out)
    with st.sessions() as s:
        fans = s.execute(
            select(FanOut.instance_id, FanOut.task_guid)
            .where(FanOut.started < FanOut.total)
            .order_by(FanOut.instance_id)
        ).all()
    print(f"{len(fans)} fan-outs of {a.branches} children queued (batch {st.settings.async_batch})")

    statements = [0]
    trace: list[tuple[str, float]] = []
    started = [0.0]

    def before(*_: Any) -> None:
        statements[0] += 1
        started[0] = time.perf_counter()

    def after(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        trace.append((" ".join(statement.split())[:140], (time.perf_counter() - started[0]) * 1000))

    event.listen(st.engine, "before_cursor_execute", before)
    event.listen(st.engine, "after_cursor_execute", after)
    prof = cProfile.Profile() if a.top else None
    per_child_ms, per_child_cpu, per_child_stmts = [], [], []
    for n, (inst, guid) in enumerate(fans):
        statements[0] = 0
        trace.clear()
        if prof and n:
            prof.enable()
        t, c = time.perf_counter(), time.process_time()
        o = async_jobs.Outcome()
        while async_jobs.run_batch(st.sessions, st.clock, st.settings, inst, guid, o):
            pass
        ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
        if prof and n:
            prof.disable()
        if o.children != a.branches:
            raise SystemExit(f"fan-out {inst}: {o.children} children started, {o.failed} failed")
        if n:
            per_child_ms.append(ms / o.children)
            per_child_cpu.append(cpu / o.children)
            per_child_stmts.append(statements[0] / o.children)
    print(
        f"per child (median of {len(per_child_ms)} units): {statistics.median(per_child_ms):.2f} ms, "
        f"CPU {statistics.median(per_child_cpu):.2f} ms, {statistics.median(per_child_stmts):.1f} statements"
    )
    if a.sql:
        grouped(trace, "the last unit's batches")
        print("--- the last child's statements, in order")
        last = max(i for i, (text, _) in enumerate(trace) if text.startswith("INSERT INTO process_instance"))
        for text, ms in trace[last - 3 : last + 16]:
            print(f"  {ms:6.2f}  {text}")
    # the notifications of the new tasks, as the same tick sends them
    t, c = time.perf_counter(), time.process_time()
    statements[0] = 0
    trace.clear()
    from engine.platform.notify import dispatch

    if prof:
        prof.enable()
    dispatch(st.sessions, st.clock, st.settings)
    if prof:
        prof.disable()
    if a.sql:
        grouped(trace, "the notification pass")
    print(
        f"notification pass after {len(fans)} units: {(time.perf_counter() - t) * 1000:.0f} ms, "
        f"CPU {(time.process_time() - c) * 1000:.0f} ms, {statements[0]} statements"
    )
    if prof:
        from .profile_completion import group

        stats = pstats.Stats(prof).sort_stats(a.sort)
        by_group: dict[str, float] = {}
        for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
            by_group[group(filename, name)] = by_group.get(group(filename, name), 0.0) + row[2]
        whole = sum(by_group.values()) or 1.0
        print("own time by library: " + ", ".join(
            f"{k} {v / whole:.0%}" for k, v in sorted(by_group.items(), key=lambda kv: -kv[1])[:14]))
        stats.print_stats(a.top)


def grouped(trace: list[tuple[str, float]], what: str) -> None:
    counts: dict[str, list[float]] = {}
    for text, ms in trace:
        counts.setdefault(text, []).append(ms)
    print(f"--- statements of {what} (count, total ms)")
    for text, vals in sorted(counts.items(), key=lambda kv: -sum(kv[1])):
        if not text.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            print(f"  {len(vals):4} {sum(vals):8.2f}  {text}")


if __name__ == "__main__":
    main()
