"""The demo history (engine/org/demo_history.py): what `init-db --demo` leaves behind — records of
every kind the dashboards and registers read, one incident, open tasks for every demo user who has a
task role — made the same way twice from the same seed, and never twice in one database."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import create_app, init_db
from engine.core.forms import FormStore
from engine.infra.clock import FrozenClock
from engine.infra.db import make_engine, make_session_factory
from engine.models import EventLog, HumanTask, ProcessInstance, Record, User
from engine.org import demo_history
from engine.org import nodes as org
from engine.org import policy
from engine.org.demo import demo_users
from tests.demo.conftest import NOW, demo_settings

pytestmark = pytest.mark.once  # SQLite only (tests/demo/conftest.py)
TASK_ROLES = {"secretary", "deputy_secretary", "standing_member", "member", "department", "commissioner"}
CHARTS = ["quarterly-completion", "overdue-tasks", "findings", "clue-dispositions", "punctuality"]


def test_history_holds_every_kind_the_dashboards_and_registers_read(demo):
    made = demo.report["history"]
    for kind in ("monthly_report", "adhoc_report", "clue", "quarterly_unit_status", "quarterly_report",
                 "quarterly_analysis", "commendation", "ledger", "assessment", "special_inspection",
                 "inspection_visit", "inspection_finding", "study_article", "forwarding", "forwarding_receipt"):
        assert made[f"records:{kind}"] > 0, kind
    assert made["bulletin_posts"] == 10 and made["study_entries"] > 100
    # every unit's monthly 例会 / quarterly 学习培训 (13 months from 2026-03 to 2027-03, held on the 20th-22nd:
    # the March 2027 ones lie ahead of the 15th), the two zones' activities in Feb / May / Aug / Nov
    assert (made["meetings"], made["zone_activities"]) == (36, 8)
    with demo.sessions() as s:
        assert made == {**demo_history.counts(s), "bulletin_posts": 10, "study_entries": made["study_entries"]}
        # the history runs from 2026-03-01 (twelve months before March 2027) to the clock's now
        first = s.scalar(select(func.min(ProcessInstance.started_at)))
        last = s.scalar(select(func.max(EventLog.at)))
        assert first.isoformat().startswith("2026-03-01T01:00") and last <= demo.clock.now()
        clues = {r.data["status"] for r in s.scalars(select(Record).where(Record.kind == "clue"))}
        assert {"已了结"} < clues, clues  # closed ones and some still in progress
        findings = {f.get("classification") for r in s.scalars(select(Record).where(Record.kind == "monthly_report"))
                    for f in r.data.get("findings") or []}
        assert {"immediate_fix", "tendency", "discipline_violation", "none"} <= findings
        late = s.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.status == "completed", HumanTask.completed_at > HumanTask.due_at))
        overdue = s.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.status == "open", HumanTask.due_at < demo.clock.now()))
        assert late > 0 and overdue > 0
        # one incident, recorded the way the scheduler records a timer that failed to fire
        [(key, message)] = s.execute(select(ProcessInstance.process_key, ProcessInstance.error_message).where(
            ProcessInstance.status == "error")).all()
        assert key == "adhoc_report" and message.startswith("firing a timer failed: ")
        assert made["incidents"] == 1


def test_every_demo_user_with_a_task_role_has_open_tasks(demo):
    with demo.sessions() as s:
        for username, _name, role, _node in demo_users():
            if role not in TASK_ROLES:
                continue
            p = org.load_principal(s, s.scalars(select(User).where(User.username == username)).one())
            n = s.scalar(select(func.count()).select_from(HumanTask).where(
                HumanTask.status == "open", policy.tasks_offered(p)))
            assert n > 0, username
            assert demo.api.tasks(username), username


def test_every_chart_has_data_for_this_year_and_this_quarter(demo):
    """The API's default period (the whole year) and the dashboard page's (this quarter)."""
    for params in ({}, {"year": 2027, "quarter": 1}):
        for chart in CHARTS:
            r = demo.api.get(f"/api/v1/dashboard/{chart}", "group_secretary", query_string=params)
            assert r.status_code == 200, r.get_json()
            body = r.get_json()
            assert body["year"] == 2027
            assert sum(sum(s["data"]) for s in body["series"]) > 0, (chart, params)
    page = demo.api.get("/dashboard", "group_secretary")
    assert page.status_code == 200


def test_registers_and_reports_have_data(demo):
    for path, params in (("/api/v1/clues", {}), ("/api/v1/commendations", {}), ("/api/v1/ledger", {}),
                         ("/api/v1/bulletin", {}), ("/api/v1/study/articles", {}),
                         ("/api/v1/study/entries", {"username": "xinsheng_laogan"})):
        r = demo.api.get(path, "group_secretary", query_string={"per_page": 100, **params})
        assert r.status_code == 200, (path, r.get_json())
        assert r.get_json()["total"] > 0, path
    r = demo.api.get("/api/v1/reports/linkage", "group_secretary", query_string={"period": "2027-Q1"})
    assert r.status_code == 200
    assert sum(row["tasks"]["completed"] for row in r.get_json()["rows"]) > 0, r.get_json()
    r = demo.api.get("/api/v1/reports/quarterly", "group_secretary", query_string={"year": 2027, "quarter": 1})
    assert r.status_code == 200 and r.get_json()["items"], r.get_json()
    r = demo.api.get("/api/v1/search", "group_secretary", query_string={"q": "考勤"})
    assert r.status_code == 200 and r.get_json()["total"] > 0, r.get_json()
    r = demo.api.get("/api/v1/process-instances", "admin", query_string={"incident": "true"})
    assert r.status_code == 200 and r.get_json()["total"] == 1


def test_a_second_init_db_adds_no_history(demo):
    with demo.sessions() as s:
        before = demo_history.counts(s)
    again = init_db(demo.app, demo=True, history=True)
    assert again["history"] is None and again["deployed"] == []
    with demo.sessions() as s:
        assert demo_history.counts(s) == before


def test_same_seed_same_history(tmp_path: Path, forms_dir: Path):
    """Two months on two fresh databases: the same records, instances and tasks."""
    made = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        settings = demo_settings(folder, forms_dir)
        engine = make_engine(settings.database_url)
        app = create_app(settings, clock=FrozenClock(NOW), engine=engine)
        init_db(app, demo=True, deploy=False)
        sessions = make_session_factory(engine)
        counts = demo_history.generate(sessions, settings, FormStore(settings.forms_dir), FrozenClock(NOW).now(),
                                       seed=7, months=2)
        with sessions() as s:
            tasks = s.execute(select(HumanTask.spec_id, HumanTask.node_id, HumanTask.status, HumanTask.due_at,
                                     HumanTask.completed_at).order_by(HumanTask.id)).all()
        made.append((counts, tasks))
        engine.dispose()
    assert made[0] == made[1]
    assert made[0][0]["records:monthly_report"] > 0 and made[0][0]["incidents"] == 1
