"""Issue 17, the annual assessment's decisions: the 20 % cap rounded down at every unit size
(a unit too small for one nomination nominates one only with the group's approval, which the
group may refuse), one assessment per year and unit, and the ledger entry the group makes
whenever it finds perfunctory linkage work (linkage_ledger)."""
from __future__ import annotations

import pytest
from lxml import etree

from tests.oracles import fields
from tests.procedures.conftest import PROCESSES
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, complete, deploy_and_roundtrip, instance, records, refused
from tests.procedures.test_annual_assessment import KEYS, NOTICE, assessments_of, reshape_org

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def load_people_script() -> str:
    root = etree.parse(str(PROCESSES / "annual_assessment.bpmn")).getroot()
    [script] = root.xpath("//bpmn:scriptTask[@id='load_people']/bpmn:script", namespaces=NS)
    return script.text


@pytest.mark.parametrize("n", range(0, 13))
def test_the_cap_is_never_above_20_percent(n):
    """The diagram's own script at unit sizes 0–12: ⌊n × 20 %⌋, never more; 1–4 people may
    nominate one, pending the group's approval."""
    scope = {"org_people": lambda unit: [{"username": f"u{i}"} for i in range(n)],
             "org_name": lambda unit: "某单位纪委", "unit_id": "u", "year": 2027,
             "unit_meetings": lambda unit, year: {"regular": 0, "training": 0, "exchange": 0, "total": 0}}
    exec(load_people_script(), scope)  # noqa: S102 - the diagram's script, with stub helpers
    assert scope["nomination_cap"] == n * 20 // 100 == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1,
                                                        10: 2, 11: 2, 12: 2}[n]
    assert scope["nomination_cap"] * 100 <= 20 * n
    assert scope["small_unit"] is (1 <= n <= 4)
    assert scope["nomination_limit"] == (1 if 1 <= n <= 4 else n * 20 // 100)


def start_year(api, year=2027, deadline="2027-12-31"):
    r = api.post("/api/v1/process-definitions/annual_assessment/start", "group_deputy", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_small_unit_refused_and_a_second_assessment_of_the_year_refused(api, sessions, clock):
    deploy_and_roundtrip(api, "annual_assessment.bpmn", KEYS)
    reshape_org(sessions, clock)  # 许厂煤矿: 4 inspectors
    clock.set("2027-12-20T09:00:00+08:00")
    first = start_year(api)
    w = Worklists(api)
    complete(api, w.check([("issue_notice", "group", "group")])["issue_notice@group"], NOTICE)
    units = ["xinsheng", "xuchang", "daizhuang"]
    got = w.check([("group_assess_unit", "group", "group")] * 3 + [("unit_assess_members", "unit", u) for u in units])

    # a second round for the same year is refused on its notice, naming the year
    second = start_year(api)
    notice = [t for t in api.tasks("group_secretary") if t["spec_id"] == "issue_notice"]
    assert len(notice) == 1 and notice[0]["instance_id"] == second
    err = refused(api, notice[0], NOTICE)
    assert fields(err["details"]) == [{"field": "year", "message": "2027年度的分级考核已经发起（2027-12-20），同一年度只考核一次"}]
    complete(api, notice[0], {**NOTICE, "year": 2028, "unit_deadline": "2028-12-31"})  # another year is fine
    assert api.post(f"/api/v1/process-instances/{second}/terminate", "admin", json={"reason": "测试"}).status_code == 200

    # 许厂煤矿 nominates one; the group refuses: the nomination is dropped and the refusal recorded
    t = got["unit_assess_members@xuchang"]
    _ctx, rated = assessments_of(api, t, "xuchang_secretary")
    complete(api, t, {"assessments": rated, "nominees": [{"username": "xuchang_tongfeng", "deeds": "暗访"}],
                      "member_summary": "总结"}, "xuchang_secretary")
    approve = [t for t in api.tasks("group_secretary") if t["spec_id"] == "approve_small_nomination"]
    assert len(approve) == 1
    complete(api, approve[0], {"small_decision": "refused", "small_opinion": "不足5人，本年度不予推荐"}, "group_secretary")
    for u in ("xinsheng", "daizhuang"):
        _ctx, rated = assessments_of(api, got[f"unit_assess_members@{u}"], f"{u}_secretary")
        complete(api, got[f"unit_assess_members@{u}"], {"assessments": rated, "nominees": [], "member_summary": "无"})
    for u in units:
        complete(api, got[f"group_assess_unit@group#{u}"], {"score": 90, "rating": "较好", "linkage_problem": "无",
                                                           "assess_comment": "较好"})
    review = [t for t in api.tasks("group_secretary") if t["spec_id"] == "review_nominations"]
    ctx = api.get(f"/api/v1/tasks/{review[0]['id']}", "group_secretary").get_json()["context"]
    assert ctx["nominated"] == []
    assert [r["nominee_names"] for r in ctx["unit_overview_rows"]] == ["无推荐", "无推荐", "无推荐"]
    complete(api, review[0], {"approved": [], "bulletin_no": "无", "bulletin_date": "2027-12-31"})
    assert instance(api, first)["status"] == "completed"
    assert records(api, "/api/v1/commendations", "group_secretary") == []


def test_the_group_enters_perfunctory_work_in_the_ledger_whenever_it_finds_it(api, clock):
    deploy_and_roundtrip(api, "linkage_ledger.bpmn", ["linkage_ledger"])
    clock.set("2027-05-06T10:00:00+08:00")
    # only the group committee records in its ledger
    assert api.post("/api/v1/process-definitions/linkage_ledger/start", "xuchang_secretary",
                    json={"variables": {}}).status_code == 403
    r = api.post("/api/v1/process-definitions/linkage_ledger/start", "group_standing", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    w = Worklists(api)
    t = w.check([("record_problem", "group", "group")])["record_problem@group"]
    entry = {"ledger_unit": "xuchang", "year": 2027, "quarter": 1, "problem": "应付凑付",
             "reason": "一季度实施方案照抄集团通知，未结合本单位实际分解", "found_on": "2027-05-06"}
    err = refused(api, t, {**entry, "ledger_unit": "nowhere"})
    assert fields(err["details"]) == [{"field": "ledger_unit", "message": "choose one of the options"}]
    complete(api, t, entry, "group_standing")
    w.check([])
    assert instance(api, r.get_json()["id"])["title"] == "记入管理台账：许厂煤矿纪委 2027年第1季度 应付凑付"
    [row] = records(api, "/api/v1/ledger", "group_secretary", year=2027)
    assert row["unit_id"] == "xuchang"
    d = row["data"]
    assert (d["problem"], d["reason"], d["quarter"], d["found_on"], d["source"]) == (
        "应付凑付", entry["reason"], 1, "2027-05-06", "linkage_ledger")
    assert [e["unit_id"] for e in records(api, "/api/v1/ledger", "xuchang_secretary")] == ["xuchang"]
    assert records(api, "/api/v1/ledger", "xinsheng_secretary") == []


def test_a_unit_already_assessed_this_year_is_not_assessed_again(api, sessions, clock):
    """The record of an earlier assessment of the unit (say, a round started before the rule, or
    restored from a backup) refuses a second one on the field named, nothing changes."""
    from engine.infra.db import write_intent
    from engine.models import Record

    deploy_and_roundtrip(api, "annual_assessment.bpmn", KEYS)
    clock.set("2027-12-20T09:00:00+08:00")
    start_year(api)
    w = Worklists(api)
    complete(api, w.check([("issue_notice", "group", "group")])["issue_notice@group"], NOTICE)
    with write_intent(), sessions() as s:
        for kind in ("assessment", "member_assessment"):
            s.add(Record(kind=kind, key="2027:xuchang", node_id="xuchang", unit_id="xuchang", confidential=False,
                         data={"year": 2027, "assessed_at": "2027-12-01T10:00:00+08:00",
                               "submitted_at": "2027-12-02T10:00:00+08:00"},
                         created_at=clock.now(), updated_at=clock.now()))
        s.commit()
    units = ["xinsheng", "xuchang", "daizhuang"]
    got = w.check([("group_assess_unit", "group", "group")] * 3 + [("unit_assess_members", "unit", u) for u in units])
    err = refused(api, got["group_assess_unit@group#xuchang"], {"score": 90, "rating": "较好", "linkage_problem": "无",
                                                                "assess_comment": "较好"})
    assert fields(err["details"]) == [{"field": "score", "message": "许厂煤矿纪委 2027年度已经考核（2027-12-01），同一单位同一年度只考核一次"}]
    t = got["unit_assess_members@xuchang"]
    _ctx, rated = assessments_of(api, t, "xuchang_secretary")
    err = refused(api, t, {"assessments": rated, "nominees": [], "member_summary": "总结"}, "xuchang_secretary")
    assert fields(err["details"]) == [
        {"field": "assessments", "message": "许厂煤矿纪委 2027年度的考核推荐已经上报（2027-12-02），同一单位同一年度只上报一次"}]
    # another unit of the same round is assessed as usual
    complete(api, got["group_assess_unit@group#xinsheng"], {"score": 90, "rating": "较好", "linkage_problem": "无",
                                                           "assess_comment": "较好"})
