"""自下而上 monthly written report: every branch reports, the unit classifies each finding and disposes of it."""
from __future__ import annotations

from tests.procedures.conftest import PROCESSES, local_iso

KEYS = ["monthly_report", "monthly_report_branch", "monthly_report_finding"]
XINSHENG = ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"]
ALL_BRANCHES = XINSHENG + ["xuchang-zongcai", "xuchang-juejin", "xuchang-tongfeng",
                           "daizhuang-caimei", "daizhuang-yunshu", "daizhuang-jidian"]
CLUE_NAMES = {"unit_id", "branch_id", "clue_source", "clue_person", "clue_facts", "clue_reporter", "title"}

FINDINGS = [
    {"title": "班组考勤表存在代签", "facts": "1月8日夜班考勤表两处代签", "area": "micro_corruption"},
    {"title": "奖金分配方案未公示", "facts": "一月份奖金分配方案未在区队公示栏公示", "person": "王某（区队长）", "area": "pay"},
    {"title": "个别管理人员工作作风漂浮", "facts": "副区队长李某多次未按规定下井带班", "person": "李某", "area": "tendency",
     "branch_action": "reminder", "branch_action_detail": "1月20日当面提醒李某按规定下井带班", "branch_action_on": "2027-01-20"},
    {"title": "节日期间收受工区职工礼金", "facts": "春节前收受职工礼金两千元", "person": "张某", "area": "micro_corruption"},
]


def write(sc, task, user, findings=(), summary="本月监督工作情况正常。"):
    return sc.complete(task, user, {"summary": summary, "findings": list(findings)})


def test_deploys_unchanged_and_reimports(sc):
    sc.deploy(PROCESSES / "monthly_report.bpmn", KEYS)
    d = sc.api.get("/api/v1/process-definitions/monthly_report", "group_member").get_json()
    [start, manual] = d["start_events"]
    assert (start["id"], start["kind"], start["expression"]) == ("start_timer", "timer", "0 9 1 * *")
    # the group committee starts a missed month by hand, naming only the period (engine/org/policy.py)
    assert (manual["id"], manual["kind"], manual["variables"]) == ("start_manual", "none", ["period"])


def test_monthly_cycle_every_finding_kind(sc, clock):
    clock.set("2027-01-01T09:00:00+08:00")
    sc.deploy(PROCESSES / "monthly_report.bpmn", KEYS)
    sc.deploy_catcher()
    root = sc.start_timer("monthly_report")

    writes = sc.expect("write_report", "branch", ALL_BRANCHES)
    assert {local_iso(t["due_at"]) for t in writes.values()} == {"2027-01-31T23:59:59+08:00"}  # due month end
    assert len(sc.instances("monthly_report_branch")) == 9  # one small instance per branch

    # 老干家委 reports four findings on time
    clock.set("2027-01-20T10:00:00+08:00")
    write(sc, writes["xinsheng-laogan"], "xinsheng_laogan", FINDINGS)
    # the others report nothing (物业 late, after month end)
    for branch in ALL_BRANCHES:
        if branch not in ("xinsheng-laogan", "xinsheng-wuye"):
            write(sc, writes[branch], branch.replace("-", "_"))
    clock.set("2027-02-02T09:00:00+08:00")
    write(sc, writes["xinsheng-wuye"], "xinsheng_wuye",
          [{"title": "物业费收支未公开", "facts": "一月物业费收支未按规定公开", "area": "other"}])

    reviews = sc.expect("review_report", "unit", ["xinsheng"] * 3 + ["xuchang"] * 3 + ["daizhuang"] * 3, by="branch_id")
    recs = sc.records("monthly_report")
    assert sorted(recs) == sorted(f"{b}:2027-01" for b in ALL_BRANCHES)
    laogan = recs["xinsheng-laogan:2027-01"]
    assert laogan.node_id == "xinsheng-laogan" and laogan.unit_id == "xinsheng"
    assert laogan.data["on_time"] is True and laogan.data["status"] == "submitted"
    assert [f["state"] for f in laogan.data["findings"]] == ["pending_review"] * 4
    assert recs["xinsheng-wuye:2027-01"].data["on_time"] is False

    # send 老干家委's report back once
    sc.complete(reviews["xinsheng-laogan"], "xinsheng_secretary", {"decision": "returned", "review_opinion": ""}, status=422)
    sc.complete(reviews["xinsheng-laogan"], "xinsheng_secretary",
                {"decision": "returned", "review_opinion": "请补充第一条问题的涉及人员"})
    rewrite = sc.one("write_report", "branch", "xinsheng-laogan")
    assert sc.records("monthly_report")["xinsheng-laogan:2027-01"].data["status"] == "returned"
    fixed_findings = [dict(FINDINGS[0], person="赵某（班长）")] + FINDINGS[1:]
    # a reminder or criticism the branch says it gave needs what it was
    no_detail = fixed_findings[:2] + [{k: v for k, v in FINDINGS[2].items() if k != "branch_action_detail"}] + FINDINGS[3:]
    bad = sc.complete(rewrite, "xinsheng_laogan", {"summary": "本月监督工作情况正常。", "findings": no_detail}, status=422)
    assert [d["field"] for d in bad["details"]] == ["findings/2/branch_action_detail"]
    write(sc, rewrite, "xinsheng_laogan", fixed_findings)
    review = sc.one("review_report", "unit", "xinsheng")
    assert sc.detail(review, "xinsheng_member")["context"]["return_count"] == 1

    # every finding must be classified exactly once; a discipline violation names the person
    classes = [
        {"no": 1, "classification": "immediate_fix", "analysis": "属即知即改问题", "fix_requirement": "立即纠正代签",
         "fix_deadline": "2027-02-10"},
        {"no": 2, "classification": "none", "analysis": "经核实已于1月30日补充公示"},
        {"no": 3, "classification": "tendency", "analysis": "苗头性问题"},
        {"no": 4, "classification": "discipline_violation", "analysis": "涉嫌违反廉洁纪律", "person": "张某（工区副主任）"},
    ]
    bad = sc.complete(review, "xinsheng_member", {"decision": "accepted", "review_opinion": "", "classifications": classes[:3]},
                      status=422)
    assert bad["details"][0]["field"] == "classifications"
    bad = sc.complete(review, "xinsheng_member", {"decision": "accepted", "review_opinion": "",
                                                  "classifications": classes[:3] + [dict(classes[3], person="")]}, status=422)
    assert any(d["field"] == "classifications/3/person" for d in bad["details"])
    sc.complete(review, "xinsheng_member", {"decision": "accepted", "review_opinion": "已逐条分类处置", "classifications": classes})

    # 违反党的纪律 → clue_reported: the catcher instance has exactly the agreed variable names,
    # and its task is on 新升实业's committee list and on no other unit's
    [clue] = sc.instances("clue_catcher_test")
    assert set(clue.data) == CLUE_NAMES
    assert clue.data == {"unit_id": "xinsheng", "branch_id": "xinsheng-laogan", "clue_source": "monthly_report",
                         "clue_person": "张某（工区副主任）", "clue_facts": "节日期间收受工区职工礼金：春节前收受职工礼金两千元",
                         "clue_reporter": "老干家委党总支纪律检查委员", "title": "问题线索：节日期间收受工区职工礼金"}
    register = sc.one("register", "unit", "xinsheng")
    assert register["instance_id"] == clue.id

    # 即知即改: the commissioner reports, not fixed yet → the unit urges → fixed
    fix = sc.one("report_fix", "branch", "xinsheng-laogan")
    assert local_iso(fix["due_at"]) == "2027-02-10T23:59:59+08:00"
    sc.complete(fix, "xinsheng_laogan", {"fix_state": "not_fixed", "fix_description": "正在整改"})
    urge = sc.one("urge_fix", "unit", "xinsheng")
    sc.complete(urge, "xinsheng_deputy", {"urge_opinion": "限期整改到位", "fix_due": "2027-02-15"})
    fix = sc.one("report_fix", "branch", "xinsheng-laogan")
    assert local_iso(fix["due_at"]) == "2027-02-15T23:59:59+08:00"
    # the 督办 reaches the commissioner, with the unit's opinion and the new deadline
    [note] = [n for n in sc.notifications("xinsheng_laogan") if n["task_id"] == fix["id"]]
    assert (note["kind"], note["title"]) == ("task_urged", "催办：报告整改情况")
    assert "督办意见：本单位纪委督促整改：限期整改到位（新的整改时限 2027-02-15）" in note["body"]
    assert not [n for n in sc.notifications("xinsheng_secretary") if n["task_id"] == fix["id"]]
    sc.complete(fix, "xinsheng_laogan", {"fix_state": "fixed", "fix_description": "已当面纠正"})
    # the branch's "fixed" is verified by the unit: reopened once (the opinion is required), then accepted
    verify = sc.one("verify_fix", "unit", "xinsheng")
    assert sc.records("monthly_report")["xinsheng-laogan:2027-01"].data["findings"][0]["state"] == "fixing"
    bad = sc.complete(verify, "xinsheng_secretary", {"verify_decision": "reopened"}, status=422)
    assert any(d["field"] == "verify_opinion" for d in bad["details"])
    sc.complete(verify, "xinsheng_secretary", {"verify_decision": "reopened", "verify_opinion": "考勤表未重新签认",
                                               "reopen_due": "2027-02-20"})
    fix = sc.one("report_fix", "branch", "xinsheng-laogan")
    assert local_iso(fix["due_at"]) == "2027-02-20T23:59:59+08:00"
    [note] = [n for n in sc.notifications("xinsheng_laogan") if n["task_id"] == fix["id"]]
    assert "督办意见：本单位纪委复核未通过，退回继续整改：考勤表未重新签认（新的整改时限 2027-02-20）" in note["body"]
    f0 = sc.records("monthly_report")["xinsheng-laogan:2027-01"].data["findings"][0]
    assert (f0["state"], f0["reopened"], f0["verify_opinion"]) == ("fixing", 1, "考勤表未重新签认")
    sc.complete(fix, "xinsheng_laogan", {"fix_state": "fixed", "fix_description": "已当面纠正，考勤表重新签认"})
    sc.complete(sc.one("verify_fix", "unit", "xinsheng"), "xinsheng_deputy", {"verify_decision": "accepted"})

    # 苗头性倾向性: targeted measures recorded by the unit
    measures = sc.one("record_measures", "unit", "xinsheng")
    sc.complete(measures, "xinsheng_standing", {"measures": [
        {"kind": "reminder", "detail": "对李某进行提醒谈话", "done_on": "2027-02-03"}]})

    data = sc.records("monthly_report")["xinsheng-laogan:2027-01"].data
    assert data["status"] == "closed" and data["return_count"] == 1 and data["on_time"] is True
    got = [(f["no"], f["classification"], f["state"]) for f in data["findings"]]
    assert got == [(1, "immediate_fix", "fixed"), (2, "none", "closed"), (3, "tendency", "measures_taken"),
                   (4, "discipline_violation", "clue_reported")]
    assert data["findings"][0]["fix_note"] == "已当面纠正，考勤表重新签认"
    assert data["findings"][2]["measures"][0]["kind"] == "reminder"
    # the branch's own reminder of the person is on the record beside the unit's measures
    assert (data["findings"][2]["branch_action"], data["findings"][2]["branch_action_detail"],
            data["findings"][2]["branch_action_on"]) == ("reminder", "1月20日当面提醒李某按规定下井带班", "2027-01-20")
    assert data["findings"][0]["branch_action"] == "none" and data["findings"][0]["verified_at"]

    # the other reports: 物业 with a finding needing nothing, the rest without findings
    sc.complete(reviews["xinsheng-wuye"], "xinsheng_secretary", {
        "decision": "accepted", "review_opinion": "", "classifications": [{"no": 1, "classification": "none"}]})
    for branch, task in reviews.items():
        if branch not in ("xinsheng-laogan", "xinsheng-wuye"):
            sc.complete(task, f"{task['unit_id']}_member", {"decision": "accepted", "review_opinion": "", "classifications": []})

    assert sc.instance(root).status == "completed"
    for key, rec in sc.records("monthly_report").items():
        assert rec.data["status"] == "closed", key
        assert rec.data["year"] == 2027 and rec.data["month"] == 1 and rec.data["submitted_at"]
    # visibility of the records: a commissioner sees only their own branch's report, a unit its branches
    assert sorted(sc.records("monthly_report", "xinsheng_laogan")) == ["xinsheng-laogan:2027-01"]
    assert sorted(sc.records("monthly_report", "xuchang_member")) == sorted(
        f"{b}:2027-01" for b in ALL_BRANCHES if b.startswith("xuchang"))
    assert len(sc.records("monthly_report", "group_standing")) == 9
    assert len(sc.instances("monthly_report_finding")) == 5
    sc.complete(register, "xinsheng_secretary", {})
    sc.no_open_tasks()


def test_period_given_by_hand(sc, clock):
    clock.set("2027-03-05T09:00:00+08:00")
    sc.deploy(PROCESSES / "monthly_report.bpmn", KEYS)
    r = sc.api.post("/api/v1/process-definitions/monthly_report/start", "group_deputy",
                    json={"variables": {"period": "2027-02"}})
    assert r.status_code == 201, r.get_json()
    # the instance's data is its first steps' (not the empty join behind its two start events)
    variables = r.get_json()["variables"]
    assert (variables["period"], variables["month"]) == ("2027-02", 2)
    assert "branch_ids" not in variables  # the call activity fans out to every branch itself (fanOut)
    writes = sc.expect("write_report", "branch", ALL_BRANCHES)
    assert {local_iso(t["due_at"]) for t in writes.values()} == {"2027-02-28T23:59:59+08:00"}
    assert all(t["overdue"] for t in writes.values())
