"""Routing through the API: every demo user sees exactly the tasks of their own tier and node."""
from __future__ import annotations

from engine.org.demo import demo_users
from tests.conftest import BPMN

USERS = [u[0] for u in demo_users()]


def offered_to(api, task_id: int) -> set[str]:
    """Demo users whose worklist contains the task."""
    return {u for u in USERS if any(t["id"] == task_id for t in api.tasks(u))}


def readable_by(api, task_id: int) -> set[str]:
    return {u for u in USERS if api.get(f"/api/v1/tasks/{task_id}", u).status_code == 200}


def test_three_tiers_each_task_offered_to_exactly_its_node(api):
    assert api.deploy(BPMN / "three_tier.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary", json={"variables": {"unit_id": "xinsheng"}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    [group_task] = inst["open_tasks"]
    group_committee = {"group_secretary", "group_deputy", "group_standing", "group_member"}
    assert offered_to(api, group_task["id"]) == group_committee
    assert readable_by(api, group_task["id"]) == group_committee | {"admin"}

    r = api.post(f"/api/v1/tasks/{group_task['id']}/complete", "group_deputy", json={"data": {"comment": "请落实"}})
    assert r.status_code == 200, r.get_json()
    [unit_task] = api.get(f"/api/v1/process-instances/{inst['id']}", "admin").get_json()["open_tasks"]
    assert (unit_task["tier"], unit_task["node_id"], unit_task["node_name"]) == ("unit", "xinsheng", "山东新升实业发展有限责任公司纪委")
    xinsheng_committee = {"xinsheng_secretary", "xinsheng_deputy", "xinsheng_standing", "xinsheng_member"}
    assert offered_to(api, unit_task["id"]) == xinsheng_committee
    assert readable_by(api, unit_task["id"]) == xinsheng_committee | {"admin"}
    # everyone else gets 404 on complete too, and nothing changes
    for user in set(USERS) - xinsheng_committee - {"admin"}:
        r = api.post(f"/api/v1/tasks/{unit_task['id']}/complete", user, json={"data": {"comment": "x"}})
        assert r.status_code == 404, (user, r.get_json())
    assert api.post(f"/api/v1/tasks/{unit_task['id']}/complete", "xinsheng_member",
                    json={"data": {"comment": "已部署"}}).status_code == 200

    branch_tasks = api.get(f"/api/v1/tasks", "admin").get_json()["items"]
    assert branch_tasks == []  # admins are not offered work, they trace it
    children = api.get("/api/v1/process-instances", "admin", query_string={"parent_id": inst["id"]}).get_json()["items"]
    assert len(children) == 3
    for child in children:
        [bt] = api.get(f"/api/v1/process-instances/{child['id']}", "admin").get_json()["open_tasks"]
        commissioner = bt["node_id"].replace("-", "_")
        assert offered_to(api, bt["id"]) == {commissioner}
        assert readable_by(api, bt["id"]) == {commissioner, "admin"}
        # the branch's instance is visible to its commissioner, its unit committee and the group, not to others
        viewers = {u for u in USERS if api.get(f"/api/v1/process-instances/{child['id']}", u).status_code == 200}
        assert viewers == {commissioner, "admin"} | xinsheng_committee | group_committee
        assert api.post(f"/api/v1/tasks/{bt['id']}/complete", commissioner,
                        json={"data": {"comment": "完成"}}).status_code == 200

    final = api.get(f"/api/v1/process-instances/{inst['id']}", "group_secretary").get_json()
    assert final["status"] == "completed"
    assert final["variables"]["reports"] == ["完成", "完成", "完成"]
    history = api.get(f"/api/v1/process-instances/{inst['id']}/history", "group_secretary").get_json()["items"]
    types = [e["type"] for e in history]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    assert [e["actor"] for e in history if e["type"] == "task_completed"] == ["group_deputy", "xinsheng_member"]


def test_claim_unclaim_and_admin_assign(api):
    api.deploy(BPMN / "three_tier.bpmn")
    inst = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                    json={"variables": {"unit_id": "daizhuang"}}).get_json()
    tid = inst["open_tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{tid}/claim", "group_member").get_json()["assignee"] == "group_member"
    assert [t["id"] for t in api.tasks("group_secretary")] == []
    assert api.post(f"/api/v1/tasks/{tid}/complete", "group_secretary", json={"data": {"comment": "x"}}).status_code == 409
    assert api.post(f"/api/v1/tasks/{tid}/unclaim", "group_secretary").status_code == 409
    assert api.post(f"/api/v1/tasks/{tid}/unclaim", "group_member").get_json()["assignee"] is None
    r = api.post(f"/api/v1/tasks/{tid}/assign", "admin", json={"username": "xuchang_member"})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "username"
    r = api.post(f"/api/v1/tasks/{tid}/assign", "admin", json={"username": "group_standing"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "group_standing"
    # 转办: the assignee hands over to a colleague of the same node
    r = api.post(f"/api/v1/tasks/{tid}/assign", "group_standing", json={"username": "group_deputy"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "group_deputy"
    types = [e["type"] for e in api.get(f"/api/v1/process-instances/{inst['id']}/history", "admin").get_json()["items"]]
    assert types.count("task_claimed") == 1 and "task_assigned" in types and "task_handed_over" in types


def test_start_permissions_follow_the_start_lane(api):
    api.deploy(BPMN / "message.bpmn")
    # the sender process starts in the branch lane: a commissioner files for their own branch
    r = api.post("/api/v1/process-definitions/message_sender/start", "xuchang_tongfeng", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["scope_node_id"], body["unit_id"]) == ("xuchang-tongfeng", "xuchang")
    # but not for another branch, and a unit member cannot start a branch process
    r = api.post("/api/v1/process-definitions/message_sender/start", "xuchang_tongfeng",
                 json={"variables": {"branch_id": "xinsheng-laogan"}})
    assert r.status_code == 403
    assert api.post("/api/v1/process-definitions/message_sender/start", "group_secretary", json={}).status_code == 403
    # an admin holds no role at any branch: no exception for admins (engine/org/policy.py)
    r = api.post("/api/v1/process-definitions/message_sender/start", "admin", json={"variables": {"branch_id": "xuchang-tongfeng"}})
    assert r.status_code == 403 and r.get_json()["error"] == "forbidden"
    # the group committee may name any node for a group-lane process; a node that does not exist is 422
    api.deploy(BPMN / "three_tier.bpmn")
    r = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary", json={"variables": {"branch_id": "nope"}})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "variables/branch_id"


def test_form_errors_are_422_per_field_and_change_nothing(api):
    api.deploy(BPMN / "three_tier.bpmn")
    inst = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                    json={"variables": {"unit_id": "xinsheng"}}).get_json()
    tid = inst["open_tasks"][0]["id"]
    before = api.get(f"/api/v1/process-instances/{inst['id']}", "admin").get_json()
    r = api.post(f"/api/v1/tasks/{tid}/complete", "group_secretary", json={"data": {"comment": "", "approved": "是"}})
    assert r.status_code == 422
    err = r.get_json()
    assert err["error"] == "invalid"
    assert {d["field"] for d in err["details"]} == {"comment", "approved"}
    r = api.post(f"/api/v1/tasks/{tid}/complete", "group_secretary", json={"data": {}})
    assert r.status_code == 422
    assert r.get_json()["details"] == [{"field": "comment", "code": "required", "params": {},
                                        "message": "this field is required", "rule": "required"}]
    r = api.post(f"/api/v1/tasks/{tid}/complete", "group_secretary", json={"data": "text"})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "data"
    r = api.post(f"/api/v1/tasks/{tid}/complete", "group_secretary", data="{broken", content_type="application/json")
    assert r.status_code == 400
    after = api.get(f"/api/v1/process-instances/{inst['id']}", "admin").get_json()
    assert after["version"] == before["version"] and after["open_tasks"] == before["open_tasks"]
    task = api.get(f"/api/v1/tasks/{tid}", "group_secretary").get_json()
    assert task["status"] == "open" and task["form"]["required"] == ["comment"] and task["can_complete"] is True


def test_lists_are_paginated_and_validated(api):
    api.deploy(BPMN / "three_tier.bpmn")
    for _ in range(3):
        api.post("/api/v1/process-definitions/three_tier/start", "group_secretary", json={"variables": {"unit_id": "xinsheng"}})
    r = api.get("/api/v1/tasks", "group_member", query_string={"per_page": 2, "page": 2}).get_json()
    assert (r["total"], r["page"], r["per_page"], len(r["items"])) == (3, 2, 2, 1)
    assert api.get("/api/v1/tasks", "group_member", query_string={"per_page": 501}).status_code == 422
    assert api.get("/api/v1/tasks", "group_member", query_string={"page": "x"}).status_code == 422
    assert api.get("/api/v1/process-instances", "admin", query_string={"status": "bogus"}).status_code == 422
    assert api.get("/api/v1/process-instances", "admin", query_string={"started_after": "yesterday"}).status_code == 422
    r = api.get("/api/v1/process-instances", "admin", query_string={"status": "running", "key": "three_tier"}).get_json()
    assert r["total"] == 3
    assert api.get("/api/v1/process-instances", "xuchang_member").get_json()["total"] == 0
