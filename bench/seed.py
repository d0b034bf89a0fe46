"""Bulk seeding of a worklist database: N instances, 10 task rows each, by SQL alone.

    .venv/bin/python -m bench.seed --instances 100000 --database-url sqlite:///bench/.data/w.db

The organisation is 50 units × 20 branches (bench/common.py:build_org). Instances are rows of
`monthly_report_branch` (the definition deployed from processes/), inserted with one
`INSERT … SELECT` over a generated series (recursive CTE on SQLite, generate_series on
PostgreSQL): no engine, no ORM, seconds instead of hours. `RUNNING` = 1,000 instances are
running with one open task each, every other instance and every other task is completed
history. The running ones sit on the same org nodes whatever N is (instance x belongs to
branch (x // stride) % 1000, stride = N / 1000), so a user's worklist holds the same rows
in a database of 1,000 instances and one of 100,000: what grows is the history around them.
A running instance j has its open task at its branch (j even, 撰写月度书面报告) or at the
branch's unit (j odd, 梳理分析).
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from .common import ROOT, build_org, deployed_forms

UNITS, BRANCHES, RUNNING, TASKS_PER_INSTANCE = 50, 20, 1000, 10
TS = "2026-11-01 01:00:00"
SEED_VERSION = 1


def _pad(dialect: str, expr: str) -> str:
    return f"printf('%02d', {expr})" if dialect == "sqlite" else f"lpad(({expr})::text, 2, '0')"


def _series(dialect: str, n: int, name: str) -> tuple[str, str]:
    """(prefix, from-clause) generating `name` = 0 … n-1."""
    if dialect == "sqlite":
        return (f"WITH RECURSIVE s({name}) AS (SELECT 0 UNION ALL SELECT {name} + 1 FROM s WHERE {name} < {n - 1}) ",
                "FROM s")
    return "", f"FROM generate_series(0, {n - 1}) AS s({name})"


def seed(engine: Engine, n: int) -> dict[str, Any]:
    from engine.core import repository
    from engine.infra.db import make_session_factory, write_intent
    from engine.models import HumanTask, ProcessDefinition, ProcessInstance

    assert n >= RUNNING and n % RUNNING == 0, "instances must be a multiple of 1,000"
    d = engine.dialect.name
    t0 = time.perf_counter()
    now = datetime(2026, 11, 1, 1, tzinfo=timezone.utc)
    org = build_org(engine, UNITS, BRANCHES, now)
    ids = org["user_ids"]
    # build_org inserts admin, then per unit its member and its 20 commissioners, in order
    first = ids["admin"]
    assert ids["u03_member"] == first + 1 + 3 * (BRANCHES + 1)
    assert ids["u03_b07"] == first + 2 + 3 * (BRANCHES + 1) + 7
    with write_intent(), make_session_factory(engine)() as s:
        path = ROOT / "processes" / "monthly_report.bpmn"
        repository.deploy(s, path.read_bytes(), path.name, "bench", now, deployed_forms(s, now), 5 << 20)
        s.commit()
        definition = s.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "monthly_report_branch"))
    stride = n // RUNNING
    ts = f"'{TS}.000000'" if d == "sqlite" else f"CAST('{TS}' AS TIMESTAMP)"
    blob = "X''" if d == "sqlite" else "''::bytea"
    k = f"((x / {stride}) % {UNITS * BRANCHES})"  # branch index of instance x
    unit = f"'u' || {_pad(d, f'{k} / {BRANCHES}')}"
    branch = f"{unit} || '-b' || {_pad(d, f'{k} % {BRANCHES}')}"
    running = f"(x % {stride} = 0)"
    prefix, source = _series(d, n, "x")
    with engine.begin() as conn:
        conn.execute(text(
            f"{prefix}INSERT INTO process_instance (id, definition_id, process_key, status, title, scope_node_id, "
            f"unit_id, root_id, started_at, updated_at, ended_at, state, data, version) "
            f"SELECT x + 1, {definition}, 'monthly_report_branch', "
            f"CASE WHEN {running} THEN 'running' ELSE 'completed' END, '月度书面报告 ' || {branch}, {branch}, "
            f"{unit}, x + 1, {ts}, {ts}, CASE WHEN {running} THEN NULL ELSE {ts} END, {blob}, '{{}}', 1 {source}"))
    t_inst = time.perf_counter() - t0
    # tasks: y = 0 … 10N-1, instance x = y / 10, row i = y % 10 (even: branch write, odd: unit review)
    x = f"(y / {TASKS_PER_INSTANCE})"
    i = f"(y % {TASKS_PER_INSTANCE})"
    ky = k.replace("x", x)
    unit_y = f"'u' || {_pad(d, f'{ky} / {BRANCHES}')}"
    branch_y = f"{unit_y} || '-b' || {_pad(d, f'{ky} % {BRANCHES}')}"
    j = f"({x} / {stride})"
    is_open = f"({x} % {stride} = 0 AND {i} = 8 + ({j} % 2))"
    member = f"({first} + 1 + ({ky} / {BRANCHES}) * {BRANCHES + 1})"
    commissioner = f"({first} + 2 + ({ky} / {BRANCHES}) * {BRANCHES + 1} + {ky} % {BRANCHES})"
    actor = f"CASE WHEN {i} % 2 = 0 THEN {commissioner} ELSE {member} END"
    due = (f"datetime('{TS}', '+' || ({j} % 1440) || ' minutes') || '.000000'" if d == "sqlite"
           else f"CAST('{TS}' AS TIMESTAMP) + ({j} % 1440) * INTERVAL '1 minute'")
    prefix, source = _series(d, n * TASKS_PER_INSTANCE, "y")
    with engine.begin() as conn:
        conn.execute(text(
            f"{prefix}INSERT INTO task (instance_id, root_instance_id, task_guid, spec_id, name, process_key, lane, "
            f"tier, node_id, unit_id, candidate_roles, form_key, assignee_id, status, created_at, due_at, "
            f"completed_at, completed_by_id) "
            f"SELECT {x} + 1, {x} + 1, 't' || y, "
            f"CASE WHEN {i} % 2 = 0 THEN 'write_report' ELSE 'review_report' END, "
            f"CASE WHEN {i} % 2 = 0 THEN '撰写月度书面报告' ELSE '梳理分析、逐条分类处置' END, 'monthly_report_branch', "
            f"CASE WHEN {i} % 2 = 0 THEN '基层党支部纪律检查委员' ELSE '权属单位纪委' END, "
            f"CASE WHEN {i} % 2 = 0 THEN 'branch' ELSE 'unit' END, "
            f"CASE WHEN {i} % 2 = 0 THEN {branch_y} ELSE {unit_y} END, {unit_y}, NULL, "
            f"CASE WHEN {i} % 2 = 0 THEN 'monthly_report_write.json' ELSE 'monthly_report_review.json' END, "
            f"CASE WHEN {is_open} THEN NULL ELSE {actor} END, "
            f"CASE WHEN {is_open} THEN 'open' ELSE 'completed' END, {ts}, {due}, "
            f"CASE WHEN {is_open} THEN NULL ELSE {ts} END, CASE WHEN {is_open} THEN NULL ELSE {actor} END "
            f"{source}"))
        conn.execute(text("ANALYZE"))
    with engine.connect() as conn:
        counts = {"instances": conn.scalar(select(func.count()).select_from(ProcessInstance)),
                  "tasks": conn.scalar(select(func.count()).select_from(HumanTask)),
                  "open_tasks": conn.scalar(select(func.count()).select_from(HumanTask)
                                            .where(HumanTask.status == "open"))}
    assert counts == {"instances": n, "tasks": n * TASKS_PER_INSTANCE, "open_tasks": RUNNING}, counts
    return {**counts, "instances_s": round(t_inst, 1), "seed_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    from .common import Database, open_engine

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=100_000)
    ap.add_argument("--database-url", required=True, help="an empty database (sqlite:///FILE or postgresql+psycopg://…)")
    args = ap.parse_args()
    engine = open_engine(Database(args.database_url, "", lambda: None))
    print(seed(engine, args.instances))


if __name__ == "__main__":
    main()
