"""Search at the demo's size × 100 (issue 18 item 2: ≤ 100 ms p95).

    .venv/bin/python -m bench.search                      # SQLite, 100 copies of a demo year
    .venv/bin/python -m bench.search --pg-url postgresql://127.0.0.1:5432/test
    .venv/bin/python -m bench.search --copies 10 --reps 1 # quicker

The demo organisation (3 units, 9 branches, 45 accounts) is loaded, then `--copies` copies of one
demo year are inserted with Core (no engine): per copy 108 monthly reports of the branches
(instance, record, 3 tasks), 12 clues naming people from a pool of Chinese names (instance,
confidential record, 4 tasks), 12 quarterly reports, 6 ad-hoc reports, 20 bulletin posts and 45
people with Chinese names holding the demo roles; the index is then built with
`engine.platform.search.rebuild`. Timed: `engine.services.search.search` (the API's call: every
kind, page 1 of 50) and `overview` (the page's call: the first 5 of each kind), per query and
reader, in-process, after one warm-up; p50 and p95 over all. Prints the machine's load too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from .common import ROOT, database, open_engine, pct

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红文斌宇浩凯鹏飞"
FACTS = [
    "违规收受礼品礼金",
    "在物资采购中收受供应商购物卡",
    "违规兼职取酬",
    "公车私用",
    "违规发放津贴补贴",
    "在工程项目中插手干预",
    "违规操办婚丧喜庆事宜",
    "工作日饮酒",
    "虚报冒领加班费",
    "落实安全生产责任不力",
]
QUERIES = [
    "张伟",
    "王芳",
    "李娜",
    "刘强军",
    "收受礼品",
    "购物卡",
    "许厂煤矿",
    "月度书面报告",
    "廉洁教育",
    "张",
    "季度工作报告",
    "违规兼职",
    "xinsheng",
    "XS-0042",
    "没有这样的词",
    "综采一区 报告",
]
READERS = ["group_secretary", "xinsheng_secretary", "xinsheng_laogan", "xuchang_member", "admin"]


def name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 1, 2))))


def seed(engine: Any, copies: int) -> dict[str, int]:
    from engine.core import repository
    from engine.core.forms import FormStore
    from engine.infra.db import make_session_factory, write_intent
    from engine.models import HumanTask, ProcessDefinition, ProcessInstance, Record, RoleAssignment, User
    from engine.org import demo
    from engine.platform import search as index
    from engine.platform.models import BulletinPost

    rng = random.Random(18)
    now = datetime(2027, 12, 1, 1, tzinfo=timezone.utc)
    with write_intent(), make_session_factory(engine)() as s:
        demo.load_demo(s, now)
        repository.deploy_directory(s, ROOT / "processes", "bench", now, FormStore(ROOT / "forms"), 5 << 20)
        s.commit()
        defs = dict(s.execute(select(ProcessDefinition.key, ProcessDefinition.id)).all())
        author = s.scalar(select(User.id).where(User.username == "group_secretary"))
    branches = [(b, u, bn, un) for u, un, _s, bs in demo.UNITS for b, bn in bs]
    units = [(u, un) for u, un, _s, _b in demo.UNITS]
    iid = tid = rid = pid = uid = 0
    counts = {"instances": 0, "tasks": 0, "records": 0, "posts": 0, "people": 0}
    with engine.begin() as conn:
        uid = conn.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
        iid = tid = rid = pid = 0
        for c in range(copies):
            inst: list[dict[str, Any]] = []
            tasks: list[dict[str, Any]] = []
            recs: list[dict[str, Any]] = []
            year = 2027 - c // 10
            at = now - timedelta(days=c)

            def instance(key: str, title: str, node: str, unit: str | None) -> int:
                nonlocal iid
                iid += 1
                inst.append(
                    dict(
                        id=iid,
                        definition_id=defs.get(key, defs["monthly_report_branch"]),
                        process_key=key,
                        status="completed",
                        title=title,
                        scope_node_id=node,
                        unit_id=unit,
                        root_id=iid,
                        started_at=at,
                        updated_at=at,
                        state=b"",
                        data={},
                        version=1,
                    )
                )
                return iid

            def task(instance_id: int, task_name: str, tier: str, node: str, unit: str | None) -> None:
                nonlocal tid
                tid += 1
                tasks.append(
                    dict(
                        id=tid,
                        instance_id=instance_id,
                        root_instance_id=instance_id,
                        task_guid=f"g{tid}",
                        spec_id="t",
                        name=task_name,
                        process_key="k",
                        tier=tier,
                        node_id=node,
                        unit_id=unit,
                        status="completed",
                        created_at=at,
                        completed_at=at,
                    )
                )

            def record(kind: str, key: str, node: str, unit: str, secret: bool, data: dict[str, Any], i: int) -> None:
                nonlocal rid
                rid += 1
                recs.append(
                    dict(
                        id=rid,
                        kind=kind,
                        key=key,
                        node_id=node,
                        unit_id=unit,
                        instance_id=i,
                        confidential=secret,
                        data=data,
                        created_at=at,
                        updated_at=at,
                    )
                )

            for month in range(1, 13):
                for b, u, bn, un in branches:
                    period = f"{year}-{month:02d}-{c}"
                    i = instance("monthly_report_branch", f"月度书面报告 · {bn} · {period}", b, u)
                    task(i, "撰写月度书面报告", "branch", b, u)
                    task(i, "梳理分析", "unit", u, u)
                    task(i, "分类处置", "unit", u, u)
                    record(
                        "monthly_report",
                        f"m:{period}:{b}",
                        b,
                        u,
                        False,
                        {
                            "period": period,
                            "branch_name": bn,
                            "summary": f"本月开展廉洁教育学习，{rng.choice(FACTS)}问题自查",
                        },
                        i,
                    )
            for k in range(12):
                u, un = units[k % 3]
                person = name(rng)
                no = f"{u[:2].upper()}-{c:04d}-{k:02d}"
                i = instance("clue_disposal", f"问题线索：{person}", u, u)
                for step in ("登记", "研判", "处置", "办结"):
                    task(i, step, "unit", u, u)
                record(
                    "clue",
                    no,
                    u,
                    u,
                    True,
                    {
                        "clue_no": no,
                        "title": f"反映{person}{rng.choice(FACTS)}问题",
                        "person": person,
                        "facts": f"{person}{rng.choice(FACTS)}",
                        "unit_name": un,
                        "status": "待研判",
                    },
                    i,
                )
            for q in range(4):
                for u, un in units:
                    i = instance("quarterly_report_unit", f"{un}{year}年第{q + 1}季度工作报告", u, u)
                    for step in ("撰写季度工作报告", "审核", "反馈"):
                        task(i, step, "unit", u, u)
                    record(
                        "quarterly_report",
                        f"q:{year}-{q}-{c}:{u}",
                        u,
                        u,
                        False,
                        {"year": year, "quarter": q + 1, "unit_name": un, "work_summary": "本季度落实监督责任"},
                        i,
                    )
            for k in range(6):
                b, u, bn, un = branches[k]
                i = instance("adhoc_report", f"随时报告 · {bn}", b, u)
                task(i, "随时报告", "branch", b, u)
                record(
                    "adhoc_report",
                    f"a:{c}:{k}",
                    b,
                    u,
                    k % 2 == 0,
                    {"subject": f"关于{name(rng)}{rng.choice(FACTS)}的报告", "branch_name": bn, "severity": "routine"},
                    i,
                )
            conn.execute(insert(ProcessInstance), inst)
            conn.execute(insert(HumanTask), tasks)
            conn.execute(insert(Record), recs)
            posts = []
            for k in range(20):
                pid += 1
                posts.append(
                    dict(
                        id=pid,
                        kind="work",
                        title=f"关于开展第{c}期廉洁教育活动的通知（{k}）",
                        body="各单位纪委：请结合实际认真组织学习。" * 5,
                        node_id="group",
                        audience_node_id="group" if k % 2 else units[k % 3][0],
                        author_id=author,
                        pinned=False,
                        created_at=at,
                        updated_at=at,
                    )
                )
            conn.execute(insert(BulletinPost), posts)
            people, roles = [], []
            for username, _display, role, node in demo.demo_users():
                uid += 1
                people.append(
                    dict(
                        id=uid,
                        username=f"{username}_{c}",
                        display_name=name(rng),
                        password_hash="x",
                        active=True,
                        created_at=at,
                        must_change_password=False,
                    )
                )
                roles.append(dict(user_id=uid, role=role, node_id=node))
            conn.execute(insert(User), people)
            conn.execute(insert(RoleAssignment), roles)
            counts["instances"] += len(inst)
            counts["tasks"] += len(tasks)
            counts["records"] += len(recs)
            counts["posts"] += len(posts)
            counts["people"] += len(people)
        counts["entries"] = index.rebuild(conn)
    if engine.dialect.name == "postgresql":  # the statistics autovacuum would gather on a live database
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return counts


def measure(engine: Any, reps: int) -> dict[str, Any]:
    from engine.infra.db import make_session_factory
    from engine.models import User
    from engine.org.nodes import load_principal
    from engine.services import search as service
    from engine.services.paging import PageRequest
    from engine.services.search import SearchFilter

    out: dict[str, list[float]] = {"search": [], "overview": []}
    per_query: dict[str, float] = {}
    with make_session_factory(engine)() as s:
        readers = [load_principal(s, s.scalars(select(User).where(User.username == u)).one()) for u in READERS]
        for p in readers:  # warm-up
            service.search(s, p, SearchFilter("张伟"), PageRequest(1, 50))
        for _ in range(reps):
            for q in QUERIES:
                for p in readers:
                    t = time.perf_counter()
                    service.search(s, p, SearchFilter(q), PageRequest(1, 50))
                    ms = (time.perf_counter() - t) * 1000
                    out["search"].append(ms)
                    per_query[q] = max(per_query.get(q, 0.0), ms)
                    t = time.perf_counter()
                    service.overview(s, p, q, 5)
                    out["overview"].append((time.perf_counter() - t) * 1000)
                    s.rollback()
    return {
        k: {"p50_ms": round(pct(v, 50), 1), "p95_ms": round(pct(v, 95), 1), "max_ms": round(max(v), 1), "n": len(v)}
        for k, v in out.items()
    } | {"slowest_search_per_query_ms": {q: round(v, 1) for q, v in sorted(per_query.items(), key=lambda x: -x[1])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--pg-url", default=None, help="also (only) PostgreSQL: postgresql://127.0.0.1:5432/test")
    args = ap.parse_args()
    kind = "postgresql" if args.pg_url else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp), "search", args.pg_url) as db:
        engine = open_engine(db)
        t = time.perf_counter()
        counts = seed(engine, args.copies)
        seeded = time.perf_counter() - t
        load_before = os.getloadavg()
        result = measure(engine, args.reps)
        engine.dispose()
    print(
        json.dumps(
            {
                "database": kind,
                "copies": args.copies,
                "seed_seconds": round(seeded, 1),
                **counts,
                "load_before": load_before,
                "load_after": os.getloadavg(),
                **result,
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
