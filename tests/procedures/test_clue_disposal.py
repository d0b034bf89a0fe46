"""问题线索处置 (clue_disposal): both start paths; the undertaker's grading approved (or returned)
by the 书记; a 重大 clue decided collectively and reported to the group, which approves or
instructs with a deadline that the unit's result report carries; every way ending in an
outcome (了结 with its reason, 澄清正名, 党纪处分 of a kind, 组织处理); dates checked against today
and the order of the steps; the clue register and its confidentiality — through the HTTP API
as the demo users."""
from __future__ import annotations

from tests.oracles import fields
from engine.infra.db import write_intent
from engine.core.runtime import Runtime
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, complete, deploy_and_roundtrip, instance, records, refused

CLUE_KEYS = ["clue_disposal"]
ATTENDEES = ["新升实业纪委书记", "新升实业纪委副书记", "新升实业纪委常委"]
MEETING = {"meeting_date": "2027-01-05", "attendees": ATTENDEES, "decision": "同意谈话函询，报集团公司纪委",
           "votes": {"agree": 3, "against": 0, "abstain": 0}}


def start_manual(api, user="xinsheng_secretary"):
    r = api.post("/api/v1/process-definitions/clue_disposal/start", user, json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def send_clue(sessions, clock, settings, forms, payload):
    """What monthly_report / adhoc_report / special_inspection do: throw `clue_reported`."""
    with write_intent(), sessions() as s:
        started = Runtime(s, clock, settings, forms).send_message("clue_reported", payload, None)
        s.commit()
        return [i.id for i in started]


def clue_of(api, instance_id, user="group_secretary"):
    [item] = [c for c in records(api, "/api/v1/clues", user) if c["instance_id"] == instance_id]
    return item


def held(api, task, data, user):
    """The undertaker submits a step that needs the 书记's approval: it is held, not done."""
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
    assert r.status_code == 200 and r.get_json()["status"] == "held", r.get_json()


def decide(api, task, unit, decision="approve", opinion="同意"):
    """The unit's 书记 decides on the held step; nobody else of the committee may."""
    [approval] = [t for t in api.tasks(f"{unit}_secretary")
                  if t["spec_id"] == task["spec_id"] and t["instance_id"] == task["instance_id"]]
    assert approval["name"].startswith("审批：")
    r = api.post(f"/api/v1/tasks/{approval['id']}/complete", f"{unit}_member", json={"data": {"decision": decision}})
    assert r.status_code == 403
    r = api.post(f"/api/v1/tasks/{approval['id']}/complete", f"{unit}_secretary",
                 json={"data": {"decision": decision, "opinion": opinion}})
    assert r.status_code == 200, r.get_json()


def approved(api, task, data, unit="xinsheng", user=None):
    held(api, task, data, user or f"{unit}_member")
    decide(api, task, unit)


def steps(d):
    return [h["step"] for h in d["history"]]


def notes(api, sessions, clock, settings, user, task_id):
    """What `user` was told about task `task_id` once the notifier has run (the scheduler's pass)."""
    from engine.platform.notify import dispatch

    dispatch(sessions, clock, settings)
    r = api.get("/api/v1/notifications", user, query_string={"per_page": 100})
    return [(n["kind"], n["title"]) for n in r.get_json()["items"] if n["task_id"] == task_id]


CASE_MEETING = {"meeting_date": "2027-01-05", "attendees": ATTENDEES, "decision": "同意立案审查",
                "votes": {"agree": 3, "against": 0, "abstain": 0}}


def test_major_clue_returned_approved_collective_group_instructs_case_sanction(api, sessions, clock, settings):
    deploy_and_roundtrip(api, "clue_disposal.bpmn", CLUE_KEYS)
    w = Worklists(api)
    # a commissioner or another unit cannot start a clue for 新升实业
    assert api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_laogan",
                    json={"variables": {"unit_id": "xinsheng"}}).status_code == 403
    assert api.post("/api/v1/process-definitions/clue_disposal/start", "xuchang_secretary",
                    json={"variables": {"unit_id": "xinsheng"}}).status_code == 403
    inst = start_manual(api)
    assert inst["scope_node_id"] == "xinsheng"
    t = w.check([("register_form", "unit", "xinsheng")])["register_form@xinsheng"]
    data = {"clue_origin": "基层党支部纪律检查委员报告", "branch_id": "xuchang-zongcai", "clue_person": "张某（区队长）",
            "clue_facts": "虚报出勤、套取工资", "clue_reporter": "老干家委党总支纪律检查委员", "received_date": "2027-01-04"}
    err = refused(api, t, data)
    # another unit's branch is not a choice of this unit's form (its branches, picked by name)
    assert fields(err["details"]) == [{"field": "branch_id", "message": "choose one of the options"}]
    err = refused(api, t, {**data, "branch_id": "xinsheng-laogan", "received_date": "5 Jan"})
    assert [d["field"] for d in err["details"]] == ["received_date"]
    err = refused(api, t, {**data, "branch_id": "xinsheng-laogan", "received_date": "2027-01-06"})
    assert fields(err["details"]) == [{"field": "received_date", "message": "受理日期不能晚于今天（2027-01-05）"}]
    complete(api, t, {**data, "branch_id": "xinsheng-laogan"}, "xinsheng_deputy")

    clue = clue_of(api, inst["id"])
    assert clue["confidential"] is True and clue["node_id"] == "xinsheng" and clue["unit_id"] == "xinsheng"
    d = clue["data"]
    assert (d["source"], d["origin"], d["person"], d["branch_id"], d["status"]) == (
        "manual", "基层党支部纪律检查委员报告", "张某（区队长）", "xinsheng-laogan", "待研判")
    assert d["title"] == "问题线索：张某（区队长）"

    # the undertaker (an ordinary 委员) grades it; nothing takes effect until the 书记 approves
    t = w.check([("assess", "unit", "xinsheng")])["assess@xinsheng"]
    refused(api, t, {"clue_level": "特大", "disposal": "谈话函询", "assess_opinion": "x"}, "xinsheng_member")
    held(api, t, {"clue_level": "重大", "disposal": "予以了结", "assess_opinion": "情节轻微"}, "xinsheng_member")
    assert clue_of(api, inst["id"])["data"]["status"] == "待研判"  # held: the register does not move
    decide(api, t, "xinsheng", "return", "涉及工资发放，应定为重大线索并谈话函询")
    view = api.get(f"/api/v1/tasks/{t['id']}", "xinsheng_member").get_json()
    assert view["status"] == "open" and view["assignee"] == "xinsheng_member"
    assert view["returned"]["payload"]["opinion"] == "涉及工资发放，应定为重大线索并谈话函询"
    approved(api, t, {"clue_level": "重大", "disposal": "谈话函询", "assess_opinion": "涉及工资发放，属重大问题线索"})
    d = clue_of(api, inst["id"])["data"]
    assert (d["level"], d["disposal"], d["status"], d["reported_to_group"]) == ("重大", "谈话函询", "报集团公司纪委", False)

    # 重大: decided collectively (the engine checks the record), then reported to the group
    t = w.check([("collective_study", "unit", "xinsheng")])["collective_study@xinsheng"]
    err = refused(api, t, {"collective": dict(MEETING, meeting_date="2027-01-06")})
    assert [x["field"] for x in err["details"]] == ["collective/meeting_date"]
    err = refused(api, t, {"collective": dict(MEETING, attendees=ATTENDEES[:2], votes={"agree": 2})})
    assert [x["field"] for x in err["details"]] == ["collective/attendees"]
    complete(api, t, {"collective": MEETING}, "xinsheng_member")
    d = clue_of(api, inst["id"])["data"]
    assert d["reported_to_group"] is True and d["collective"]["decision"] == MEETING["decision"]

    # the group approves or instructs; an instruction needs its text and a deadline not in the past
    t = w.check([("group_review", "group", "group")])["group_review@group"]
    err = refused(api, t, {"group_decision": "instruct"})
    assert sorted(x["field"] for x in err["details"]) == ["group_deadline", "group_instructions"]
    err = refused(api, t, {"group_decision": "instruct", "group_instructions": "从严从快核查",
                           "group_deadline": "2027-01-04"})
    assert fields(err["details"]) == [{"field": "group_deadline", "message": "报告期限不能早于今天（2027-01-05）"}]
    complete(api, t, {"group_decision": "instruct", "group_instructions": "从严从快核查，核实结果于1月底前报集团",
                      "group_deadline": "2027-01-31"}, "group_deputy")
    ack = clue_of(api, inst["id"])["data"]["group_ack"]
    assert (ack["decision"], ack["instructions"], ack["deadline"]) == ("instruct", "从严从快核查，核实结果于1月底前报集团", "2027-01-31")

    # the instruction is the unit's task at once, due by the group's deadline, beside the disposal
    open_now = w.check([("talk", "unit", "xinsheng"), ("carry_out_instruction", "unit", "xinsheng")])
    ins = open_now["carry_out_instruction@xinsheng"]
    assert ins["due_at"] == "2027-01-31T15:59:59+00:00" and ins["name"] == "落实集团公司纪委指示"
    for user in ("xinsheng_secretary", "xinsheng_deputy", "xinsheng_standing", "xinsheng_member"):
        assert notes(api, sessions, clock, settings, user, ins["id"]) == [("task_offered", "新待办：落实集团公司纪委指示")]
    assert notes(api, sessions, clock, settings, "xuchang_secretary", ins["id"]) == []
    view = api.get(f"/api/v1/tasks/{ins['id']}", "xinsheng_member").get_json()
    assert view["context"]["group_instructions"] == "从严从快核查，核实结果于1月底前报集团"
    err = refused(api, ins, {"instruction_done_on": "2027-01-06", "instruction_report": "已核实"})
    assert fields(err["details"]) == [{"field": "instruction_done_on", "message": "落实日期不能晚于今天（2027-01-05）"}]
    complete(api, ins, {"instruction_done_on": "2027-01-05", "instruction_report": "已核实：虚报出勤3人次"})
    # … and comes back to the group, which sends it back once, then accepts it
    back = w.check([("talk", "unit", "xinsheng"), ("instruction_accept", "group", "group")])["instruction_accept@group"]
    complete(api, back, {"instruction_decision": "return", "instruction_return_reason": "请附核实材料"}, "group_deputy")
    ins = w.check([("talk", "unit", "xinsheng"), ("carry_out_instruction", "unit", "xinsheng")])[
        "carry_out_instruction@xinsheng"]
    assert ins["due_at"] == "2027-01-31T15:59:59+00:00"
    complete(api, ins, {"instruction_done_on": "2027-01-05", "instruction_report": "已核实：虚报出勤3人次，附考勤记录"})
    back = w.check([("talk", "unit", "xinsheng"), ("instruction_accept", "group", "group")])["instruction_accept@group"]
    complete(api, back, {"instruction_decision": "accept", "instruction_opinion": "同意，继续按程序处置"}, "group_deputy")
    got = clue_of(api, inst["id"])["data"]["instruction"]
    assert (got["report"], got["deadline"], got["done_on"], got["on_time"], got["opinion"]) == (
        "已核实：虚报出勤3人次，附考勤记录", "2027-01-31", "2027-01-05", True, "同意，继续按程序处置")
    assert instance(api, inst["id"])["status"] == "running"  # the disposal goes on

    t = w.check([("talk", "unit", "xinsheng")])["talk@xinsheng"]
    talk = {"talk_method": "谈话", "talk_date": "2027-01-06", "talk_record": "本人说明不清", "talk_result": "转初步核实"}
    err = refused(api, t, talk)
    assert fields(err["details"]) == [{"field": "talk_date", "message": "谈话或函询日期不能晚于今天（2027-01-05）"}]
    complete(api, t, dict(talk, talk_date="2027-01-05"))
    t = w.check([("verify", "unit", "xinsheng")])["verify@xinsheng"]
    verify = {"verify_date": "2027-01-04", "verify_findings": "经核实，虚报出勤属实", "verify_conclusion": "立案审查"}
    err = refused(api, t, verify)
    assert fields(err["details"]) == [
        {"field": "verify_date", "message": "核实完成日期不能早于线索登记日期（2027-01-05）"}]
    complete(api, t, dict(verify, verify_date="2027-01-05"))

    # 立案: decided collectively (a record the engine checks) and approved by the 书记; no filing
    # date in the future, none before the verification
    t = w.check([("case_file", "unit", "xinsheng")])["case_file@xinsheng"]
    case = {"case_no": "新升纪审〔2027〕1号", "filing_date": "2027-01-05", "case_note": "启动审查程序"}
    err = refused(api, t, case, "xinsheng_member")
    assert [x["field"] for x in err["details"]] == ["collective"]
    err = refused(api, t, dict(case, collective=dict(CASE_MEETING, attendees=ATTENDEES[:1], votes={"agree": 1})),
                  "xinsheng_member")
    assert [x["field"] for x in err["details"]] == ["collective/attendees"]
    case = dict(case, filing_date="2027-01-06", collective=CASE_MEETING)
    err = refused(api, t, case, "xinsheng_member")
    assert fields(err["details"]) == [{"field": "filing_date", "message": "立案日期不能晚于今天（2027-01-05）"}]
    err = refused(api, t, dict(case, filing_date="2027-01-04"), "xinsheng_member")
    assert fields(err["details"]) == [
        {"field": "filing_date", "message": "立案日期不能早于初步核实完成日期（2027-01-05）"}]
    approved(api, t, dict(case, filing_date="2027-01-05"))
    d = clue_of(api, inst["id"])["data"]
    assert d["status"] == "已立案审查" and d["case"]["collective"]["decision"] == "同意立案审查"
    assert d["collective"]["decision"] == MEETING["decision"]  # the 重大 clue's own meeting stays recorded
    [rec] = [e for e in api.get(f"/api/v1/tasks/{t['id']}", "xinsheng_member").get_json()["decisions"]
             if e["type"] == "collective_recorded"]
    assert rec["payload"]["decision"] == "同意立案审查"

    # 审理: a Party-discipline sanction of a kind the rules know
    t = w.check([("case_trial", "unit", "xinsheng")])["case_trial@xinsheng"]
    trial = {"trial_date": "2027-01-05", "handling": "党纪处分", "decision_no": "新升纪发〔2027〕3号",
             "trial_note": "违反廉洁纪律，情节较重"}
    err = refused(api, t, trial, "xinsheng_member")
    assert [x["field"] for x in err["details"]] == ["sanction"]
    refused(api, t, dict(trial, sanction="记过"), "xinsheng_member")
    approved(api, t, dict(trial, sanction="严重警告"))

    # the result goes back to the group by its deadline; the group reads it, sends it back once
    t = w.check([("report_outcome", "unit", "xinsheng")])["report_outcome@xinsheng"]
    assert t["due_at"] == "2027-01-31T15:59:59+00:00"  # the group's deadline, end of that day
    assert clue_of(api, inst["id"])["data"]["status"] == "已给予党纪处分"
    complete(api, t, {"outcome_report": "已给予张某严重警告处分"})
    t = w.check([("group_accept", "group", "group")])["group_accept@group"]
    complete(api, t, {"accept_decision": "return", "return_reason": "请附处分决定"}, "group_secretary")
    t = w.check([("report_outcome", "unit", "xinsheng")])["report_outcome@xinsheng"]
    complete(api, t, {"outcome_report": "已给予张某严重警告处分，附处分决定"})
    t = w.check([("group_accept", "group", "group")])["group_accept@group"]
    complete(api, t, {"accept_decision": "accept", "accept_opinion": "同意"}, "group_secretary")
    w.check([])
    assert instance(api, inst["id"])["status"] == "completed"

    d = clue_of(api, inst["id"])["data"]
    assert (d["status"], d["outcome"], d["level"]) == ("已给予党纪处分", "党纪处分", "重大")
    assert d["result"] == {"kind": "党纪处分", "reason": "违反廉洁纪律，情节较重", "way": "谈话函询",
                           "decided_on": "2027-01-05", "sanction": "严重警告", "org_measure": None}
    assert (d["case"]["case_no"], d["case"]["filing_date"], d["case"]["sanction"], d["case"]["decision_no"]) == (
        "新升纪审〔2027〕1号", "2027-01-05", "严重警告", "新升纪发〔2027〕3号")
    assert d["outcome_report"]["text"] == "已给予张某严重警告处分，附处分决定"
    assert d["outcome_report"]["deadline"] == "2027-01-31" and d["outcome_report"]["opinion"] == "同意"
    assert steps(d) == [
        "登记", "研判处置方式", "集体研究", "报告集团公司纪委", "集团公司纪委审批", "落实集团公司纪委指示",
        "集团公司纪委审阅指示落实情况", "落实集团公司纪委指示", "集团公司纪委审阅指示落实情况", "谈话函询", "初步核实",
        "集体研究立案", "立案审查", "审理", "处置结果", "报告处置结果", "集团公司纪委审阅结果", "报告处置结果",
        "集团公司纪委审阅结果", "办结"]
    # the instruction branch's older copy of the data does not undo the disposal's at the join
    v = instance(api, inst["id"], "group_secretary")["variables"]
    assert (v["outcome"], v["sanction"], v["disposal"], v["clue_status"]) == ("党纪处分", "严重警告", "谈话函询", "已给予党纪处分")


def test_major_clue_group_approves_and_verification_clears_the_person(api):
    deploy_and_roundtrip(api, "clue_disposal.bpmn", CLUE_KEYS)
    w = Worklists(api)
    inst = start_manual(api)
    t = w.check([("register_form", "unit", "xinsheng")])["register_form@xinsheng"]
    complete(api, t, {"clue_origin": "信访举报", "clue_person": "刘某", "clue_facts": "违规发放福利",
                      "received_date": "2027-01-05"})
    t = w.check([("assess", "unit", "xinsheng")])["assess@xinsheng"]
    approved(api, t, {"clue_level": "重大", "disposal": "初步核实", "assess_opinion": "需初步核实"})
    t = w.check([("collective_study", "unit", "xinsheng")])["collective_study@xinsheng"]
    complete(api, t, {"collective": dict(MEETING, decision="同意初步核实")})
    t = w.check([("group_review", "group", "group")])["group_review@group"]
    complete(api, t, {"group_decision": "approve"}, "group_secretary")
    t = w.check([("verify", "unit", "xinsheng")])["verify@xinsheng"]
    verify = {"verify_date": "2027-01-05", "verify_findings": "福利按制度发放", "verify_conclusion": "澄清正名"}
    err = refused(api, t, verify)
    assert [x["field"] for x in err["details"]] == ["result_reason"]
    complete(api, t, dict(verify, result_reason="反映不实，在本单位会议上予以澄清"))
    t = w.check([("report_outcome", "unit", "xinsheng")])["report_outcome@xinsheng"]
    assert t["due_at"] == "2027-01-15T15:59:59+00:00"  # no deadline from the group: ten days
    complete(api, t, {"outcome_report": "经初步核实反映不实，已澄清正名"})
    t = w.check([("group_accept", "group", "group")])["group_accept@group"]
    complete(api, t, {"accept_decision": "accept", "accept_opinion": "同意"})
    w.check([])
    d = clue_of(api, inst["id"])["data"]
    assert (d["status"], d["outcome"], d["group_ack"]["decision"], d["group_ack"]["deadline"]) == (
        "已澄清正名", "澄清正名", "approve", None)
    assert d["result"]["reason"] == "反映不实，在本单位会议上予以澄清" and d["result"]["way"] == "初步核实"


def test_message_start_shelve_then_verify_case_and_organisational_handling(api, sessions, clock, settings, forms):
    deploy_and_roundtrip(api, "clue_disposal.bpmn", CLUE_KEYS)
    w = Worklists(api)
    [iid] = send_clue(sessions, clock, settings, forms, {
        "unit_id": "xinsheng", "branch_id": "xinsheng-wuye", "clue_source": "monthly_report",
        "clue_person": "李某（班长）", "clue_facts": "逢年过节收取钱物", "title": "月度报告移交线索：李某"})
    inst = instance(api, iid)
    assert (inst["scope_node_id"], inst["unit_id"], inst["title"]) == ("xinsheng-wuye", "xinsheng", "月度报告移交线索：李某")
    d = clue_of(api, iid)["data"]
    assert (d["source"], d["origin"], d["reporter"], d["branch_name"]) == (
        "monthly_report", "月度书面报告", None, "物业服务中心党支部")

    t = w.check([("assess", "unit", "xinsheng")])["assess@xinsheng"]
    err = refused(api, t, {"clue_level": "一般", "disposal": "暂存待查", "assess_opinion": "线索不具体"})
    assert [x["field"] for x in err["details"]] == ["pending_until"]
    approved(api, t, {"clue_level": "一般", "disposal": "暂存待查", "assess_opinion": "线索不具体",
                      "pending_until": "2027-03-31"})
    t = w.check([("shelve_review", "unit", "xinsheng")])["shelve_review@xinsheng"]
    assert t["due_at"] == "2027-03-31T15:59:59+00:00"  # end of that day, Asia/Shanghai
    assert clue_of(api, iid)["data"]["status"] == "暂存待查"
    approved(api, t, {"disposal": "初步核实", "review_note": "补充了新的情况"})
    t = w.check([("verify", "unit", "xinsheng")])["verify@xinsheng"]
    complete(api, t, {"verify_date": "2027-01-05", "verify_findings": "收取钱物属实", "verify_conclusion": "立案审查"})
    t = w.check([("case_file", "unit", "xinsheng")])["case_file@xinsheng"]
    approved(api, t, {"case_no": "新升纪审〔2027〕2号", "filing_date": "2027-01-05", "case_note": "立案",
                      "collective": CASE_MEETING})
    t = w.check([("case_trial", "unit", "xinsheng")])["case_trial@xinsheng"]
    trial = {"trial_date": "2027-01-05", "handling": "组织处理", "decision_no": "新升纪发〔2027〕4号",
             "trial_note": "情节轻微，主动退还"}
    err = refused(api, t, trial, "xinsheng_member")
    assert [x["field"] for x in err["details"]] == ["org_measure"]
    approved(api, t, dict(trial, org_measure="诫勉"))
    w.check([])  # a clue the group never saw: no report back
    d = clue_of(api, iid)["data"]
    assert (d["status"], d["outcome"], d["level"], d["group_ack"], d["reported_to_group"]) == (
        "已组织处理", "组织处理", "一般", None, False)
    assert (d["result"]["org_measure"], d["result"]["sanction"], d["result"]["way"]) == ("诫勉", None, "初步核实")
    assert steps(d) == ["登记", "研判处置方式", "暂存线索复查", "初步核实", "集体研究立案", "立案审查", "审理", "处置结果",
                        "办结"]


def test_talk_then_close_and_direct_close_and_who_sees_clues(api, sessions, clock, settings, forms):
    deploy_and_roundtrip(api, "clue_disposal.bpmn", CLUE_KEYS)
    w = Worklists(api)
    [a] = send_clue(sessions, clock, settings, forms, {
        "unit_id": "xuchang", "branch_id": "xuchang-juejin", "clue_source": "adhoc_report",
        "clue_person": "王某", "clue_facts": "重大隐患瞒报", "clue_reporter": "掘进二区党支部纪律检查委员",
        "title": "随时报告移交线索：王某"})
    b = start_manual(api, "daizhuang_member")["id"]
    t = w.check([("assess", "unit", "xuchang"), ("register_form", "unit", "daizhuang")])
    complete(api, t["register_form@daizhuang"], {"clue_origin": "信访举报", "clue_person": "赵某",
                                                   "clue_facts": "工伤上报不及时", "received_date": "2027-01-05"})
    approved(api, t["assess@xuchang"], {"clue_level": "一般", "disposal": "谈话函询", "assess_opinion": "先行谈话"},
             "xuchang")
    t = w.check([("talk", "unit", "xuchang"), ("assess", "unit", "daizhuang")])
    talk = {"talk_method": "函询", "talk_date": "2027-01-05", "talk_record": "已说明", "talk_result": "予以了结"}
    err = refused(api, t["talk@xuchang"], talk)
    assert [x["field"] for x in err["details"]] == ["result_reason"]
    complete(api, t["talk@xuchang"], dict(talk, result_reason="问题已整改，不需要追究"))
    approved(api, t["assess@daizhuang"], {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "已查明无问题"},
             "daizhuang")
    w.check([])
    assert instance(api, a)["status"] == instance(api, b)["status"] == "completed"
    da, db = clue_of(api, a)["data"], clue_of(api, b)["data"]
    assert steps(da) == ["登记", "研判处置方式", "谈话函询", "处置结果", "办结"]
    assert steps(db) == ["登记", "研判处置方式", "处置结果", "办结"]
    assert (da["status"], da["result"]["reason"], da["result"]["way"]) == ("已了结", "问题已整改，不需要追究", "谈话函询")
    assert (db["status"], db["result"]["reason"], db["result"]["way"]) == ("已了结", "已查明无问题", "予以了结")
    assert db["reporter"] is None

    # the register: a unit sees its own clues, the group all; commissioners, departments and
    # other units see none, not even by id
    group = {c["id"] for c in records(api, "/api/v1/clues", "group_member")}
    xuchang = {c["id"] for c in records(api, "/api/v1/clues", "xuchang_member")}
    daizhuang = {c["id"] for c in records(api, "/api/v1/clues", "daizhuang_standing")}
    assert len(group) == 2 and xuchang | daizhuang == group and not xuchang & daizhuang
    assert records(api, "/api/v1/clues", "xinsheng_secretary") == []
    for user in ("xuchang_juejin", "xuchang_zongcai", "xuchang_dept", "xinsheng_secretary", "daizhuang_caimei"):
        assert records(api, "/api/v1/clues", user) == []
        for cid in xuchang:
            assert api.get(f"/api/v1/clues/{cid}", user).status_code == 404
    [cid] = xuchang
    one = api.get(f"/api/v1/clues/{cid}", "xuchang_secretary").get_json()
    assert one["data"]["person"] == "王某" and one["kind"] == "clue"
    assert api.get(f"/api/v1/clues/{cid}", "group_standing").status_code == 200
    assert records(api, "/api/v1/clues", "group_secretary", unit_id="daizhuang")[0]["id"] in daizhuang
    assert len(records(api, "/api/v1/clues", "group_secretary", status="已了结")) == 2
    assert records(api, "/api/v1/clues", "group_secretary", status="待研判") == []
    assert api.get("/api/v1/clues?status=bogus", "group_secretary").status_code == 422
    assert api.get("/api/v1/clues/999999", "group_secretary").status_code == 404
    assert api.get("/api/v1/clues").status_code == 401


def test_group_instructs_another_way_and_a_clue_the_group_found_reports_back(api, sessions, clock, settings, forms):
    deploy_and_roundtrip(api, "clue_disposal.bpmn", CLUE_KEYS)
    w = Worklists(api)
    inst = start_manual(api)
    t = w.check([("register_form", "unit", "xinsheng")])["register_form@xinsheng"]
    complete(api, t, {"clue_origin": "上级交办", "clue_person": "孙某", "clue_facts": "虚列工程款",
                      "received_date": "2027-01-05"})
    t = w.check([("assess", "unit", "xinsheng")])["assess@xinsheng"]
    approved(api, t, {"clue_level": "重大", "disposal": "予以了结", "assess_opinion": "已退回款项"})
    t = w.check([("collective_study", "unit", "xinsheng")])["collective_study@xinsheng"]
    complete(api, t, {"collective": dict(MEETING, decision="拟予了结，报集团公司纪委")})
    t = w.check([("group_review", "group", "group")])["group_review@group"]
    complete(api, t, {"group_decision": "instruct", "group_disposal": "初步核实",
                      "group_instructions": "不同意了结，应初步核实，结果于1月20日前报告", "group_deadline": "2027-01-20"})
    d = clue_of(api, inst["id"])["data"]
    assert (d["disposal"], d["status"], d["group_ack"]["disposal"]) == ("初步核实", "初步核实", "初步核实")
    # the group's way, not the unit's 了结; the instruction is carried out beside it
    t = w.check([("verify", "unit", "xinsheng"), ("carry_out_instruction", "unit", "xinsheng")])
    assert t["carry_out_instruction@xinsheng"]["due_at"] == "2027-01-20T15:59:59+00:00"
    instruction = t["carry_out_instruction@xinsheng"]
    t = t["verify@xinsheng"]
    complete(api, t, {"verify_date": "2027-01-05", "verify_findings": "款项已退回，未造成损失",
                      "verify_conclusion": "予以了结", "result_reason": "问题轻微，已批评教育"})
    t = w.check([("report_outcome", "unit", "xinsheng"), ("carry_out_instruction", "unit", "xinsheng")])[
        "report_outcome@xinsheng"]
    assert t["due_at"] == "2027-01-20T15:59:59+00:00"
    complete(api, t, {"outcome_report": "经初步核实予以了结"})
    t = w.check([("group_accept", "group", "group"), ("carry_out_instruction", "unit", "xinsheng")])["group_accept@group"]
    complete(api, t, {"accept_decision": "accept", "accept_opinion": "同意"})
    # the disposal is done, the instruction not yet: the instance waits for it
    w.check([("carry_out_instruction", "unit", "xinsheng")])
    assert instance(api, inst["id"])["status"] == "running"
    complete(api, instruction, {"instruction_done_on": "2027-01-05", "instruction_report": "已初步核实，款项已退回"})
    t = w.check([("instruction_accept", "group", "group")])["instruction_accept@group"]
    complete(api, t, {"instruction_decision": "accept", "instruction_opinion": "同意"})
    w.check([])
    assert instance(api, inst["id"])["status"] == "completed"
    d = clue_of(api, inst["id"])["data"]
    assert (d["status"], d["result"]["way"], d["result"]["reason"]) == ("已了结", "初步核实", "问题轻微，已批评教育")

    # a clue the group's special inspection found: the group saw it, so its outcome goes back too
    [iid] = send_clue(sessions, clock, settings, forms, {
        "unit_id": "xuchang", "clue_source": "special_inspection", "clue_person": "周某", "clue_facts": "虚报工资",
        "clue_reporter": "集团公司纪委专项监督检查", "title": "专项检查移交线索：周某"})
    d = clue_of(api, iid)["data"]
    assert d["reported_to_group"] is True and steps(d) == ["登记", "集团公司纪委掌握"]
    t = w.check([("assess", "unit", "xuchang")])["assess@xuchang"]
    approved(api, t, {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "已整改到位"}, "xuchang")
    t = w.check([("report_outcome", "unit", "xuchang")])["report_outcome@xuchang"]
    assert t["due_at"] == "2027-01-15T15:59:59+00:00"
    complete(api, t, {"outcome_report": "已予了结"})
    t = w.check([("group_accept", "group", "group")])["group_accept@group"]
    complete(api, t, {"accept_decision": "accept", "accept_opinion": "同意"})
    w.check([])
    assert clue_of(api, iid)["data"]["status"] == "已了结"
