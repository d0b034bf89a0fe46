"""Scenario helpers for the procedure tests: drive the diagrams in processes/ through the HTTP
API as the demo users, and check that every task is offered to exactly the right tier and node.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest
from lxml import etree
from sqlalchemy import select

from api.extensions import state
from engine.org import auth as engine_auth
from engine.org import nodes as org
from engine.infra.db import write_intent
from engine.org.demo import demo_users
from engine.models import ProcessInstance, Record, User
from engine.linkage.records import query as records_query
from engine.core import async_jobs
from engine.core.runtime import Runtime
from engine.infra.settings import ROOT
from engine.core.spiff import SanjiBpmnParser
from tests.conftest import BPMN

PROCESSES = ROOT / "processes"
# every demo account that holds a role on an org node, plus the process owner (who holds none);
# the admin reads everything by design and is left out of the "nobody else" checks
USERS = [u for u, _d, role, _n in demo_users() if role != "admin"]
COMMITTEE = ("secretary", "deputy", "standing", "member")
ROLE_SUFFIX = {"secretary": "secretary", "deputy_secretary": "deputy", "standing_member": "standing", "member": "member"}


def node_users(tier: str, node: str, roles: str | None = None) -> set[str]:
    """The demo users holding a role that a task of `tier` on `node` is offered to."""
    if tier in ("group", "unit"):
        suffixes = COMMITTEE if roles is None else tuple(ROLE_SUFFIX[r] for r in roles.split(","))
        return {f"{node}_{s}" for s in suffixes}
    if tier == "branch":
        return {node.replace("-", "_")}
    if tier == "department":
        return {f"{node}_dept"}
    raise AssertionError(tier)


class Scenario:
    def __init__(self, api: Any, app: Any, clock: Any) -> None:
        self.api = api
        self.app = app
        self.clock = clock
        self.seen: set[int] = set()
        st = state(app)
        with write_intent(), st.sessions() as s:  # tokens without 33 argon2 logins, valid for a year of test time
            for user in s.scalars(select(User).where(User.username.in_(USERS))):
                api.tokens[user.username] = engine_auth.issue_token(s, user, clock.now(), 24 * 400)
            s.commit()

    # ---- engine access for what the scheduler would do ------------------------------------
    def engine(self, fn: Callable[[Runtime, Any], Any]) -> Any:
        self.continue_fan_outs()  # the scheduler's worker ran since the last request
        st = state(self.app)
        with write_intent(), st.sessions() as s:
            result = fn(Runtime(s, st.clock, st.settings, st.forms), s)
            s.commit()
            return result

    def start_timer(self, key: str, start_event: str = "start_timer", variables: dict[str, Any] | None = None) -> int:
        return self.engine(lambda rt, s: rt.start(key, variables or {}, None, start_event=start_event).id)

    def fire_timers(self) -> int:
        def run(rt: Runtime, s: Any) -> int:
            ids = s.scalars(select(ProcessInstance.id).where(ProcessInstance.next_timer_at <= self.clock.now())).all()
            return sum(rt.fire_timers(i) for i in ids)
        return self.engine(run)

    def records(self, kind: str, username: str | None = None) -> dict[str, Record]:
        def run(rt: Runtime, s: Any) -> dict[str, Record]:
            if username is None:
                q = select(Record).where(Record.kind == kind)
            else:
                q = records_query(org.load_principal(s, s.scalars(select(User).where(User.username == username)).one()), kind)
            return {r.key: r for r in s.scalars(q)}
        return self.engine(run)

    def incidents(self) -> list[tuple[int, str, str | None, str | None]]:
        return self.engine(lambda rt, s: [(i.id, i.process_key, i.error_task, i.error_message) for i in s.scalars(
            select(ProcessInstance).where(ProcessInstance.status == "error"))])

    def instance(self, instance_id: int) -> ProcessInstance:
        return self.engine(lambda rt, s: s.get(ProcessInstance, instance_id))

    def instances(self, key: str) -> list[ProcessInstance]:
        return self.engine(lambda rt, s: list(s.scalars(select(ProcessInstance).where(
            ProcessInstance.process_key == key).order_by(ProcessInstance.id))))

    # ---- deployment ------------------------------------------------------------------------
    def deploy(self, path: Path, keys: list[str]) -> None:
        """Deploy the file unchanged, re-import its XML through SpiffWorkflow, deploy again: unchanged."""
        r = self.api.deploy(path)
        assert r.status_code == 201, r.get_json()
        assert sorted(d["key"] for d in r.get_json()["definitions"]) == sorted(keys)
        for key in keys:
            x = self.api.get(f"/api/v1/process-definitions/{key}/xml", "group_member")
            assert x.status_code == 200
            assert x.data == path.read_bytes()
            parser = SanjiBpmnParser()
            parser.add_bpmn_xml(etree.fromstring(x.data), filename=path.name)
            assert parser.get_spec(key).name == key
            d = self.api.get(f"/api/v1/process-definitions/{key}", "group_member").get_json()
            for task in d["user_tasks"]:  # every user task: a tier lane, a form and a deadline
                assert task["tier"] in ("group", "unit", "branch", "department"), task
                assert task["form"], task
                assert task["due_in"] or task["due_at"], task
        again = self.api.deploy(path)
        assert again.status_code == 200 and again.get_json()["created"] is False

    def deploy_catcher(self) -> None:
        assert self.api.deploy(BPMN / "clue_catcher.bpmn").status_code == 201

    # ---- tasks -----------------------------------------------------------------------------
    def continue_fan_outs(self) -> int:
        """What the scheduler's worker does between requests: start the children of the
        asynchronous fan-outs (engine/core/async_jobs.py); returns how many it started."""
        st = state(self.app)
        return async_jobs.run_due(st.sessions, st.clock, st.settings).children

    def offered(self) -> dict[int, tuple[dict[str, Any], set[str]]]:
        """Every open task offered to any demo user: task id -> (task, users it is offered to),
        once the scheduler's worker has started what the last requests left to it."""
        self.continue_fan_outs()
        found: dict[int, tuple[dict[str, Any], set[str]]] = {}
        for user in USERS:
            for t in self.api.tasks(user):
                found.setdefault(t["id"], (t, set()))[1].add(user)
        return found

    def expect(self, spec_id: str, tier: str, nodes: list[str], roles: str | None = None,
               by: str | None = None) -> dict[str, dict[str, Any]]:
        """The new open tasks `spec_id`: one per node in `nodes` (repeated for several tasks on one
        node), each offered to exactly the users of its tier and node (narrowed by `roles`), readable
        by id only by the users of that node. Keyed by node, or by the instance variable `by`."""
        assert self.incidents() == []
        new = {tid: v for tid, v in self.offered().items() if tid not in self.seen and v[0]["spec_id"] == spec_id}
        assert sorted(t["node_id"] for t, _u in new.values()) == sorted(nodes), (spec_id, [t for t, _ in new.values()])
        out = {}
        for tid, (task, users) in new.items():
            assert task["tier"] == tier, task
            assert task["due_at"], task
            assert users == node_users(tier, task["node_id"], roles), (task, users)
            readers = node_users(tier, task["node_id"])
            for user in USERS:
                code = self.api.get(f"/api/v1/tasks/{tid}", user).status_code
                assert code == (200 if user in readers else 404), (user, task["name"], task["node_id"], code)
            self.seen.add(tid)
            key = task["node_id"] if by is None else self.detail(task, sorted(readers)[0])["context"][by]
            assert key not in out, (spec_id, key)
            out[key] = task
        return out

    def one(self, spec_id: str, tier: str, node: str, roles: str | None = None) -> dict[str, Any]:
        [task] = self.expect(spec_id, tier, [node], roles).values()
        return task

    def detail(self, task: dict[str, Any], user: str) -> dict[str, Any]:
        r = self.api.get(f"/api/v1/tasks/{task['id']}", user)
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def complete(self, task: dict[str, Any], user: str, data: dict[str, Any], status: int = 200) -> dict[str, Any]:
        r = self.api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
        assert r.status_code == status, r.get_json()
        return r.get_json()

    def no_open_tasks(self) -> None:
        assert self.offered() == {}

    def notifications(self, username: str) -> list[dict[str, Any]]:
        """The in-app notifications of `username`, newest first, once the notifier (what the
        scheduler runs: engine/platform/notify) has read the events so far."""
        from engine.platform.notify import dispatch

        self.continue_fan_outs()
        st = state(self.app)
        dispatch(st.sessions, st.clock, st.settings)
        r = self.api.get("/api/v1/notifications", username, query_string={"per_page": 100})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["items"]


def local_iso(dt: str) -> str:
    """An API date-time seen in Asia/Shanghai, for readable assertions."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(dt).astimezone(ZoneInfo("Asia/Shanghai")).isoformat()


@pytest.fixture
def sc(api: Any, app: Any, clock: Any) -> Scenario:
    return Scenario(api, app, clock)
