"""One visibility rule for task data: the task page never shows more than `GET /api/v1/tasks/{id}`
shows the same person (engine/services/task_view.py), and neither shows steps of calling instances the
person may not trace (issue 13, item 1).

Every free text entered below carries a unique marker (MK0001, MK0002, …), so a value can be
followed from the form it was entered in to every page and API answer that shows it.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import select

from engine.infra.settings import ROOT
from engine.models import HumanTask, ProcessInstance, RoleAssignment, User
from engine.org.nodes import load_principal
from engine.org.routing import candidates, instance_visible_clause
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user's token

PROCESSES = ROOT / "processes"
MARKER = re.compile(r"MK\d{4}")
BRANCHES = {
    "xinsheng": ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"],
    "xuchang": ["xuchang-zongcai", "xuchang-juejin", "xuchang-tongfeng"],
    "daizhuang": ["daizhuang-caimei", "daizhuang-yunshu", "daizhuang-jidian"],
}


class Driver:
    """Plays procedures through the API: finds open tasks in the database, completes them as
    their first candidate, and hands out unique markers for free texts."""

    def __init__(self, api: Any, sessions: Any) -> None:
        self.api, self.sessions, self.n = api, sessions, 0

    def mk(self, text: str = "") -> str:
        self.n += 1
        return f"{text} MK{self.n:04d}".strip()

    def deploy(self, *files: str) -> None:
        for f in files:
            assert self.api.deploy(PROCESSES / f).status_code == 201, f

    def start(self, key: str, user: str) -> int:
        r = self.api.post(f"/api/v1/process-definitions/{key}/start", user, json={"variables": {}})
        assert r.status_code == 201, r.get_json()
        return int(r.get_json()["id"])

    def open_tasks(self) -> list[tuple[int, str, str, list[str]]]:
        """(task id, spec id, node id, candidate usernames) of every open task, oldest first."""
        with self.sessions() as s:
            tasks = s.scalars(select(HumanTask).where(HumanTask.status == "open").order_by(HumanTask.id)).all()
            return [(t.id, t.spec_id, t.node_id, [u.username for u in candidates(s, t)]) for t in tasks]

    def complete(self, spec_id: str, node_id: str, data: dict[str, Any], instance_id: int | None = None) -> int:
        for tid, spec, node, users in self.open_tasks():
            if spec == spec_id and node == node_id and (instance_id is None or self.root_of(tid) == instance_id):
                r = self.api.post(f"/api/v1/tasks/{tid}/complete", users[0], json={"data": data})
                assert r.status_code == 200, (spec_id, node_id, r.get_json())
                return tid
        raise AssertionError(f"no open task {spec_id}@{node_id}")

    def root_of(self, task_id: int) -> int:
        with self.sessions() as s:
            return int(s.get(HumanTask, task_id).root_instance_id)

    # ---- 专项监督检查 ----------------------------------------------------------------------------
    def inspection(self, units: list[str]) -> int:
        iid = self.start("special_inspection", "group_secretary")
        self.complete("deploy_inspection", "group", {
            "topic": "职工薪酬分配", "requirements": self.mk("检查要求"), "selfcheck_deadline": "2027-01-25",
            "scope_units": units}, iid)
        return iid

    def visit(self, branch: str, iid: int) -> None:
        self.complete("visit", branch, {
            "visit_mode": "暗访", "visit_date": "2027-01-12", "visit_places": self.mk("工资发放现场"),
            "visit_findings": [{"problem": self.mk("虚报出勤"), "person": self.mk("某班长"), "severity": "较重"}],
            "visit_conclusion": self.mk("结论")}, iid)

    def selfcheck(self, unit: str, iid: int) -> None:
        self.complete("dept_selfcheck", unit, {
            "departments": self.mk("人力资源部"), "dept_summary": self.mk("已自查"),
            "dept_problems": [{"problem": self.mk("公示期不足"), "measure": self.mk("延长公示"), "status": "已整改"}]}, iid)

    def summary(self, unit: str, iid: int) -> None:
        self.complete("unit_selfcheck_summary", unit, {
            "selfcheck_summary": self.mk("自查自纠报告"), "problems_found": 1, "problems_rectified": 1}, iid)

    def inspect_fully(self, units: list[str], iid: int) -> None:
        for u in units:
            for b in BRANCHES[u]:
                self.visit(b, iid)
            self.selfcheck(u, iid)
            self.summary(u, iid)

    def central_check(self, iid: int, findings: list[dict[str, Any]], summary: str, note: str) -> None:
        self.complete("choose_mode", "group", {"mode": "集中检查", "mode_note": note}, iid)
        self.complete("central_check", "group", {"findings": findings, "check_summary": summary}, iid)

    # ---- 季度联动任务 ----------------------------------------------------------------------------
    def quarterly(self) -> int:
        iid = self.start("quarterly_tasks", "group_secretary")
        self.complete("draft_tasks", "group", {
            "task_title": self.mk("2027年第一季度任务"), "content": self.mk("联动主要内容"),
            "tasks": [{"title": self.mk("薪酬分配公示监督"), "requirement": self.mk("检查公示"), "deadline": "2027-03-20"}],
            "requirements": self.mk("相关要求"), "unit_scope": "all"}, iid)
        return iid

    def plan(self, unit: str, iid: int) -> None:
        self.complete("draft_plan", unit, {"plan": self.mk("实施方案"), "items": [
            {"title": self.mk("薪酬公示检查"), "requirement": self.mk("落实要求"), "deadline": "2027-03-15"}]}, iid)

    def implement(self, branch: str, iid: int) -> None:
        self.complete("implement", branch, {"results": [
            {"item_no": 1, "status": "completed", "description": self.mk("已落实")}], "summary": self.mk("总体情况")}, iid)


class Page(HTMLParser):
    """What the task page shows as data: each earlier step (with its instance) and its text, and
    the other process data (keys and text)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.steps: list[tuple[int, int]] = []
        self.step_text: dict[int, str] = {}
        self.other_keys: list[str] = []
        self.other_text = ""
        self._step: int | None = None
        self._other = 0  # depth inside the other-data section
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "article" and a.get("data-task-id"):
            self._step = int(a["data-task-id"] or 0)
            self.steps.append((self._step, int(a["data-instance-id"] or 0)))
            self.step_text[self._step] = ""
        if tag == "section" and a.get("id") == "other-data":
            self._other = 1
        elif tag == "section" and self._other:
            self._other += 1
        if tag == "dt" and a.get("data-key") is not None:
            self.other_keys.append(a["data-key"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self._step = None
        if tag == "section" and self._other:
            self._other -= 1

    def handle_data(self, data: str) -> None:
        if self._step is not None:
            self.step_text[self._step] += data
        if self._other:
            self.other_text += data


def markers(text: str) -> set[str]:
    return set(MARKER.findall(text))


def page_and_api(api: Any, user: str, task_id: int) -> tuple[Any, Any]:
    return api.get(f"/tasks/{task_id}", user), api.get(f"/api/v1/tasks/{task_id}", user)


# ---- the reproduction of issue 13, item 1 -----------------------------------------------------------------

def test_unit_task_hides_the_group_check_of_other_units(api, sessions):
    """A special inspection of 新升实业 and 许厂煤矿 whose group check names a 许厂 person for clue
    transfer: 新升's committee opening its own rectification task sees neither that person, nor the
    group's summary, nor its note — on the page as in the API (the page showed all three)."""
    d = Driver(api, sessions)
    d.deploy("special_inspection.bpmn", "clue_disposal.bpmn")
    iid = d.inspection(["xinsheng", "xuchang"])
    d.inspect_fully(["xinsheng", "xuchang"], iid)
    own = "奖金分配方案未公示 OWN-PROBLEM"
    d.central_check(iid, [
        {"unit_id": "xinsheng", "problem": own, "handling": "限期整改", "deadline": "2027-02-28"},
        {"unit_id": "xuchang", "problem": "套取冒领奖金", "handling": "移交问题线索", "person": "许某某 XUCHANG-PERSON"},
    ], "GROUP-SUMMARY 两单位检查情况", "GROUP-NOTE 集中检查说明")
    [(tid, _spec, _node, users)] = [t for t in d.open_tasks() if t[1] == "rectify"]
    assert sorted(users) == ["xinsheng_deputy", "xinsheng_member", "xinsheng_secretary", "xinsheng_standing"]
    secrets = ("XUCHANG-PERSON", "GROUP-SUMMARY", "GROUP-NOTE")
    for user in ("xinsheng_secretary", "xinsheng_member"):
        page, detail = page_and_api(api, user, tid)
        assert page.status_code == 200 and detail.status_code == 200
        html, body = page.get_data(as_text=True), detail.get_data(as_text=True)
        assert own in html and own in body  # their own finding to rectify is there
        for secret in secrets:
            assert secret not in html, (user, secret)
            assert secret not in body, (user, secret)
    # the group, who may trace the inspection, sees all three on its own check's page (the note as earlier input)
    with sessions() as s:
        check = s.scalars(select(HumanTask.id).where(HumanTask.spec_id == "central_check")).one()
    page, detail = page_and_api(api, "group_secretary", check)
    assert page.status_code == 200 and detail.status_code == 200
    assert all(secret in page.get_data(as_text=True) for secret in secrets)
    assert all(secret in detail.get_data(as_text=True) for secret in secrets)


# ---- every open task, every candidate: the page shows nothing the API does not -------------------------

def play_fan_outs(d: Driver) -> None:
    """Two special inspections and a quarter's tasks, each left at a different stage: tasks open
    at the group, unit, department and branch tiers, in instances three levels deep."""
    d.deploy("special_inspection.bpmn", "clue_disposal.bpmn", "quarterly_tasks.bpmn")
    a = d.inspection(["xinsheng", "xuchang"])  # 新升 summing up its part, 许厂 half-way
    for b in BRANCHES["xinsheng"]:
        d.visit(b, a)
    d.selfcheck("xinsheng", a)
    d.visit("xuchang-zongcai", a)
    b = d.inspection(["xuchang", "daizhuang"])  # checked: rectification at 许厂, a clue at 岱庄
    d.inspect_fully(["xuchang", "daizhuang"], b)
    d.central_check(b, [
        {"unit_id": "xuchang", "problem": d.mk("奖金未公示"), "handling": "限期整改", "deadline": "2027-02-28"},
        {"unit_id": "daizhuang", "problem": d.mk("套取奖金"), "handling": "移交问题线索", "person": d.mk("李某")},
    ], d.mk("检查情况"), d.mk("说明"))
    c = d.inspection(["daizhuang"])  # the group chooses how to check
    d.inspect_fully(["daizhuang"], c)
    q = d.quarterly()  # every unit plans; 新升 broke its plan down to its branches, one reported
    d.plan("xinsheng", q)
    d.implement("xinsheng-laogan", q)


@pytest.mark.once  # pages vs API through the same services: the SQLite pass (.ci/run)
def test_every_task_page_shows_only_what_the_api_shows(api, sessions):
    d = Driver(api, sessions)
    play_fan_outs(d)
    tasks = d.open_tasks()
    tiers = {}
    with sessions() as s:
        for t in s.scalars(select(HumanTask).where(HumanTask.status == "open")):
            tiers[t.id] = t.tier
        users = {u.username: load_principal(s, u) for u in s.scalars(select(User))}
        node_holders = {(r.node_id, u) for r, u in s.execute(
            select(RoleAssignment, User.username).join(User, User.id == RoleAssignment.user_id))}
        # per user: the instances they may trace, and the markers only other instances hold
        data: dict[int, set[str]] = {}
        for i in s.scalars(select(ProcessInstance)):
            data.setdefault(i.id, set()).update(markers(json.dumps(i.data, ensure_ascii=False)))
        for t in s.scalars(select(HumanTask)):
            data.setdefault(t.instance_id, set()).update(markers(json.dumps(t.data or {}, ensure_ascii=False)))
        traceable = {name: set(s.scalars(select(ProcessInstance.id).where(instance_visible_clause(p))))
                     for name, p in users.items()}
    assert len(tasks) >= 12 and set(tiers.values()) == {"group", "unit", "branch", "department"}, [t[:3] for t in tasks]
    everyone = sorted(users)
    compared = shown_values = 0
    for tid, spec, node, cands in tasks:
        assert cands, (spec, node)
        others = [u for u in everyone if (node, u) not in node_holders and not users[u].is_admin][::6]
        assert len(others) >= 4  # a spread of people with no role on the task's node
        for user in cands + ["admin"] + others:
            page, detail = page_and_api(api, user, tid)
            if user in others:
                assert (page.status_code, detail.status_code) == (404, 404), (user, spec, node)
                continue
            assert (page.status_code, detail.status_code) == (200, 200), (user, spec, node)
            html, view = page.get_data(as_text=True), detail.get_json()
            shown = Page(html)
            # the same earlier steps, from the same instances, all of them instances the user may trace
            assert sorted(shown.steps) == sorted((s["task_id"], s["instance_id"]) for s in view["previous"]), \
                (user, spec, node)
            assert {i for _t, i in shown.steps} <= traceable[user], (user, spec, node)
            assert set(shown.other_keys) <= set(view["context"]), (user, spec, node)
            # each step shows its own data, the other process data the instance's variables
            api_steps = {s["task_id"]: json.dumps(s["data"], ensure_ascii=False) for s in view["previous"]}
            for step, text in shown.step_text.items():
                assert markers(text) <= markers(api_steps[step]), (user, spec, node, step)
                shown_values += len(markers(text))
            assert markers(shown.other_text) <= markers(json.dumps(view["context"], ensure_ascii=False))
            # every value the page shows is in the API's answer; none comes from an untraceable instance
            page_markers = markers(html)
            assert page_markers <= markers(json.dumps(view, ensure_ascii=False)), (user, spec, node)
            hidden = set().union(*(m for i, m in data.items() if i not in traceable[user]))
            visible = set().union(*(m for i, m in data.items() if i in traceable[user]))
            assert not page_markers & (hidden - visible), (user, spec, node, page_markers & (hidden - visible))
            compared += 1
    assert compared == sum(len(c) + 1 for *_t, c in tasks)
    assert shown_values >= 80  # the pages do show earlier input: the comparison is not vacuous


class InstancePage(HTMLParser):
    """The instance page's links to other instances: its parent and the listed children."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.linked: set[int] = set()
        self.children: set[int] = set()
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        href = a.get("href") or ""
        m = re.fullmatch(r"/instances/(\d+)", href)
        if tag == "a" and m:
            self.linked.add(int(m.group(1)))
        if tag == "tr" and a.get("data-instance-id"):
            self.children.add(int(a["data-instance-id"] or 0))


@pytest.mark.once  # pages vs API through the same services: the SQLite pass (.ci/run)
def test_every_instance_page_shows_only_what_the_api_shows(api, sessions):
    d = Driver(api, sessions)
    play_fan_outs(d)
    readers = ["group_member", "xinsheng_secretary", "xuchang_member", "xinsheng_laogan", "admin", "owner"]
    with sessions() as s:
        instances = list(s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))
        principals = {u.username: load_principal(s, u) for u in s.scalars(select(User).where(User.username.in_(readers)))}
        traceable = {name: set(s.scalars(select(ProcessInstance.id).where(instance_visible_clause(p))))
                     for name, p in principals.items()}
    assert len(instances) >= 25
    compared = 0
    for iid in instances:
        for user in readers:
            page = api.get(f"/instances/{iid}", user)
            detail = api.get(f"/api/v1/process-instances/{iid}", user)
            history = api.get(f"/api/v1/process-instances/{iid}/history", user, query_string={"per_page": 500})
            if iid not in traceable[user]:
                assert (page.status_code, detail.status_code, history.status_code) == (404, 404, 404), (user, iid)
                continue
            assert (page.status_code, detail.status_code, history.status_code) == (200, 200, 200), (user, iid)
            html = page.get_data(as_text=True)
            shown = InstancePage(html)
            # links (parent, children, messages) and listed children: only instances the user may trace
            assert shown.linked - {iid} <= traceable[user], (user, iid, shown.linked - traceable[user])
            assert shown.children <= traceable[user], (user, iid)
            api_text = detail.get_data(as_text=True) + history.get_data(as_text=True)
            assert markers(html) <= markers(api_text), (user, iid, markers(html) - markers(api_text))
            compared += 1
    assert compared >= 50
