"""Passwords, login throttling, and the audit trail (event_log): complete and append-only."""
from __future__ import annotations

import re

import pytest
from argon2 import extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import delete, select, text, update

from engine.models import EventLog, User
from tests.conftest import BPMN


def events(session, type_=None):
    session.expire_all()
    q = select(EventLog).order_by(EventLog.id)
    if type_:
        q = q.where(EventLog.type == type_)
    rows = list(session.scalars(q))
    session.commit()  # end the read (the test session begins IMMEDIATE on SQLite: it would block the API)
    return rows


# ---- passwords and throttling -----------------------------------------------------------------------

def test_passwords_are_stored_as_argon2id(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "new_person", "--password", "Correct-Horse-9", "--role",
                                 "commissioner:xuchang-zongcai"])
    assert result.exit_code == 0, result.output
    hashes = session.scalars(select(User.password_hash)).all()
    session.commit()
    assert len(hashes) == 33
    for h in hashes:
        assert h.startswith("$argon2id$v=19$"), h[:20]
        params = extract_parameters(h)
        # at least the RFC 9106 "low memory" profile (64 MiB, t=3)
        assert params.memory_cost >= RFC_9106_LOW_MEMORY.memory_cost and params.time_cost >= 3
    dump = "\n".join(str(row) for row in session.execute(text("SELECT * FROM user_account")).all())
    assert "Correct-Horse-9" not in dump and "demo12345" not in dump


def test_login_is_throttled_after_repeated_failures(api, session, clock):
    login = {"username": "xinsheng_member"}
    for i in range(5):
        r = api.post("/api/v1/auth/login", json={**login, "password": f"wrong-{i}"})
        assert r.status_code == 401
    # this client has been failing: even the right password waits for the account's delay (1 s
    # after 5 failures, doubling; tests/security/test_login_throttle.py: other clients do not wait)
    r = api.post("/api/v1/auth/login", json={**login, "password": "demo12345"})
    assert r.status_code == 429
    assert r.get_json()["error"] == "too_many_requests" and int(r.headers["Retry-After"]) == 1
    assert [e.type for e in events(session) if e.actor == "xinsheng_member"] == ["login_failed"] * 5 + ["login_throttled"]
    # an unknown username is throttled the same way (no user enumeration through the throttle)
    for _ in range(5):
        assert api.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"}).status_code == 401
    assert api.post("/api/v1/auth/login", json={"username": "nobody", "password": "x"}).status_code == 429
    # a NUL character (which PostgreSQL text cannot hold) is just a wrong login, on every database
    r = api.post("/api/v1/auth/login", json={"username": "admin\u0000", "password": "demo12345"})
    assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
    r = api.post("/api/v1/auth/login", json={"username": "x" * 65, "password": "demo12345"})
    assert r.status_code == 401 and r.get_json()["error"] == "unauthorized"
    # other accounts are not affected; the delay ends after a second
    assert api.post("/api/v1/auth/login", json={"username": "xinsheng_deputy", "password": "demo12345"}).status_code == 200
    clock.advance(seconds=1)
    assert api.post("/api/v1/auth/login", json={**login, "password": "demo12345"}).status_code == 200


# ---- the audit trail is complete -----------------------------------------------------------------------

def test_logins_deployments_admin_actions_and_refusals_are_audited(api, session):
    assert api.post("/api/v1/auth/login", json={"username": "owner", "password": "nope"}).status_code == 401
    assert api.deploy(BPMN / "three_tier.bpmn").status_code == 201  # logs in as owner, deploys
    r = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary", json={"variables": {"unit_id": "xuchang"}})
    iid = r.get_json()["id"]
    assert api.post(f"/api/v1/process-instances/{iid}/suspend", "admin", json={"reason": "核查"}).status_code == 200
    assert api.post(f"/api/v1/process-instances/{iid}/resume", "admin").status_code == 200
    [task] = api.tasks("group_deputy")
    assert api.post(f"/api/v1/tasks/{task['id']}/assign", "admin", json={"username": "group_member"}).status_code == 200
    # refused: 403 (role) and 401 (no token, bad token)
    assert api.get("/api/v1/users", "xuchang_zongcai").status_code == 403
    assert api.deploy(BPMN / "three_tier.bpmn", user="xuchang_secretary").status_code == 403
    assert api.post(f"/api/v1/process-instances/{iid}/terminate", "group_secretary").status_code == 403
    assert api.client.get("/api/v1/tasks").status_code == 401
    assert api.client.get("/api/v1/me", headers={"Authorization": "Bearer forged"}).status_code == 401

    rows = events(session)
    kinds = [(e.type, e.actor) for e in rows]
    assert ("login_failed", "owner") in kinds and ("login", "owner") in kinds
    for user in ("group_secretary", "admin", "group_deputy", "xuchang_zongcai", "xuchang_secretary"):
        assert ("login", user) in kinds
    [deployed] = [e for e in rows if e.type == "definition_deployed"]
    assert deployed.actor == "owner" and deployed.payload["definitions"][0]["key"] == "three_tier"
    admin_actions = [(e.type, e.payload.get("reason")) for e in rows if e.actor == "admin" and e.instance_id == iid]
    assert ("instance_suspended", "核查") in admin_actions and ("instance_resumed", "") in admin_actions
    assert ("task_assigned", "admin") in kinds
    refused = [(e.actor, e.payload["status"], e.payload["method"], e.payload["path"]) for e in rows
               if e.type == "access_refused"]
    assert refused == [
        ("xuchang_zongcai", 403, "GET", "/api/v1/users"),
        ("xuchang_secretary", 403, "POST", "/api/v1/process-definitions"),
        ("group_secretary", 403, "POST", f"/api/v1/process-instances/{iid}/terminate"),
        ("anonymous", 401, "GET", "/api/v1/tasks"),
        ("anonymous", 401, "GET", "/api/v1/me"),
    ]
    assert all(e.at is not None and e.at.tzinfo is not None for e in rows)


# ---- the audit trail cannot be changed ------------------------------------------------------------------

def test_event_log_refuses_update_and_delete_in_the_database(session, clean_db, api):
    api.token("admin")  # one login event
    [row] = events(session, "login")
    for statement in (update(EventLog).where(EventLog.id == row.id).values(actor="someone else"),
                      update(EventLog).values(payload={}),
                      delete(EventLog).where(EventLog.id == row.id),
                      delete(EventLog)):
        with pytest.raises(Exception, match="append-only"):
            with clean_db.begin() as conn:
                conn.execute(statement)
    [again] = events(session, "login")
    assert (again.id, again.actor, again.payload) == (row.id, row.actor, row.payload)


def fill(rule: str, ids: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z0-9_]+:)?([a-z_]+)>", lambda m: ids.get(m.group(1), "1"), rule)


def test_no_endpoint_changes_existing_events(app, api, session):
    """Call every route with every method as the admin and as a commissioner: rows already in
    event_log stay exactly as they were (only new rows are appended)."""
    api.deploy(BPMN / "three_tier.bpmn")
    r = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary", json={"variables": {"unit_id": "xinsheng"}})
    iid = r.get_json()["id"]
    [task] = api.tasks("group_secretary")
    api.post(f"/api/v1/tasks/{task['id']}/complete", "group_secretary", json={"data": {"comment": "ok"}})
    api.token("xinsheng_laogan")
    before = [(e.id, e.type, e.actor, e.at, e.payload) for e in events(session)]
    session.commit()
    ids = {"instance_id": str(iid), "task_id": str(task["id"]), "id": str(iid), "key": "three_tier"}
    statuses = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/static") or "logout" in rule.rule:
            continue
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            for user in ("admin", "xinsheng_laogan"):
                r = api.call(method, fill(rule.rule, ids), user, json={"reason": "x", "data": {"comment": "y"},
                                                                      "username": "group_member", "variables": {}})
                assert r.status_code < 500, (method, rule.rule, r.status_code, r.get_data(as_text=True)[:300])
                statuses.add(r.status_code)
    after = [(e.id, e.type, e.actor, e.at, e.payload) for e in events(session)]
    assert after[:len(before)] == before
    assert len(after) > len(before)  # the calls themselves were recorded
    assert {200, 403, 405} <= statuses
