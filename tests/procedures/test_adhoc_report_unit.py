"""Issue 17: a unit committee (also for what its functional departments report to it) files a
major or sensitive report to the group committee itself; the group acknowledges within a day or
its secretary presses, and that 督办 reaches the group's members; the unit carries out the
group's instructions."""
from __future__ import annotations

from tests.procedures.conftest import PROCESSES, local_iso

REPORT = {"severity": "major", "subject": "洗煤厂设备采购疑似围标", "facts": "三家投标单位报价雷同",
          "occurred_on": "2027-03-01", "persons": "", "area": "micro_corruption", "source": "department"}


def test_a_unit_committee_files_a_major_report_to_the_group(sc, clock):
    clock.set("2027-03-02T10:00:00+08:00")
    sc.deploy(PROCESSES / "adhoc_report_unit.bpmn", ["adhoc_report_unit"])
    # a commissioner, a functional department or another unit's committee cannot file it for this unit
    for user in ("xuchang_tongfeng", "xuchang_dept"):
        r = sc.api.post("/api/v1/process-definitions/adhoc_report_unit/start", user, json={"variables": {}})
        assert r.status_code == 403, (user, r.get_json())
    r = sc.api.post("/api/v1/process-definitions/adhoc_report_unit/start", "xinsheng_member",
                    json={"variables": {"unit_id": "xuchang"}})
    assert r.status_code == 403
    r = sc.api.post("/api/v1/process-definitions/adhoc_report_unit/start", "xuchang_member", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()["id"]
    assert r.get_json()["scope_node_id"] == "xuchang"

    task = sc.one("file_unit_report", "unit", "xuchang")
    bad = sc.complete(task, "xuchang_member", {**REPORT, "severity": "routine", "department": "物资供应部"}, status=422)
    assert [d["field"] for d in bad["details"]] == ["severity"]
    bad = sc.complete(task, "xuchang_member", REPORT, status=422)  # a department's report names the department
    assert [d["field"] for d in bad["details"]] == ["department"]
    sc.complete(task, "xuchang_member", {**REPORT, "department": "物资供应部"})

    ack = sc.one("group_ack", "group", "group")
    assert local_iso(ack["due_at"]) == "2027-03-03T10:00:00+08:00"
    # announced as 逐级上报 (channels subscribe to it separately)
    [note] = [n for n in sc.notifications("group_member") if n["task_id"] == ack["id"] and n["kind"] == "escalation"]
    assert note["title"] == "逐级上报：集团公司纪委签收并批示"
    [rec] = sc.records("adhoc_report").values()
    assert rec.key == f"xuchang:U{inst}" and rec.node_id == "xuchang" and rec.confidential is False
    assert (rec.data["filed_by"], rec.data["branch_id"], rec.data["department"], rec.data["status"]) == (
        "unit", None, "物资供应部", "reported_to_group")
    # the unit's own report: its committee and the group read it, not another unit
    assert list(sc.records("adhoc_report", "xuchang_secretary")) == [rec.key]
    assert list(sc.records("adhoc_report", "xinsheng_secretary")) == []

    # not acknowledged within a day: the secretary presses, and the 督办 reaches every group member
    clock.advance(days=1, seconds=1)
    assert sc.fire_timers() == 1
    press = sc.one("escalate_group", "group", "group", roles="secretary")
    sc.complete(press, "group_secretary", {"escalation_note": "请立即签收"})
    for user in ("group_secretary", "group_deputy", "group_standing", "group_member"):
        urged = [n for n in sc.notifications(user) if n["task_id"] == ack["id"] and n["kind"] == "task_urged"]
        assert len(urged) == 1, user
        assert "书记督办：请即时签收权属单位纪委直接报告的重大问题、敏感信息并批示" in urged[0]["body"]
    sc.complete(ack, "group_deputy", {"group_instructions": "请许厂煤矿纪委会同有关部门核实，结果报集团公司纪委"})

    dispose = sc.one("dispose_instructions", "unit", "xuchang")
    assert sc.detail(dispose, "xuchang_secretary")["context"]["group_instructions"].startswith("请许厂煤矿纪委")
    sc.complete(dispose, "xuchang_secretary", {"disposal": "经核实系围标，已移交并重新招标"})
    data = sc.records("adhoc_report")[rec.key].data
    assert (data["status"], data["state"], data["disposal"]) == ("closed", "closed", "经核实系围标，已移交并重新招标")
    assert data["acks"]["group"]["instructions"].startswith("请许厂煤矿纪委")
    assert sc.instance(inst).status == "completed"
    sc.no_open_tasks()


def test_a_sensitive_report_from_the_unit_is_confidential(sc, clock):
    clock.set("2027-03-02T10:00:00+08:00")
    sc.deploy(PROCESSES / "adhoc_report_unit.bpmn", ["adhoc_report_unit"])
    r = sc.api.post("/api/v1/process-definitions/adhoc_report_unit/start", "daizhuang_secretary", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    sc.complete(sc.one("file_unit_report", "unit", "daizhuang"), "daizhuang_secretary",
                {**REPORT, "severity": "sensitive", "source": "committee", "persons": "孙某"})
    [rec] = sc.records("adhoc_report").values()
    assert rec.confidential is True and rec.data["department"] == ""
    assert list(sc.records("adhoc_report", "daizhuang_member")) == [rec.key]
    assert list(sc.records("adhoc_report", "daizhuang_caimei")) == []


def test_a_unit_report_disposed_of_as_a_clue_reports_its_outcome_to_the_group(sc, clock):
    """Issue 17: what the unit reported to the group and found to be a breach of discipline goes on as a
    clue the group saw (`group_saw`): its outcome is reported back to the group."""
    clock.set("2027-03-02T10:00:00+08:00")
    sc.deploy(PROCESSES / "adhoc_report_unit.bpmn", ["adhoc_report_unit"])
    sc.deploy(PROCESSES / "clue_disposal.bpmn", ["clue_disposal"])
    r = sc.api.post("/api/v1/process-definitions/adhoc_report_unit/start", "xuchang_member", json={"variables": {}})
    inst = r.get_json()["id"]
    sc.complete(sc.one("file_unit_report", "unit", "xuchang"), "xuchang_member", {**REPORT, "department": "物资供应部"})
    sc.complete(sc.one("group_ack", "group", "group"), "group_deputy", {"group_instructions": "核实后报告"})
    dispose = sc.one("dispose_instructions", "unit", "xuchang")
    bad = sc.complete(dispose, "xuchang_secretary", {"disposal": "经核实涉嫌违纪", "transfer_clue": True}, status=422)
    assert [d["field"] for d in bad["details"]] == ["clue_person_input"]
    sc.complete(dispose, "xuchang_secretary", {"disposal": "经核实涉嫌违纪，移交线索处置", "transfer_clue": True,
                                                "clue_person_input": "吴某（物资供应部经理）"})
    assert sc.instance(inst).status == "completed"
    [rec] = sc.records("adhoc_report").values()
    assert (rec.data["state"], rec.data["status"]) == ("clue_reported", "closed")
    [clue_inst] = sc.instances("clue_disposal")
    assert clue_inst.data["group_saw"] is True and clue_inst.data["unit_id"] == "xuchang"
    [clue] = sc.records("clue").values()
    assert (clue.data["person"], clue.data["origin"], clue.data["reported_to_group"], clue.data["branch_id"]) == (
        "吴某（物资供应部经理）", "单位纪委直接报告集团公司纪委", True, None)
    assess = sc.one("assess", "unit", "xuchang")
    sc.complete(assess, "xuchang_member", {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "已整改"})
    sc.complete(sc.one("assess", "unit", "xuchang", roles="secretary"), "xuchang_secretary", {"decision": "approve"})
    sc.complete(sc.one("report_outcome", "unit", "xuchang"), "xuchang_member", {"outcome_report": "已予了结"})
    sc.complete(sc.one("group_accept", "group", "group"), "group_secretary",
                {"accept_decision": "accept", "accept_opinion": "同意"})
    sc.no_open_tasks()
    [clue] = sc.records("clue").values()
    assert (clue.data["status"], clue.data["outcome_report"]["opinion"]) == ("已了结", "同意")


def test_a_unit_report_not_a_clue_starts_no_clue(sc, clock):
    sc.deploy(PROCESSES / "adhoc_report_unit.bpmn", ["adhoc_report_unit"])
    sc.deploy(PROCESSES / "clue_disposal.bpmn", ["clue_disposal"])
    sc.api.post("/api/v1/process-definitions/adhoc_report_unit/start", "xuchang_member", json={"variables": {}})
    sc.complete(sc.one("file_unit_report", "unit", "xuchang"), "xuchang_member", {**REPORT, "department": "物资供应部"})
    sc.complete(sc.one("group_ack", "group", "group"), "group_deputy", {"group_instructions": "核实后报告"})
    sc.complete(sc.one("dispose_instructions", "unit", "xuchang"), "xuchang_secretary", {"disposal": "已重新招标"})
    assert sc.instances("clue_disposal") == [] and sc.records("clue") == {}
    sc.no_open_tasks()
