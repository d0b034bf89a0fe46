"""IDOR sweep: every demo account asks for every task, instance and record id in the database.

A realistic scenario is played through the API first (three units at different stages of a
three-tier procedure, branch reports sent up by message, a claimed task, a terminated and a
completed instance). Then, for every account, every id is requested: what the account may see
answers 200, everything else answers 404 with the same body as an id that does not exist,
and no list endpoint returns anything else. Actions on invisible tasks answer 404 and change
nothing.

The oracle below states the visibility rules (docs/bpmn-conventions.md, MISSION.md) in plain
Python over the rows, independently of the SQL clauses the API uses.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import COMMITTEE_ROLES, HumanTask, OrgNode, ProcessInstance, Record, RoleAssignment, User
from tests.conftest import BPMN

TIER_ROLES = {"group": set(COMMITTEE_ROLES), "unit": set(COMMITTEE_ROLES), "branch": {"commissioner"},
              "department": {"department"}}


def play_scenario(api) -> None:
    for f in ("three_tier.bpmn", "message.bpmn", "ops_two_step.bpmn"):
        assert api.deploy(BPMN / f).status_code == 201

    def start(key, user, variables):
        r = api.post(f"/api/v1/process-definitions/{key}/start", user, json={"variables": variables})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def complete(user, **filters):
        [t] = [t for t in api.tasks(user) if all(t[k] == v for k, v in filters.items())][:1]
        r = api.post(f"/api/v1/tasks/{t['id']}/complete", user, json={"data": {"comment": f"{user} 已办"}})
        assert r.status_code == 200, r.get_json()
        return t["id"]

    xinsheng = start("three_tier", "group_secretary", {"unit_id": "xinsheng"})
    xuchang = start("three_tier", "group_secretary", {"unit_id": "xuchang"})
    daizhuang = start("three_tier", "group_deputy", {"unit_id": "daizhuang"})
    complete("group_secretary", instance_id=xinsheng)
    complete("xinsheng_member", instance_id=xinsheng)  # fan-out to the three xinsheng branches
    complete("xinsheng_laogan", process_key="three_tier_branch")  # one branch child completes
    complete("group_standing", instance_id=xuchang)  # xuchang: unit task open
    [d] = [t for t in api.tasks("group_deputy") if t["instance_id"] == daizhuang]
    assert api.post(f"/api/v1/tasks/{d['id']}/claim", "group_member").status_code == 200  # claimed by a colleague
    # bottom-up: a branch reports a clue, which starts the unit's handling by message
    start("message_sender", "xinsheng_wuye", {"branch_id": "xinsheng-wuye", "unit_id": "xinsheng", "facts": "线索"})
    complete("xinsheng_wuye", process_key="message_sender")
    start("message_sender", "daizhuang_caimei", {"branch_id": "daizhuang-caimei", "unit_id": "daizhuang"})
    # group-level instances: one terminated, one running
    doomed = start("ops_two_step", "group_secretary", {})
    assert api.post(f"/api/v1/process-instances/{doomed}/terminate", "admin", json={"reason": "test"}).status_code == 200
    start("ops_two_step", "group_member", {})


def save_records(session) -> None:
    """Records as processes write them (save_record): per unit and branch, some confidential."""
    now = session.scalar(select(ProcessInstance.started_at).limit(1))
    units = {n.id: n for n in session.scalars(select(OrgNode))}
    for i, (node, confidential) in enumerate([("xinsheng", False), ("xinsheng-laogan", True), ("xinsheng-wuye", False),
                                              ("xuchang", True), ("xuchang-zongcai", False), ("group", False)]):
        n = units[node]
        unit = node if n.tier == "unit" else (n.parent_id if n.tier == "branch" else None)
        session.add(Record(kind="clue", key=f"k{i}", node_id=node, unit_id=unit, confidential=confidential,
                           data={"i": i}, created_at=now, updated_at=now))
    session.commit()


class Oracle:
    def __init__(self, session, user: User) -> None:
        self.user = user
        self.nodes = {n.id: n for n in session.scalars(select(OrgNode))}
        self.roles = [(r.role, r.node_id) for r in session.scalars(select(RoleAssignment).where(
            RoleAssignment.user_id == user.id))]
        self.admin = any(r == "admin" for r, _ in self.roles)
        self.committee = [(r, n) for r, n in self.roles if r in COMMITTEE_ROLES and n]
        self.group = any(self.nodes[n].tier == "group" for _, n in self.committee)
        self.tasks_by_instance: dict[int, list[HumanTask]] = {}
        for t in session.scalars(select(HumanTask)):
            self.tasks_by_instance.setdefault(t.instance_id, []).append(t)

    def subtree(self, node_id: str) -> set[str]:
        out = {node_id}
        for n in self.nodes.values():
            if n.parent_id == node_id:
                out |= self.subtree(n.id)
        return out

    def supervised(self) -> set[str]:
        out: set[str] = set()
        for _, n in self.committee:
            out |= self.subtree(n)
        return out

    def task(self, t: HumanTask) -> bool:
        if self.admin or self.user.id in (t.assignee_id, t.completed_by_id):
            return True
        node_tier = {"group": "group", "unit": "unit", "branch": "branch", "department": "unit"}[t.tier]
        return any(n == t.node_id and r in TIER_ROLES[t.tier] and self.nodes[n].tier == node_tier
                   for r, n in self.roles)

    def instance(self, i: ProcessInstance) -> bool:
        if self.admin or self.group or i.started_by_id == self.user.id:
            return True
        if i.scope_node_id in self.supervised():
            return True
        return any(self.task(t) for t in self.tasks_by_instance.get(i.id, []))

    def record(self, r: Record) -> bool:
        if self.admin or self.group or r.node_id in self.supervised():
            return True
        if any(role == "commissioner" and n == r.node_id for role, n in self.roles):
            return True
        return any(role == "department" and n == r.node_id and not r.confidential for role, n in self.roles)


def not_found_body(api, path: str, user: str) -> dict:
    r = api.get(path, user)
    assert r.status_code == 404, (path, r.status_code)
    return r.get_json()


def with_id(body: dict, missing: int, other: int) -> dict:
    """The 404 body of a missing id as it reads for another id (message, template and params)."""
    def swap(v):
        if isinstance(v, str):
            return v.replace(str(missing), str(other))
        if v == missing and isinstance(v, int) and not isinstance(v, bool):
            return other
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        return v
    return {k: swap(v) if k in ("message", "template", "params") else v for k, v in body.items()}


# GET-by-id routes that read business records, and the record kind each one serves.
RECORD_ROUTES = {"/api/v1/clues/<int:clue_id>": "clue", "/api/v1/study/articles/<int:record_id>": "article"}


def record_routes(app) -> dict[str, str]:
    """Every GET-by-id route over records must be known here (a new one fails until added)."""
    found = {rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods
             and rule.rule.startswith("/api/v1/") and rule.endpoint.split(".")[0] in ("api_records", "api_study")
             and rule.rule.endswith("_id>")}
    assert found == set(RECORD_ROUTES), found
    return RECORD_ROUTES


@pytest.mark.slow
def test_idor_sweep_every_role_every_id(app, api, session):
    play_scenario(api)
    save_records(session)
    session.expire_all()
    tasks = list(session.scalars(select(HumanTask).order_by(HumanTask.id)))
    instances = list(session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)))
    records = list(session.scalars(select(Record).order_by(Record.id)))
    assert {t.status for t in tasks} == {"open", "completed", "cancelled"}
    assert {i.status for i in instances} >= {"running", "completed", "terminated"}
    users = list(session.scalars(select(User).order_by(User.username)))
    assert len(users) == 32  # the demo accounts, with the security administrator and the auditor
    missing_task = max(t.id for t in tasks) + 1000
    missing_instance = max(i.id for i in instances) + 1000
    rec_routes = record_routes(app)
    oracles = {user.username: Oracle(session, user) for user in users}
    session.commit()  # end the read transaction (on SQLite it holds the write lock the API needs)
    checked = 0
    seen: dict[str, tuple[int, int]] = {}
    for user in users:
        name = user.username
        oracle = oracles[name]
        body_t = not_found_body(api, f"/api/v1/tasks/{missing_task}", name)
        body_i = not_found_body(api, f"/api/v1/process-instances/{missing_instance}", name)
        visible_tasks, visible_instances = set(), set()
        for t in tasks:
            r = api.get(f"/api/v1/tasks/{t.id}", name)
            if oracle.task(t):
                assert r.status_code == 200, (name, "task", t.id, r.get_json())
                visible_tasks.add(t.id)
            else:
                assert r.status_code == 404, (name, "task", t.id, t.tier, t.node_id)
                assert r.get_json() == with_id(body_t, missing_task, t.id)
                if t.status == "open":  # acting on it is refused the same way and changes nothing
                    for action, payload in (("claim", None), ("complete", {"data": {"comment": "x"}}),
                                            ("assign", {"username": name})):
                        r = api.post(f"/api/v1/tasks/{t.id}/{action}", name, json=payload)
                        assert r.status_code == 404, (name, action, t.id, r.status_code)
            checked += 1
        for i in instances:
            for suffix in ("", "/history"):
                r = api.get(f"/api/v1/process-instances/{i.id}{suffix}", name)
                if oracle.instance(i):
                    assert r.status_code == 200, (name, "instance", i.id, suffix)
                else:
                    assert r.status_code == 404, (name, "instance", i.id, suffix, i.scope_node_id)
                    assert r.get_json()["message"] == body_i["message"].replace(str(missing_instance), str(i.id))
            if oracle.instance(i):
                visible_instances.add(i.id)
            checked += 1
        seen[name] = (len(visible_tasks), len(visible_instances))
        for route, kind in rec_routes.items():
            for rec in records:
                path = route.split("<")[0] + str(rec.id)
                expected = 200 if rec.kind == kind and oracle.record(rec) else 404
                assert api.get(path, name).status_code == expected, (name, path)
                checked += 1
        # list endpoints return nothing else, whatever the filters say
        for status in ("open", "completed", "cancelled"):
            for extra in ({}, {"unit_id": "xuchang"}, {"unit_id": "daizhuang"}):
                listed = {t["id"] for t in api.tasks(name, status=status, **extra)}
                assert listed <= visible_tasks, (name, status, extra, listed - visible_tasks)
        for extra in ({}, {"unit_id": "xinsheng"}, {"unit_id": "xuchang"}, {"status": "terminated"}):
            r = api.get("/api/v1/process-instances", name, query_string={"per_page": 500, **extra})
            listed = {i["id"] for i in r.get_json()["items"]}
            assert listed <= visible_instances, (name, extra, listed - visible_instances)
            if not extra:
                assert listed == visible_instances, name
        # sanity of the rules themselves: units and their branches never see another unit's objects
        units = {oracle.nodes[n].id if oracle.nodes[n].tier == "unit" else oracle.nodes[n].parent_id
                 for _, n in oracle.roles if n and oracle.nodes[n].tier in ("unit", "branch")}
        if units and not oracle.group and not oracle.admin:
            [unit] = units
            for i in instances:
                if i.id in visible_instances:
                    assert i.unit_id in (unit, None) or i.started_by_id == user.id, (name, i.id, i.unit_id)
    assert checked == 32 * (len(tasks) + len(instances) + len(rec_routes) * len(records))
    # the sweep is not trivial: the admin sees all, others see part, some see nothing
    assert seen["admin"] == (len(tasks), len(instances))
    assert 0 < seen["xinsheng_member"][1] < len(instances) and 0 < seen["xinsheng_wuye"][1] < seen["xinsheng_member"][1]
    assert seen["xuchang_tongfeng"] == (0, 0)
    assert seen["security_admin"] == seen["auditor"] == (0, 0)  # 三员分立: they read no case at all
