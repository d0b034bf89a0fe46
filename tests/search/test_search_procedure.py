"""The issue's journey: a clue registered through the real 问题线索处置 procedure is found by the
person's name by everyone who may open it — the clue, its instance (renamed by the procedure's
script, through the runtime's Core write) and its tasks — and by no one else; the system
administrator does not find it by the name (三员分立)."""

from __future__ import annotations

from typing import Any

from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, complete, deploy_and_roundtrip

PERSON = "王某某（科长）"


def kinds(api: Any, user: str, q: str) -> dict[str, set[int]]:
    r = api.get("/api/v1/search", user, query_string={"q": q, "per_page": 100})
    assert r.status_code == 200, r.get_json()
    out: dict[str, set[int]] = {}
    for h in r.get_json()["items"]:
        out.setdefault(h["kind"], set()).add(h["id"])
    return out


def test_a_clue_registered_by_the_procedure_is_found_by_the_persons_name(api: Any) -> None:  # noqa: F811
    deploy_and_roundtrip(api, "clue_disposal.bpmn", ["clue_disposal"])
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()["id"]
    t = Worklists(api).check([("register_form", "unit", "xinsheng")])["register_form@xinsheng"]
    data = {
        "clue_origin": "基层党支部纪律检查委员报告",
        "branch_id": "xinsheng-laogan",
        "clue_person": PERSON,
        "clue_facts": "虚报出勤、套取工资",
        "clue_reporter": "老干家委党总支纪律检查委员",
        "received_date": "2027-01-05",
    }
    complete(api, t, data, "xinsheng_deputy")
    [clue] = [c["id"] for c in api.get("/api/v1/clues", "group_secretary").get_json()["items"]
              if c["instance_id"] == inst]
    for user in ("group_secretary", "group_member", "xinsheng_secretary", "xinsheng_member"):
        found = kinds(api, user, "王某某")
        assert found["clue"] == {clue}, user
        assert found["instance"] == {inst}, user  # titled 问题线索：王某某（科长） by the procedure
        tasks = {x["id"] for x in api.get("/api/v1/tasks", user, query_string={"instance_id": inst,
                                                                             "per_page": 100}).get_json()["items"]}
        assert tasks <= found.get("task", set()), user
    for user in ("xuchang_secretary", "daizhuang_member", "xinsheng_laogan", "xinsheng_dept", "owner", "auditor"):
        found = kinds(api, user, "王某某")
        assert "clue" not in found and "instance" not in found, (user, found)
    found = kinds(api, "admin", "王某某")
    assert "clue" not in found and "instance" not in found and "task" not in found, found
    assert kinds(api, "admin", "问题线索").get("instance") == {inst}  # by what it may read
