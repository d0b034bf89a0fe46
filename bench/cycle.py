"""(4) Cycle start and (2) fan-out flatness, on SQLite files.

Cycle start: an organisation of 50 units × 20 branches (1,000 commissioners), the built-in
processes/monthly_report.bpmn deployed (its timer start: 09:00 on the 1st of each month);
the clock moves to 09:00:05 on the 1st and one scheduler tick (engine.core.scheduler.tick, as the
scheduler process runs it) fires the schedule: the cycle instance starts, fans out one child
instance per branch (DetachedCallActivity), each child runs its script and opens the branch's
撰写月度书面报告 task, all in one transaction. Timed from the tick's start to that transaction's commit (the tasks
are on the worklists then; the same tick then turns the 1,000 task_created events into
notifications, reported separately), then checked: 1,000 open tasks, one per commissioner.

Fan-out flatness: in that 1,000-branch cycle and in a cycle of 10 branches (1 unit), complete
one branch's report task (Runtime.complete + commit, one session per completion as a request
has) for several branches; median per completion, and the ratio of the two.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import ROOT, build_org, database, deployed_forms, open_engine, summary

FORM = {"summary": "本月未发现问题。", "findings": []}
DEPLOY_AT = "2027-01-31T12:00:00+08:00"
FIRE_AT = "2027-02-01T09:00:05+08:00"


def cycle(workdir: Path, units: int, branches: int, completions: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from engine.org import nodes as org
    from engine.core import repository
    from engine.infra.clock import FrozenClock
    from engine.infra.db import make_session_factory, write_intent
    from engine.core.forms import FormStore
    from engine.models import HumanTask, ProcessInstance, User
    from engine.core.runtime import Runtime
    from engine.core import schedule_fire, scheduler
    from engine.infra.settings import load_settings

    n = units * branches
    with database("sqlite", workdir, f"cycle-{n}") as db:
        engine = open_engine(db)
        clock = FrozenClock(DEPLOY_AT)
        build_org(engine, units, branches, clock.now())
        settings = load_settings({}, env="test", database_url=db.url, forms_dir=ROOT / "forms", scheduler="off")
        forms = FormStore(settings.forms_dir)
        sessions = make_session_factory(engine)
        path = ROOT / "processes" / "monthly_report.bpmn"
        with write_intent(), sessions() as s:
            forms = deployed_forms(s, clock.now())  # the app reads deployed forms (issue 15)
            repository.deploy(s, path.read_bytes(), path.name, "bench", clock.now(), forms, 5 << 20)
            s.commit()
        clock.set(FIRE_AT)
        # the tick commits the schedule's firing (cycle, children, tasks) before it turns to the
        # notifications of the new tasks: time both ends
        committed: list[float] = []
        fire = schedule_fire._fire_schedule

        def timed_fire(*a: Any, **kw: Any) -> Any:
            try:
                return fire(*a, **kw)
            finally:
                committed.append(time.perf_counter())

        schedule_fire._fire_schedule = timed_fire
        try:
            t0 = time.perf_counter()
            result = scheduler.tick(sessions, clock, settings)
            tick_s = time.perf_counter() - t0
        finally:
            schedule_fire._fire_schedule = fire
        worklist_s = committed[0] - t0 if committed else float("nan")
        with sessions() as s:
            open_tasks = s.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.status == "open", HumanTask.spec_id == "write_report"))
            nodes = s.scalar(select(func.count(func.distinct(HumanTask.node_id))).where(HumanTask.status == "open"))
            children = s.scalar(select(func.count()).select_from(ProcessInstance).where(
                ProcessInstance.parent_id.is_not(None)))
        if len(result.started) != 1 or open_tasks != n or nodes != n or children != n:
            raise RuntimeError(f"the cycle did not open {n} tasks: {result}, open {open_tasks}, nodes {nodes}, "
                               f"children {children}")
        # fan-out: complete the report of `completions` branches spread over the organisation
        with sessions() as s:
            rows = s.execute(select(HumanTask.id, HumanTask.node_id).where(HumanTask.status == "open")
                             .order_by(HumanTask.id)).all()
        step = max(1, len(rows) // completions)
        picked = rows[::step][:completions]
        ms: list[float] = []
        for task_id, node_id in picked:
            username = node_id.replace("-", "_")
            t1 = time.perf_counter()
            with write_intent(), sessions() as s:
                user = s.scalars(select(User).where(User.username == username)).one()
                Runtime(s, clock, settings, forms).complete(task_id, dict(FORM), org.load_principal(s, user))
                s.commit()
            ms.append((time.perf_counter() - t1) * 1000)
        engine.dispose()
    return {"tick_s": tick_s, "worklist_s": worklist_s, "open_tasks": open_tasks, "complete": summary(ms[2:] if len(ms) > 4 else ms)}


def run(args: Any, workdir: Path) -> list[dict[str, Any]]:
    completions = 8 if args.quick else 25
    big = cycle(workdir, 50, 20, completions)
    small = cycle(workdir, 1, 10, min(completions, 10))
    ratio = big["complete"]["median_ms"] / small["complete"]["median_ms"]
    return [
        {"name": "cycle_start_1000_branches", "value": round(big["worklist_s"], 2), "unit": "s",
         "target": "≤ 10 s (SQLite)", "pass": big["worklist_s"] <= 10.0, "open_tasks": big["open_tasks"],
         "whole_tick_s": round(big["tick_s"], 2), "small_cycle_s": round(small["worklist_s"], 3)},
        {"name": "cycle_tick_with_notifications", "value": round(big["tick_s"], 2), "unit": "s",
         "target": "reference", "pass": None},
        {"name": "fanout_complete_1000_branches", "value": big["complete"]["median_ms"], "unit": "ms median",
         "p95_ms": big["complete"]["p95_ms"], "target": "reference", "pass": None},
        {"name": "fanout_complete_10_branches", "value": small["complete"]["median_ms"], "unit": "ms median",
         "p95_ms": small["complete"]["p95_ms"], "target": "reference", "pass": None},
        {"name": "fanout_1000_vs_10", "value": round(ratio, 2), "unit": "×", "target": "≤ 1.5×",
         "pass": ratio <= 1.5},
    ]


