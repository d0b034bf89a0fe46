"""随时报告; 重大问题、敏感信息逐级报告: routine reports are disposed of like monthly findings, major and
sensitive ones go branch → unit → group at once, each tier acknowledging within a day or being escalated."""
from __future__ import annotations

from tests.procedures.conftest import PROCESSES, USERS, local_iso

KEYS = ["adhoc_report"]
CLUE_NAMES = {"unit_id", "branch_id", "clue_source", "clue_person", "clue_facts", "clue_reporter", "title", "group_saw"}


def file(sc, user, severity, subject, **extra):
    r = sc.api.post("/api/v1/process-definitions/adhoc_report/start", user, json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    branch = user.replace("_", "-")
    assert inst["scope_node_id"] == branch and inst["variables"]["branch_id"] == branch  # defaulted from the starter
    task = sc.one("file_report", "branch", branch)
    assert task["instance_id"] == inst["id"]
    sc.complete(task, user, {"severity": severity, "subject": subject, "facts": f"{subject}的具体情况",
                             "occurred_on": "2027-01-04", "persons": extra.get("persons", ""), "area": "other"})
    sc.filed_task = task["id"]
    return inst["id"]


def record(sc, instance_id, user=None):
    [rec] = [r for r in sc.records("adhoc_report", user).values() if r.instance_id == instance_id]
    return rec


def test_deploys_unchanged_and_reimports(sc):
    sc.deploy(PROCESSES / "adhoc_report.bpmn", KEYS)
    d = sc.api.get("/api/v1/process-definitions/adhoc_report", "group_member").get_json()
    [start] = d["start_events"]
    branch_lane = next(lane for lane in d["lanes"] if lane["name"] == "基层党支部纪律检查委员")
    assert start["kind"] == "none" and start["id"] in branch_lane["nodes"]


def test_routine_reports_none_and_tendency(sc, clock):
    sc.deploy(PROCESSES / "adhoc_report.bpmn", KEYS)
    # a commissioner files only for their own branch
    r = sc.api.post("/api/v1/process-definitions/adhoc_report/start", "xuchang_zongcai",
                    json={"variables": {"branch_id": "xuchang-juejin"}})
    assert r.status_code == 403
    assert sc.api.post("/api/v1/process-definitions/adhoc_report/start", "xuchang_member",
                       json={"variables": {}}).status_code == 403

    first = file(sc, "xuchang_zongcai", "routine", "井口交接班记录不全")
    classify = sc.one("classify", "unit", "xuchang")
    assert record(sc, first).data["escalated"] is False and record(sc, first).confidential is False
    sc.complete(classify, "xuchang_member", {"classification": "none", "analysis": "属正常工作记录问题，已提醒"})
    rec = record(sc, first)
    assert (rec.data["classification"], rec.data["state"], rec.data["status"]) == ("none", "closed", "closed")
    assert sc.instance(first).status == "completed"

    second = file(sc, "daizhuang_caimei", "routine", "区队干部酒后上岗苗头", persons="刘某")
    classify = sc.one("classify", "unit", "daizhuang")
    sc.complete(classify, "daizhuang_secretary", {"classification": "tendency", "analysis": "苗头性问题"})
    measures = sc.one("record_measures", "unit", "daizhuang")
    sc.complete(measures, "daizhuang_deputy", {"measures": [
        {"kind": "criticism", "detail": "对刘某批评教育", "done_on": "2027-01-06"},
        {"kind": "rules", "detail": "完善入井酒精检测制度", "done_on": "2027-01-08"}]})
    rec = record(sc, second)
    assert rec.data["state"] == "measures_taken" and len(rec.data["measures"]) == 2
    assert rec.node_id == "daizhuang-caimei" and rec.unit_id == "daizhuang"
    assert sc.instance(second).status == "completed"
    sc.no_open_tasks()


def test_major_report_escalates_tier_by_tier_with_deadlines(sc, clock):
    sc.deploy(PROCESSES / "adhoc_report.bpmn", KEYS)
    inst = file(sc, "xinsheng_wuye", "major", "物业维修资金疑似被挪用")
    ack = sc.one("unit_ack", "unit", "xinsheng")
    assert local_iso(ack["due_at"]) == "2027-01-06T09:00:00+08:00"  # within a day
    assert record(sc, inst).data["escalated"] is True

    # the unit does not acknowledge within a day: the group is asked to press it; the unit's task stays
    clock.advance(hours=23)
    assert sc.fire_timers() == 0
    clock.advance(hours=1, seconds=1)
    assert sc.fire_timers() == 1
    press_unit = sc.one("escalate_unit", "group", "group")
    assert sc.api.get(f"/api/v1/tasks/{ack['id']}", "xinsheng_member").get_json()["status"] == "open"
    sc.complete(press_unit, "group_standing", {"escalation_note": "请新升实业纪委立即签收"})
    # the 督办 reaches the unit committee holding the open task, on the notification channels
    for user in ("xinsheng_secretary", "xinsheng_deputy", "xinsheng_standing", "xinsheng_member"):
        urged = [n for n in sc.notifications(user) if n["task_id"] == ack["id"] and n["kind"] == "task_urged"]
        assert len(urged) == 1, user
        assert urged[0]["title"] == "催办：权属单位纪委签收并逐级上报"
        assert "催办意见：集团公司纪委督办：请即时签收重大问题、敏感信息报告，并逐级上报" in urged[0]["body"]
    assert not [n for n in sc.notifications("xuchang_secretary") if n["task_id"] == ack["id"]]
    sc.complete(ack, "xinsheng_secretary", {"unit_opinion": "已签收，立即组织核实"})

    group_ack = sc.one("group_ack", "group", "group")
    assert record(sc, inst).data["status"] == "reported_to_group"
    clock.advance(days=1, seconds=1)
    assert sc.fire_timers() == 1
    # the group's own deadline passes: its secretary (head of the leading group) is asked to press
    press_group = sc.one("escalate_group", "group", "group", roles="secretary")
    sc.complete(press_group, "group_deputy", {"escalation_note": "督办"}, status=403)
    sc.complete(press_group, "group_secretary", {"escalation_note": "请立即签收批示"})
    urged = [n for n in sc.notifications("group_member") if n["task_id"] == group_ack["id"] and n["kind"] == "task_urged"]
    assert len(urged) == 1 and "书记督办：请即时签收逐级报告的重大问题、敏感信息并批示" in urged[0]["body"]
    assert "请立即签收批示" not in urged[0]["body"]  # the note itself is confidential: never sent out
    sc.complete(group_ack, "group_deputy", {"group_instructions": "请新升实业纪委抓紧核实，结果及时报告"})

    classify = sc.one("classify", "unit", "xinsheng")
    ctx = sc.detail(classify, "xinsheng_member")["context"]
    assert ctx["group_instructions"] == "请新升实业纪委抓紧核实，结果及时报告"
    bad = sc.complete(classify, "xinsheng_member", {"classification": "immediate_fix", "analysis": "可即知即改"}, status=422)
    assert {d["field"] for d in bad["details"]} == {"fix_deadline", "fix_requirement"}
    sc.complete(classify, "xinsheng_member", {"classification": "immediate_fix", "analysis": "可即知即改",
                                              "fix_requirement": "追回资金并规范审批", "fix_deadline": "2027-01-20"})
    fix = sc.one("report_fix", "branch", "xinsheng-wuye")
    assert local_iso(fix["due_at"]) == "2027-01-20T23:59:59+08:00"
    sc.complete(fix, "xinsheng_wuye", {"fix_state": "not_fixed", "fix_description": "资金尚未追回"})
    sc.complete(sc.one("urge_fix", "unit", "xinsheng"), "xinsheng_secretary",
                {"urge_opinion": "限期追回", "fix_due": "2027-01-31"})
    fix = sc.one("report_fix", "branch", "xinsheng-wuye")
    [note] = [n for n in sc.notifications("xinsheng_wuye") if n["task_id"] == fix["id"]]
    assert note["kind"] == "task_urged" and "督办意见：本单位纪委督促整改：限期追回（新的整改时限 2027-01-31）" in note["body"]
    sc.complete(fix, "xinsheng_wuye", {"fix_state": "fixed", "fix_description": "资金已追回一半"})
    # the unit verifies the branch's "fixed": reopened, then accepted
    sc.complete(sc.one("verify_fix", "unit", "xinsheng"), "xinsheng_member",
                {"verify_decision": "reopened", "verify_opinion": "尚有资金未追回"})
    assert record(sc, inst).data["state"] == "fixing" and record(sc, inst).data["reopened"] == 1
    fix = sc.one("report_fix", "branch", "xinsheng-wuye")
    assert local_iso(fix["due_at"]) == "2027-01-14T23:59:59+08:00"  # within 7 days when no date is given
    sc.complete(fix, "xinsheng_wuye", {"fix_state": "fixed", "fix_description": "资金已全部追回"})
    sc.complete(sc.one("verify_fix", "unit", "xinsheng"), "xinsheng_member", {"verify_decision": "accepted"})

    data = record(sc, inst).data
    assert data["state"] == "fixed" and data["status"] == "closed" and data["fix_note"] == "资金已全部追回"
    assert data["acks"]["unit"]["opinion"] == "已签收，立即组织核实"
    assert data["acks"]["group"]["instructions"] == "请新升实业纪委抓紧核实，结果及时报告"
    assert sc.instance(inst).status == "completed"
    sc.no_open_tasks()


def test_sensitive_report_is_confidential_and_becomes_a_clue(sc, clock):
    sc.deploy(PROCESSES / "adhoc_report.bpmn", KEYS)
    sc.deploy_catcher()
    inst = file(sc, "xinsheng_jidian", "sensitive", "车间主任涉嫌套取加班费", persons="周某")
    rec = record(sc, inst)
    assert rec.confidential is True and rec.data["severity"] == "sensitive"
    ack = sc.one("unit_ack", "unit", "xinsheng")

    # nobody outside the branch, its unit committee and the group sees the report, its tasks or its instance
    may_see = {"xinsheng_jidian", "xinsheng_secretary", "xinsheng_deputy", "xinsheng_standing", "xinsheng_member",
               "group_secretary", "group_deputy", "group_standing", "group_member"}
    for user in USERS:
        sees_record = [r.key for r in sc.records("adhoc_report", user).values()]
        assert sees_record == ([rec.key] if user in may_see else []), user
        code = sc.api.get(f"/api/v1/process-instances/{inst}", user).status_code
        assert code == (200 if user in may_see else 404), user
    for user in USERS:  # the report the commissioner filed: readable by id only by them
        code = sc.api.get(f"/api/v1/tasks/{sc.filed_task}", user).status_code
        assert code == (200 if user == "xinsheng_jidian" else 404), user

    sc.complete(ack, "xinsheng_deputy", {"unit_opinion": "已签收"})
    group_ack = sc.one("group_ack", "group", "group")
    sc.complete(group_ack, "group_secretary", {"group_instructions": "严肃处置"})
    clock.advance(days=2)
    assert sc.fire_timers() == 0  # acknowledged in time: no escalation
    classify = sc.one("classify", "unit", "xinsheng")
    bad = sc.complete(classify, "xinsheng_secretary", {"classification": "discipline_violation", "analysis": "涉嫌违纪"},
                      status=422)
    assert bad["details"][0]["field"] == "clue_person_input"
    sc.complete(classify, "xinsheng_secretary", {"classification": "discipline_violation", "analysis": "涉嫌违纪",
                                                 "clue_person_input": "周某（机电维修车间主任）"})
    [clue] = sc.instances("clue_catcher_test")
    assert set(clue.data) == CLUE_NAMES
    assert clue.data["clue_source"] == "adhoc_report" and clue.data["branch_id"] == "xinsheng-jidian"
    assert clue.data["unit_id"] == "xinsheng" and clue.data["clue_person"] == "周某（机电维修车间主任）"
    assert clue.data["clue_facts"] == "车间主任涉嫌套取加班费：车间主任涉嫌套取加班费的具体情况"
    assert clue.data["group_saw"] is True  # escalated: the group acknowledged it, so it hears the outcome
    register = sc.one("register", "unit", "xinsheng")
    data = record(sc, inst).data
    assert (data["classification"], data["state"], data["status"]) == ("discipline_violation", "clue_reported", "closed")
    assert record(sc, inst).confidential is True
    assert sc.instance(inst).status == "completed"
    sc.complete(register, "xinsheng_member", {})
    sc.no_open_tasks()


def test_an_escalated_report_becomes_a_clue_whose_outcome_reaches_the_group(sc, clock):
    """Issue 17: the group acknowledged a major report (and asked for a report); the unit grades the clue
    一般 and closes it after 谈话函询 — the outcome still goes back to the group, which reads it."""
    sc.deploy(PROCESSES / "adhoc_report.bpmn", KEYS)
    sc.deploy(PROCESSES / "clue_disposal.bpmn", ["clue_disposal"])
    inst = file(sc, "xinsheng_jidian", "major", "班组长虚报工时")
    sc.complete(sc.one("unit_ack", "unit", "xinsheng"), "xinsheng_deputy", {"unit_opinion": "已签收"})
    sc.complete(sc.one("group_ack", "group", "group"), "group_secretary", {"group_instructions": "核实后3日内报告"})
    sc.complete(sc.one("classify", "unit", "xinsheng"), "xinsheng_secretary", {
        "classification": "discipline_violation", "analysis": "涉嫌违纪", "clue_person_input": "钱某（班组长）"})
    assert sc.instance(inst).status == "completed"
    [clue_inst] = sc.instances("clue_disposal")
    assert clue_inst.data["group_saw"] is True and clue_inst.data["reported_to_group"] is True
    [clue] = [r for r in sc.records("clue").values() if r.instance_id == clue_inst.id]
    assert clue.data["reported_to_group"] is True
    assert [h["step"] for h in clue.data["history"]] == ["登记", "集团公司纪委掌握"]

    # the unit grades it 一般 (the 书记 approves) and closes it after a talk
    assess = sc.one("assess", "unit", "xinsheng")
    held = sc.complete(assess, "xinsheng_member", {"clue_level": "一般", "disposal": "谈话函询", "assess_opinion": "先行谈话"})
    assert held["status"] == "held"
    approval = sc.one("assess", "unit", "xinsheng", roles="secretary")
    sc.complete(approval, "xinsheng_secretary", {"decision": "approve", "opinion": "同意"})
    talk = sc.one("talk", "unit", "xinsheng")
    sc.complete(talk, "xinsheng_member", {"talk_method": "谈话", "talk_date": clock.now().date().isoformat(),
                                          "talk_record": "本人说明了情况", "talk_result": "予以了结",
                                          "result_reason": "问题轻微，已批评教育"})
    # … and the outcome is reported to the group, which reads it: not closed in the unit alone
    report = sc.one("report_outcome", "unit", "xinsheng")
    sc.complete(report, "xinsheng_member", {"outcome_report": "经谈话函询予以了结，已批评教育"})
    accept = sc.one("group_accept", "group", "group")
    sc.complete(accept, "group_deputy", {"accept_decision": "accept", "accept_opinion": "同意"})
    sc.no_open_tasks()
    assert sc.instance(clue_inst.id).status == "completed"
    [clue] = [r for r in sc.records("clue").values() if r.instance_id == clue_inst.id]
    assert (clue.data["status"], clue.data["outcome_report"]["text"], clue.data["outcome_report"]["opinion"]) == (
        "已了结", "经谈话函询予以了结，已批评教育", "同意")
    assert [h["step"] for h in clue.data["history"]][-4:] == ["处置结果", "报告处置结果", "集团公司纪委审阅结果", "办结"]
