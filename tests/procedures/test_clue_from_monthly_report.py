"""End to end with monthly_report (自下而上, another diagram of processes/): a 新升实业 commissioner
files a monthly report with a 违反党的纪律 finding; it becomes a clue on the 新升实业 committee's
list (问题线索处置 starts there on `clue_reported`) and on no other unit's. Skipped where
processes/monthly_report.bpmn is not present."""
from __future__ import annotations

import pytest

from engine.infra.db import write_intent
from engine.core.runtime import Runtime
from tests.procedures.offers import PROCESSES, Worklists, complete, records

pytestmark = pytest.mark.skipif(not (PROCESSES / "monthly_report.bpmn").exists(),
                                reason="monthly_report.bpmn is another procedure's diagram, not in this checkout")

from tests.procedures.offers import api  # noqa: E402,F401 - the api fixture with every demo user logged in


def test_discipline_violation_in_a_monthly_report_becomes_a_unit_clue(api, sessions, clock, settings, forms):
    for name in ("monthly_report.bpmn", "clue_disposal.bpmn"):
        assert api.deploy(PROCESSES / name).status_code == 201
    clock.set("2027-01-01T09:00:00+08:00")
    with write_intent(), sessions() as s:  # what the scheduler does on the 1st of the month
        Runtime(s, clock, settings, forms).start("monthly_report", {}, None, start_event="start_timer")
        s.commit()
    w = Worklists(api)
    writes = {t["node_id"]: t for items in w.snapshot("monthly_report_branch").values() for t in items}
    assert len(writes) == 9
    finding = {"title": "节日期间收受工区职工礼金", "facts": "春节前收受职工礼金两千元", "person": "张某", "area": "micro_corruption"}
    complete(api, writes["xinsheng-laogan"], {"summary": "本月情况", "findings": [finding]}, "xinsheng_laogan")
    for branch, task in writes.items():
        if branch != "xinsheng-laogan":
            complete(api, task, {"summary": "本月监督工作情况正常。", "findings": []}, branch.replace("-", "_"))
    review = next(t for t in api.tasks("xinsheng_secretary") if t["spec_id"] == "review_report"
                  and api.get(f"/api/v1/tasks/{t['id']}", "xinsheng_secretary").get_json()["context"].get("branch_id")
                  == "xinsheng-laogan")
    complete(api, review, {"decision": "accepted", "review_opinion": "已分类处置", "classifications": [
        {"no": 1, "classification": "discipline_violation", "analysis": "涉嫌违反廉洁纪律", "person": "张某（工区副主任）"}]},
        "xinsheng_member")

    [clue] = records(api, "/api/v1/clues", "xinsheng_secretary")
    assert (clue["unit_id"], clue["data"]["source"], clue["data"]["person"], clue["data"]["branch_id"]) == (
        "xinsheng", "monthly_report", "张某（工区副主任）", "xinsheng-laogan")
    assert clue["data"]["status"] == "待研判" and clue["confidential"] is True
    for user in ("xuchang_secretary", "daizhuang_member", "xinsheng_dept", "xinsheng_wuye"):
        assert records(api, "/api/v1/clues", user) == []
        assert api.get(f"/api/v1/clues/{clue['id']}", user).status_code == 404
    assert [c["id"] for c in records(api, "/api/v1/clues", "group_deputy")] == [clue["id"]]
    assess = [t for t in w.snapshot()["xinsheng_secretary"] if t["process_key"] == "clue_disposal"]
    assert [(t["spec_id"], t["node_id"]) for t in assess] == [("assess", "xinsheng")]
    assert not [t for u in ("xuchang_secretary", "daizhuang_secretary") for t in api.tasks(u)
                if t["process_key"] == "clue_disposal"]
