"""Scenario helpers for the procedure tests: deploy from processes/, check who is offered
which task (every demo user's worklist and 404s by id), complete tasks as the right user.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select

from engine.org import auth
from engine.infra.db import write_intent
from engine.org.demo import demo_users
from engine.models import User
from engine.infra.settings import ROOT
from engine.core.spiff import SanjiBpmnParser

PROCESSES = ROOT / "processes"
DEMO = demo_users()  # (username, display name, role, node)
COMMITTEE = ("secretary", "deputy_secretary", "standing_member", "member")
# admin reads every task by design (tracing); everyone else must see exactly their own
USERS = [u for u, _n, role, _node in DEMO if role not in ("admin",)]


@pytest.fixture
def api(api: Any, sessions: Any, clock: Any) -> Any:
    """The conftest `api`, with a bearer token already issued to every demo user: a password
    login costs an argon2 verification (~0.2 s), and these scenarios act as all 30 users."""
    with write_intent(), sessions() as s:
        for user in s.scalars(select(User)):
            api.tokens[user.username] = auth.issue_token(s, user, clock.now(), 24 * 400)  # scenarios travel in time
        s.commit()
    return api


def users_for(tier: str, node: str) -> set[str]:
    """The demo users a task of `tier` on org node `node` must be offered to."""
    if tier in ("group", "unit"):
        return {u for u, _n, role, n in DEMO if n == node and role in COMMITTEE}
    if tier == "department":
        return {u for u, _n, role, n in DEMO if n == node and role == "department"}
    if tier == "branch":
        return {u for u, _n, role, n in DEMO if n == node and role == "commissioner"}
    raise AssertionError(tier)


def commissioner(branch_id: str) -> str:
    return branch_id.replace("-", "_")


def deploy_and_roundtrip(api: Any, filename: str, keys: list[str]) -> None:
    """Deploy processes/<filename> unchanged (201), re-import its stored XML through
    SpiffWorkflow's parser, and deploy the stored XML again: 200, nothing new."""
    path = PROCESSES / filename
    r = api.deploy(path)
    assert r.status_code == 201, r.get_json()
    assert sorted(d["key"] for d in r.get_json()["definitions"]) == sorted(keys)
    for key in keys:
        xml = api.get(f"/api/v1/process-definitions/{key}/xml", "owner")
        assert xml.status_code == 200
        assert xml.data == path.read_bytes()
        parser = SanjiBpmnParser()
        parser.add_bpmn_xml(etree.fromstring(xml.data), filename)
        spec = parser.get_spec(key)
        assert spec.name == key
        assert spec.task_specs, key
    again = api.post(f"/api/v1/process-definitions?filename={filename}", "owner", data=xml.data,
                     content_type="application/xml")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["created"] is False
    assert all(d["version"] == 1 for d in again.get_json()["definitions"])


class Worklists:
    """Reads every user's open worklist once per check. Who must be offered what comes from
    the organisation as it is now (GET /api/v1/users), so a test may change the org first."""

    def __init__(self, api: Any) -> None:
        self.api = api
        r = api.get("/api/v1/users", "admin", query_string={"per_page": 500})
        assert r.status_code == 200
        self.roles = {u["username"]: [(x["role"], x["node_id"]) for x in u["roles"]] for u in r.get_json()["items"]}
        self.users = [u for u, roles in self.roles.items() if ("admin", None) not in roles]
        self.verified: set[int] = set()  # open tasks already read by id as every user

    def candidates(self, tier: str, node: str) -> set[str]:
        wanted = {"group": COMMITTEE, "unit": COMMITTEE, "department": ("department",), "branch": ("commissioner",)}[tier]
        return {u for u, roles in self.roles.items() if any(r in wanted and n == node for r, n in roles)}

    def snapshot(self, process_key: str | None = None) -> dict[str, list[dict[str, Any]]]:
        params = {"process_key": process_key} if process_key else {}
        return {u: self.api.tasks(u, **params) for u in self.users}

    def check(self, expected: list[tuple[str, str, str]], process_key: str | None = None) -> dict[str, dict[str, Any]]:
        """`expected` is the full list of open tasks (of `process_key`) as (spec_id, tier, node);
        asserts each is offered to exactly the users of that tier and node — in their worklists
        and by id — and to nobody else (404). Returns {"spec_id@node": task}, or
        {"spec_id@node#unit": task} when several instances have the same task on the same node."""
        snap = self.snapshot(process_key)
        offered: dict[int, set[str]] = {}
        tasks: dict[int, dict[str, Any]] = {}
        for user, items in snap.items():
            for t in items:
                offered.setdefault(t["id"], set()).add(user)
                tasks[t["id"]] = t
        got = sorted((t["spec_id"], t["tier"], t["node_id"]) for t in tasks.values())
        assert got == sorted(expected), f"open tasks {got} != expected {sorted(expected)}"
        out: dict[str, dict[str, Any]] = {}
        for tid, t in tasks.items():
            want = self.candidates(t["tier"], t["node_id"])
            assert offered[tid] == want, f"{t['spec_id']}@{t['node_id']} offered to {sorted(offered[tid])}, not {sorted(want)}"
            assert t["due_at"], f"{t['spec_id']} has no deadline"
            if tid in self.verified:  # a task's tier and node never change: read it by id once
                out[f"{t['spec_id']}@{t['node_id']}"] = t
                continue
            self.verified.add(tid)
            for user in self.users:
                r = self.api.get(f"/api/v1/tasks/{tid}", user)
                if user in want:
                    assert r.status_code == 200, (user, r.get_json())
                    assert r.get_json()["can_complete"] is True
                else:
                    assert r.status_code == 404, f"{user} can read task {t['spec_id']}@{t['node_id']}"
            out[f"{t['spec_id']}@{t['node_id']}"] = t
        counts: dict[str, int] = {}
        for t in tasks.values():
            counts[f"{t['spec_id']}@{t['node_id']}"] = counts.get(f"{t['spec_id']}@{t['node_id']}", 0) + 1
        for t in tasks.values():  # e.g. one group task per unit: key them by the instance's unit
            key = f"{t['spec_id']}@{t['node_id']}"
            if counts[key] > 1:
                out.pop(key, None)
                unit = self.api.get(f"/api/v1/process-instances/{t['instance_id']}", "admin").get_json()["unit_id"]
                out[f"{key}#{unit}"] = t
        return out


def complete(api: Any, task: dict[str, Any], data: dict[str, Any], user: str | None = None) -> dict[str, Any]:
    """Complete `task` as `user` (default: the first demo user it is offered to)."""
    user = user or sorted(users_for(task["tier"], task["node_id"]))[0]
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
    assert r.status_code == 200, (task["spec_id"], r.get_json())
    return r.get_json()


def refused(api: Any, task: dict[str, Any], data: dict[str, Any], user: str | None = None) -> dict[str, Any]:
    """Completing is refused with 422 and the task stays open."""
    user = user or sorted(users_for(task["tier"], task["node_id"]))[0]
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
    assert r.status_code == 422, (task["spec_id"], r.status_code, r.get_json())
    again = api.get(f"/api/v1/tasks/{task['id']}", user)
    assert again.get_json()["status"] == "open"
    return r.get_json()


def instance(api: Any, instance_id: int, user: str = "admin") -> dict[str, Any]:
    r = api.get(f"/api/v1/process-instances/{instance_id}", user)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def records(api: Any, path: str, user: str, **params: Any) -> list[dict[str, Any]]:
    r = api.get(path, user, query_string={"per_page": 500, **params})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"items", "total", "page", "per_page"}
    assert body["total"] == len(body["items"])
    return body["items"]


def path_of(filename: str) -> Path:
    return PROCESSES / filename
