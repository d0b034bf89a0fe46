"""分级考核与通报表彰 (annual_assessment): the group assesses every unit committee (ledger for
poor linkage work), each unit assesses its inspectors and nominates at most 20% (rounded
down; a unit too small for one nomination nominates one only with the group's approval), nobody
rated below 称职, once a year; the group publishes the commendation list with each unit's ratings
beside its nominations."""
from __future__ import annotations

from tests.oracles import fields
from sqlalchemy import delete, select

from engine.org import nodes as org
from engine.org.auth import demo_hash
from engine.infra.db import write_intent
from engine.models import RoleAssignment, User
from engine.core.runtime import Runtime
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, complete, deploy_and_roundtrip, instance, records, refused

KEYS = ["annual_assessment", "annual_assessment_unit"]
NOTICE = {"year": 2027, "requirements": "依据履职考核评价办法，重点考核三级联动落实情况", "unit_deadline": "2027-12-31"}


def reshape_org(sessions, clock):
    """许厂煤矿 keeps 4 inspectors (20% → 0: one only with the group's approval); 岱庄煤矿 gets 10 (→ 2); 新升实业 has 7 (→ 1)."""
    with write_intent(), sessions() as s:
        gone = s.scalars(select(User.id).where(User.username.in_(["xuchang_standing", "xuchang_member", "xuchang_juejin"]))).all()
        s.execute(delete(RoleAssignment).where(RoleAssignment.user_id.in_(gone)))
        for i in (2, 3, 4):
            user = org.ensure_user(s, f"daizhuang_member{i}", f"岱庄煤矿纪委委员{i}", demo_hash(), clock.now())
            s.flush()
            org.grant(s, user, "member", "daizhuang")
        s.commit()


def people(n):
    return [{"username": u, "rating": "称职", "comment": ""} for u in n]


def assessments_of(api, task, user):
    ctx = api.get(f"/api/v1/tasks/{task['id']}", user).get_json()["context"]
    return ctx, [{"username": p["username"], "rating": "优秀", "comment": "工作积极"} for p in ctx["people"]]


def test_year_end_assessment_ledger_cap_and_commendations(api, sessions, clock, settings, forms):
    deploy_and_roundtrip(api, "annual_assessment.bpmn", KEYS)
    reshape_org(sessions, clock)
    clock.set("2027-12-20T09:00:00+08:00")
    with write_intent(), sessions() as s:  # what the scheduler does when the year-end timer is due
        iid = Runtime(s, clock, settings, forms).start("annual_assessment", {}, None, start_event="start_timer").id
        s.commit()
    w = Worklists(api)
    t = w.check([("issue_notice", "group", "group")])["issue_notice@group"]
    err = refused(api, t, {**NOTICE, "unit_deadline": "2027-12-01"})
    assert err["details"][0]["field"] == "unit_deadline"
    complete(api, t, NOTICE)
    assert instance(api, iid)["title"] == "2027年度三级联动分级考核与通报表彰"

    units = ["xinsheng", "xuchang", "daizhuang"]
    got = w.check([("group_assess_unit", "group", "group")] * 3 + [("unit_assess_members", "unit", u) for u in units])
    assert got["unit_assess_members@xinsheng"]["due_at"] == "2027-12-31T15:59:59+00:00"
    assert got["group_assess_unit@group#xuchang"]["due_at"] == "2028-01-10T15:59:59+00:00"
    assert w.candidates("unit", "xuchang") == {"xuchang_secretary", "xuchang_deputy"}

    # 新升实业: 7 inspectors, 20% = 1.4 → at most 1
    t = got["unit_assess_members@xinsheng"]
    ctx, rated = assessments_of(api, t, "xinsheng_secretary")
    assert (len(ctx["people"]), ctx["nomination_cap"]) == (7, 1)
    assert {p["role"] for p in ctx["people"]} == {"secretary", "deputy_secretary", "standing_member", "member",
                                                  "commissioner"}
    two = [{"username": "xinsheng_laogan", "deeds": "主动监督"}, {"username": "xinsheng_member", "deeds": "认真履职"}]
    err = refused(api, t, {"assessments": rated, "nominees": two, "member_summary": "总结"})
    assert err["error"] == "invalid"
    assert fields(err["details"]) == [{"field": "nominees", "message": "推荐 2 人超过上限：本单位纪委委员和基层党支部纪律检查委员共 7 人，"
                                                             "按不高于20%的比例（向下取整）最多推荐 1 人"}]
    assert "最多推荐 1 人" in err["message"]
    err = refused(api, t, {"assessments": rated, "nominees": [{"username": "xuchang_zongcai", "deeds": "x"}],
                           "member_summary": "总结"})
    # another unit's person is not a choice of this unit's form: refused on the field
    assert fields(err["details"]) == [{"field": "nominees/0/username", "message": "choose one of the options"}]
    err = refused(api, t, {"assessments": rated[1:], "nominees": two[:1], "member_summary": "总结"})
    assert err["details"][0]["field"] == "assessments" and ctx["people"][0]["name"] in err["details"][0]["message"]
    # a nominee the unit itself rated below 称职 is refused, naming the person and the rating
    low = [dict(a, rating="不称职") if a["username"] == "xinsheng_laogan" else a for a in rated]
    err = refused(api, t, {"assessments": low, "nominees": two[:1], "member_summary": "总结"})
    laogan_name = next(p["name"] for p in ctx["people"] if p["username"] == "xinsheng_laogan")
    assert fields(err["details"]) == [{"field": "nominees", "message": f"考核等次低于“称职”的人员不能推荐：{laogan_name}（不称职）"}]
    low = [dict(a, rating="基本称职") if a["username"] == "xinsheng_laogan" else a for a in rated]
    assert "（基本称职）" in refused(api, t, {"assessments": low, "nominees": two[:1], "member_summary": "总结"})["details"][0]["message"]
    complete(api, t, {"assessments": rated, "nominees": two[:1], "member_summary": "全年考核总结"}, "xinsheng_secretary")

    # 许厂煤矿: 4 inspectors, 20% = 0.8 → 0: one nomination at most, and only with the group's approval
    t = got["unit_assess_members@xuchang"]
    ctx, rated = assessments_of(api, t, "xuchang_deputy")
    assert (len(ctx["people"]), ctx["nomination_cap"], ctx["small_unit"]) == (4, 0, True)
    two = [{"username": "xuchang_tongfeng", "deeds": "暗访发现问题"}, {"username": "xuchang_zongcai", "deeds": "x"}]
    err = refused(api, t, {"assessments": rated, "nominees": two, "member_summary": "总结"}, "xuchang_deputy")
    assert fields(err["details"]) == [{"field": "nominees", "message": "推荐 2 人超过上限：本单位纪委委员和基层党支部纪律检查委员共 4 人，"
                                                             "按不高于20%的比例（向下取整）不足1人，最多推荐 1 人，并须经集团公司纪委批准"}]
    complete(api, t, {"assessments": rated, "nominees": two[:1], "member_summary": "总结"}, "xuchang_deputy")
    approve = w.check([("approve_small_nomination", "group", "group")] + [("group_assess_unit", "group", "group")] * 3
                      + [("unit_assess_members", "unit", "daizhuang")])["approve_small_nomination@group"]
    refused(api, approve, {"small_decision": "approved"})  # the reason is required
    complete(api, approve, {"small_decision": "approved", "small_opinion": "该同志暗访发现重大隐患，同意推荐"}, "group_secretary")

    # 岱庄煤矿: 10 inspectors → at most 2
    t = got["unit_assess_members@daizhuang"]
    ctx, rated = assessments_of(api, t, "daizhuang_secretary")
    assert (len(ctx["people"]), ctx["nomination_cap"]) == (10, 2)
    three = [{"username": u, "deeds": "成绩优"} for u in ("daizhuang_caimei", "daizhuang_member2", "daizhuang_yunshu")]
    err = refused(api, t, {"assessments": rated, "nominees": three, "member_summary": "总结"})
    assert "推荐 3 人超过上限" in err["details"][0]["message"] and "最多推荐 2 人" in err["details"][0]["message"]
    err = refused(api, t, {"assessments": rated, "nominees": [three[0], three[0]], "member_summary": "总结"})
    assert fields(err["details"]) == [{"field": "nominees", "message": "同一人不能重复推荐"}]
    complete(api, t, {"assessments": rated, "nominees": three[:2], "member_summary": "总结"})

    # the group assesses each unit committee; poor linkage work goes into the ledger with the reason
    complete(api, got["group_assess_unit@group#xinsheng"], {"score": 95, "rating": "好", "linkage_problem": "无",
                                                           "assess_comment": "联动工作扎实"})
    t = got["group_assess_unit@group#xuchang"]
    refused(api, t, {"score": 55, "rating": "差", "linkage_problem": "无", "assess_comment": "差"})
    refused(api, t, {"score": 55, "rating": "差", "linkage_problem": "无落实", "assess_comment": "差"})  # no reason
    complete(api, t, {"score": 55, "rating": "差", "linkage_problem": "无落实", "problem_reason": "第三季度任务无落实",
                      "assess_comment": "需整改"}, "group_member")
    complete(api, got["group_assess_unit@group#daizhuang"], {
        "score": 72, "rating": "一般", "linkage_problem": "应付凑付", "problem_reason": "月度报告应付凑付",
        "assess_comment": "改进报告质量"})

    t = w.check([("review_nominations", "group", "group")])["review_nominations@group"]
    ctx = api.get(f"/api/v1/tasks/{t['id']}", "group_secretary").get_json()["context"]
    assert [n["username"] for n in ctx["nominated"]] == [
        "xinsheng_laogan", "xuchang_tongfeng", "daizhuang_caimei", "daizhuang_member2"]
    assert {n["username"]: n["rating"] for n in ctx["nominated"]}["xuchang_tongfeng"] == "优秀"
    # the group sees each unit's ratings beside its nominations
    rows = api.get(f"/api/v1/tasks/{t['id']}", "group_secretary").get_json()["form"]["properties"]["unit_overview"]
    assert rows["x-row-labels"] == ["山东新升实业发展有限责任公司纪委", "许厂煤矿纪委", "岱庄煤矿纪委"]
    assert rows["x-row-details"][0] == f"考核等次：优秀 7 人；推荐：{laogan_name}（优秀）"
    assert rows["x-row-details"][1].startswith("考核等次：优秀 4 人；推荐：")
    review = {"approved": ["xinsheng_laogan", "daizhuang_caimei", "daizhuang_member2"],
              "bulletin_no": "淄矿纪发〔2027〕30号", "bulletin_date": "2027-12-30", "review_note": "同意"}
    err = refused(api, t, {**review, "approved": ["xinsheng_laogan", "xinsheng_wuye"]})
    assert fields(err["details"]) == [{"field": "approved/1", "message": "choose one of the options"}]
    complete(api, t, review)
    w.check([])
    assert instance(api, iid)["status"] == "completed"

    # the commendation list: the group sees all; a unit its own; a commissioner their own
    everyone = records(api, "/api/v1/commendations", "group_standing", year=2027)
    assert sorted(c["data"]["username"] for c in everyone) == sorted(review["approved"])
    laogan = next(c for c in everyone if c["data"]["username"] == "xinsheng_laogan")["data"]
    assert (laogan["node_name"], laogan["unit_name"], laogan["bulletin_no"], laogan["role_name"]) == (
        "老干家委党总支", "山东新升实业发展有限责任公司纪委", "淄矿纪发〔2027〕30号", "纪律检查委员")
    assert [c["data"]["username"] for c in records(api, "/api/v1/commendations", "xinsheng_member")] == ["xinsheng_laogan"]
    assert [c["data"]["username"] for c in records(api, "/api/v1/commendations", "xinsheng_laogan")] == ["xinsheng_laogan"]
    assert records(api, "/api/v1/commendations", "xinsheng_wuye") == []
    assert records(api, "/api/v1/commendations", "xuchang_secretary") == []
    assert len(records(api, "/api/v1/commendations", "daizhuang_deputy", year=2027)) == 2
    assert records(api, "/api/v1/commendations", "group_secretary", year=2026) == []
    assert len(records(api, "/api/v1/commendations", "group_secretary", unit_id="daizhuang")) == 2
    assert api.get("/api/v1/commendations?year=abc", "group_secretary").status_code == 422

    # the management ledger (管理台账)
    ledger = records(api, "/api/v1/ledger", "group_deputy")
    assert sorted((e["unit_id"], e["data"]["problem"], e["data"]["reason"]) for e in ledger) == [
        ("daizhuang", "应付凑付", "月度报告应付凑付"), ("xuchang", "无落实", "第三季度任务无落实")]
    assert [e["unit_id"] for e in records(api, "/api/v1/ledger", "xuchang_secretary")] == ["xuchang"]
    assert [e["unit_id"] for e in records(api, "/api/v1/ledger", "xuchang_dept")] == ["xuchang"]
    assert records(api, "/api/v1/ledger", "xinsheng_secretary") == []
    assert records(api, "/api/v1/ledger", "daizhuang_caimei") == []
    assert len(records(api, "/api/v1/ledger", "group_secretary", year=2027)) == 2
    assert records(api, "/api/v1/ledger", "group_secretary", year=2026) == []
    assert [e["unit_id"] for e in records(api, "/api/v1/ledger", "group_secretary", unit_id="xuchang")] == ["xuchang"]


def test_manual_start_without_nominations(api):
    deploy_and_roundtrip(api, "annual_assessment.bpmn", KEYS)
    assert api.post("/api/v1/process-definitions/annual_assessment/start", "xinsheng_secretary",
                    json={"variables": {}}).status_code == 403
    r = api.post("/api/v1/process-definitions/annual_assessment/start", "group_deputy", json={"variables": {}})
    assert r.status_code == 201
    w = Worklists(api)
    complete(api, w.check([("issue_notice", "group", "group")])["issue_notice@group"],
             {**NOTICE, "year": 2026, "unit_deadline": "2027-01-31"})
    units = ["xinsheng", "xuchang", "daizhuang"]
    got = w.check([("group_assess_unit", "group", "group")] * 3 + [("unit_assess_members", "unit", u) for u in units])
    for u in units:
        _ctx, rated = assessments_of(api, got[f"unit_assess_members@{u}"], f"{u}_secretary")
        complete(api, got[f"unit_assess_members@{u}"], {"assessments": rated, "nominees": [], "member_summary": "无推荐"})
        complete(api, got[f"group_assess_unit@group#{u}"], {"score": 90, "rating": "较好", "linkage_problem": "无",
                                                           "assess_comment": "较好"})
    t = w.check([("review_nominations", "group", "group")])["review_nominations@group"]
    complete(api, t, {"approved": [], "bulletin_no": "无", "bulletin_date": "2027-02-01"})
    w.check([])
    assert instance(api, r.get_json()["id"])["status"] == "completed"
    assert records(api, "/api/v1/commendations", "group_secretary") == []
    assert records(api, "/api/v1/ledger", "group_secretary") == []
