"""问题线索处置 (clue_disposal): both start paths, every disposal, the major-clue report to the
group, the clue register and its confidentiality, through the HTTP API as the demo users."""
from __future__ import annotations

from tests.oracles import fields
from engine.infra.db import write_intent
from engine.core.runtime import Runtime
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, complete, deploy_and_roundtrip, instance, records, refused

CLUE_KEYS = ["clue_disposal"]


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


def test_manual_registration_major_clue_talk_verify_case(api):
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
            "clue_facts": "虚报出勤、套取工资", "clue_reporter": "老干家委党总支纪律检查委员", "received_date": "2027-01-05"}
    err = refused(api, t, data)
    # another unit's branch is not a choice of this unit's form (its branches, picked by name)
    assert fields(err["details"]) == [{"field": "branch_id", "message": "choose one of the options"}]
    err = refused(api, t, {**data, "branch_id": "xinsheng-laogan", "received_date": "5 Jan"})
    assert [d["field"] for d in err["details"]] == ["received_date"]
    complete(api, t, {**data, "branch_id": "xinsheng-laogan"}, "xinsheng_deputy")

    clue = clue_of(api, inst["id"])
    assert clue["confidential"] is True and clue["node_id"] == "xinsheng" and clue["unit_id"] == "xinsheng"
    d = clue["data"]
    assert (d["source"], d["origin"], d["person"], d["branch_id"], d["status"]) == (
        "manual", "基层党支部纪律检查委员报告", "张某（区队长）", "xinsheng-laogan", "待研判")
    assert d["title"] == "问题线索：张某（区队长）"

    t = w.check([("assess", "unit", "xinsheng")])["assess@xinsheng"]
    refused(api, t, {"clue_level": "特大", "disposal": "谈话函询", "assess_opinion": "x"})
    complete(api, t, {"clue_level": "重大", "disposal": "谈话函询", "assess_opinion": "涉及工资发放，属重大问题线索"})
    got = w.check([("group_ack", "group", "group"), ("talk", "unit", "xinsheng")])
    assert clue_of(api, inst["id"])["data"]["reported_to_group"] is True
    # the group must acknowledge: the form needs the confirmation
    refused(api, got["group_ack@group"], {"acknowledged": False, "group_instructions": ""})
    complete(api, got["group_ack@group"], {"acknowledged": True, "group_instructions": "从严从快核查"}, "group_deputy")
    complete(api, got["talk@xinsheng"], {"talk_method": "谈话", "talk_date": "2027-01-08",
                                         "talk_record": "本人说明不清", "talk_result": "转初步核实"})
    t = w.check([("verify", "unit", "xinsheng")])["verify@xinsheng"]
    complete(api, t, {"verify_findings": "经核实，虚报出勤属实", "verify_conclusion": "立案审查"})
    t = w.check([("case_review", "unit", "xinsheng")])["case_review@xinsheng"]
    complete(api, t, {"case_no": "新升纪审〔2027〕1号", "filing_date": "2027-01-20", "case_note": "启动审查程序"})
    w.check([])
    assert instance(api, inst["id"])["status"] == "completed"

    d = clue_of(api, inst["id"])["data"]
    assert (d["status"], d["outcome"], d["level"]) == ("已立案审查", "立案审查", "重大")
    assert d["group_ack"]["instructions"] == "从严从快核查"
    assert d["case"]["case_no"] == "新升纪审〔2027〕1号"
    assert [h["step"] for h in d["history"]] == [
        "登记", "研判处置方式", "报告集团公司纪委", "集团公司纪委确认收悉", "谈话函询", "初步核实", "立案审查", "办结"]


def test_message_start_shelve_then_verify_and_close(api, sessions, clock, settings, forms):
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
    complete(api, t, {"clue_level": "一般", "disposal": "暂存待查", "assess_opinion": "线索不具体",
                      "pending_until": "2027-03-31"})
    t = w.check([("shelve_review", "unit", "xinsheng")])["shelve_review@xinsheng"]
    assert t["due_at"] == "2027-03-31T15:59:59+00:00"  # end of that day, Asia/Shanghai
    assert clue_of(api, iid)["data"]["status"] == "暂存待查"
    complete(api, t, {"disposal": "初步核实", "review_note": "补充了新的情况"})
    t = w.check([("verify", "unit", "xinsheng")])["verify@xinsheng"]
    complete(api, t, {"verify_findings": "反映问题不实", "verify_conclusion": "予以了结"})
    w.check([])
    d = clue_of(api, iid)["data"]
    assert (d["status"], d["level"], d["group_ack"], d["reported_to_group"]) == ("已了结", "一般", None, False)
    assert [h["step"] for h in d["history"]] == ["登记", "研判处置方式", "暂存线索复查", "初步核实", "办结"]


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
    complete(api, t["assess@xuchang"], {"clue_level": "一般", "disposal": "谈话函询", "assess_opinion": "先行谈话"})
    t = w.check([("talk", "unit", "xuchang"), ("assess", "unit", "daizhuang")])
    complete(api, t["talk@xuchang"], {"talk_method": "函询", "talk_date": "2027-01-09", "talk_record": "已说明",
                                      "talk_result": "予以了结"})
    complete(api, t["assess@daizhuang"], {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "已查明无问题"})
    w.check([])
    assert instance(api, a)["status"] == instance(api, b)["status"] == "completed"
    assert [h["step"] for h in clue_of(api, a)["data"]["history"]] == ["登记", "研判处置方式", "谈话函询", "办结"]
    assert [h["step"] for h in clue_of(api, b)["data"]["history"]] == ["登记", "研判处置方式", "办结"]
    assert clue_of(api, b)["data"]["reporter"] is None

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
