"""每季度末 unit → group written report, pre-filled from the branches' monthly reports; the group analyses
all units' reports and sends opinions, measures and requirements back to each unit, which acknowledges."""
from __future__ import annotations

from datetime import datetime, timezone

from engine.models import Record
from tests.procedures.conftest import PROCESSES, local_iso

KEYS = ["quarterly_report", "quarterly_report_unit", "quarterly_report_feedback"]
UNITS = ["xinsheng", "xuchang", "daizhuang"]


def seed_february(sc, clock):
    """A real February cycle of monthly reports: 老干家委 (two findings), 物业 (none), 综采一区 (one, not yet classified)."""
    clock.set("2027-02-01T09:00:00+08:00")
    assert sc.api.deploy(PROCESSES / "monthly_report.bpmn").status_code == 201
    sc.start_timer("monthly_report")
    writes = sc.expect("write_report", "branch", ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian", "xuchang-zongcai",
                                                  "xuchang-juejin", "xuchang-tongfeng", "daizhuang-caimei",
                                                  "daizhuang-yunshu", "daizhuang-jidian"])
    sc.complete(writes["xinsheng-laogan"], "xinsheng_laogan", {"summary": "二月情况", "findings": [
        {"title": "考勤代签", "facts": "两处代签", "area": "micro_corruption"},
        {"title": "作风漂浮", "facts": "未按规定带班", "area": "tendency"}]})
    sc.complete(writes["xinsheng-wuye"], "xinsheng_wuye", {"summary": "二月情况", "findings": []})
    sc.complete(writes["xuchang-zongcai"], "xuchang_zongcai", {"summary": "二月情况", "findings": [
        {"title": "“三违”处罚未公示", "facts": "处罚结果未公示", "area": "safety"}]})
    reviews = sc.expect("review_report", "unit", ["xinsheng", "xinsheng", "xuchang"], by="branch_id")
    sc.complete(reviews["xinsheng-laogan"], "xinsheng_member", {"decision": "accepted", "review_opinion": "", "classifications": [
        {"no": 1, "classification": "immediate_fix", "fix_requirement": "纠正", "fix_deadline": "2027-02-20"},
        {"no": 2, "classification": "tendency"}]})
    sc.complete(reviews["xinsheng-wuye"], "xinsheng_member", {"decision": "accepted", "review_opinion": "", "classifications": []})

    def other_records(rt, s):  # a December report (another quarter) and a sensitive ad-hoc report in February
        now = datetime(2027, 2, 10, tzinfo=timezone.utc)
        s.add(Record(kind="monthly_report", key="xinsheng-laogan:2026-12", node_id="xinsheng-laogan", unit_id="xinsheng",
                     data={"period": "2026-12", "branch_id": "xinsheng-laogan", "on_time": True, "findings": [
                         {"no": 1, "classification": "none", "state": "closed"}]}, created_at=now, updated_at=now))
        s.add(Record(kind="adhoc_report", key="xinsheng-jidian:999", node_id="xinsheng-jidian", unit_id="xinsheng",
                     confidential=True, data={"severity": "sensitive", "filed_at": "2027-02-10T10:00:00+08:00"},
                     created_at=now, updated_at=now))
    sc.engine(other_records)


def test_deploys_unchanged_and_reimports(sc):
    sc.deploy(PROCESSES / "quarterly_report.bpmn", KEYS)
    d = sc.api.get("/api/v1/process-definitions/quarterly_report", "group_member").get_json()
    [start, manual] = d["start_events"]
    assert (start["kind"], start["expression"]) == ("timer", "0 9 L 3,6,9,12 *")
    assert (manual["id"], manual["kind"], manual["variables"]) == ("start_manual", "none", ["year", "quarter"])


def test_quarter_end_report_prefilled_analysed_and_acknowledged(sc, clock):
    seed_february(sc, clock)
    clock.set("2027-03-31T09:00:00+08:00")
    sc.deploy(PROCESSES / "quarterly_report.bpmn", KEYS)
    root = sc.start_timer("quarterly_report")

    writes = sc.expect("write_report", "unit", UNITS)
    assert {local_iso(t["due_at"]) for t in writes.values()} == {"2027-04-10T23:59:59+08:00"}
    ctx = sc.detail(writes["xinsheng"], "xinsheng_secretary")["context"]
    assert (ctx["year"], ctx["quarter"]) == (2027, 1)
    st = ctx["statistics"]
    assert (st["reports_expected"], st["reports_submitted"], st["reports_on_time"]) == (9, 2, 2)
    assert st["findings_total"] == 2 and st["findings_open"] == 2 and st["findings_unclassified"] == 0
    assert st["findings_by_classification"] == {"none": 0, "immediate_fix": 1, "tendency": 1, "discipline_violation": 0}
    assert st["adhoc_reports"] == 1 and st["adhoc_by_severity"]["sensitive"] == 1
    assert ctx["monthly_overview"].startswith("本季度（2027-01至2027-03）应报月度书面报告 9 份，已报 2 份，其中按时报送 2 份")
    assert "物业服务中心党支部（2027-01、2027-03）" in ctx["monthly_overview"]
    assert "即知即改 1 条，苗头性倾向性问题 1 条" in ctx["findings_overview"]
    # the report opens with its figures in place (x-default), editable
    form = sc.detail(writes["xinsheng"], "xinsheng_secretary")["form"]
    assert form["prefill"] == {"monthly_overview": ctx["monthly_overview"], "findings_overview": ctx["findings_overview"]}
    xuchang = sc.detail(writes["xuchang"], "xuchang_member")["context"]["statistics"]
    assert (xuchang["reports_submitted"], xuchang["findings_total"], xuchang["findings_unclassified"]) == (1, 1, 1)
    # a unit's pre-filled report holds only its own branches' figures
    assert sc.detail(writes["daizhuang"], "daizhuang_member")["context"]["statistics"]["reports_submitted"] == 0

    for unit, task in writes.items():
        c = sc.detail(task, f"{unit}_secretary")["context"]
        sc.complete(task, f"{unit}_secretary", {
            "monthly_overview": c["monthly_overview"], "findings_overview": c["findings_overview"],
            "work_summary": f"{unit}本季度联动工作情况", "problems": "个别支部月度报告不及时", "next_plan": "加强督促"})

    analyse = sc.one("analyse", "group", "group")
    reports = sc.detail(analyse, "group_standing")["context"]["unit_reports"]
    assert sorted(r["unit_id"] for r in reports) == sorted(UNITS)
    opinions = [{"unit_id": u, "opinion": f"{u}意见", "measures": f"{u}措施", "requirements": f"{u}要求"} for u in UNITS]
    bad = sc.complete(analyse, "group_standing", {"daily_knowledge": "日常掌握", "analysis": "综合研判",
                                                  "opinions": opinions[:2]}, status=422)
    assert bad["details"][0]["field"] == "opinions" and "岱庄煤矿纪委" in bad["message"]
    sc.complete(analyse, "group_standing", {"daily_knowledge": "日常掌握", "analysis": "综合研判", "opinions": opinions})

    acks = sc.expect("acknowledge", "unit", UNITS)
    ctx = sc.detail(acks["xinsheng"], "xinsheng_member")["context"]
    assert (ctx["group_opinion"], ctx["group_measures"], ctx["group_requirements"]) == ("xinsheng意见", "xinsheng措施", "xinsheng要求")
    # other units' opinions and reports and the group's analysis do not travel down
    assert not {"opinions", "unit_reports", "analysis", "daily_knowledge"} & set(ctx)
    for unit, task in acks.items():
        sc.complete(task, f"{unit}_deputy", {"implementation": f"{unit}落实安排"})

    assert sc.instance(root).status == "completed"
    recs = sc.records("quarterly_report")
    assert sorted(recs) == [f"2027Q1:{u}" for u in sorted(UNITS)]
    for key, rec in recs.items():
        unit = key.split(":")[1]
        assert rec.node_id == unit and rec.data["status"] == "acknowledged" and rec.data["on_time"] is True
        assert rec.data["group_opinion"] == f"{unit}意见" and rec.data["implementation"] == f"{unit}落实安排"
    assert recs["2027Q1:xinsheng"].data["statistics"]["reports_submitted"] == 2
    [analysis] = sc.records("quarterly_analysis").values()
    assert analysis.key == "2027Q1" and analysis.node_id == "group" and analysis.data["analysis"] == "综合研判"
    assert sorted(sc.records("quarterly_report", "xuchang_member")) == ["2027Q1:xuchang"]
    assert sc.records("quarterly_analysis", "xuchang_member") == {}


def test_quarter_chosen_when_started_late_or_by_hand(sc, clock):
    sc.deploy(PROCESSES / "quarterly_report.bpmn", KEYS)
    clock.set("2027-04-02T09:00:00+08:00")  # a start on the first days of the next quarter reports the quarter ended
    sc.start_timer("quarterly_report")
    writes = sc.expect("write_report", "unit", UNITS)
    ctx = sc.detail(writes["xuchang"], "xuchang_member")["context"]
    assert (ctx["year"], ctx["quarter"], ctx["quarter_key"]) == (2027, 1, "2027Q1")
    r = sc.api.post("/api/v1/process-definitions/quarterly_report/start", "group_secretary",
                    json={"variables": {"year": 2026, "quarter": 4}})
    assert r.status_code == 201
    writes = sc.expect("write_report", "unit", UNITS)
    ctx = sc.detail(writes["daizhuang"], "daizhuang_member")["context"]
    assert (ctx["year"], ctx["quarter"]) == (2026, 4) and ctx["report_due"] == "2027-01-10"
    assert all(t["overdue"] for t in writes.values())
