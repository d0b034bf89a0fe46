"""专项监督检查 (special_inspection): 明察暗访 by every branch of the units in scope (confidential),
自查自纠 by each unit with its departments, then 集中检查 or 重点抽查 by the group; findings become
rectification (accepted or sent back by the group) or clues (message `clue_reported`)."""
from __future__ import annotations

from tests.oracles import fields
import json

from sqlalchemy import select

from engine.linkage import records as engine_records
from engine.models import User
from engine.org.nodes import load_principal
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, commissioner, complete, deploy_and_roundtrip, instance, records, refused

KEYS = ["special_inspection", "special_inspection_unit", "special_inspection_visit", "special_inspection_followup",
        "special_inspection_clue"]
BRANCHES = {
    "xinsheng": ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"],
    "xuchang": ["xuchang-zongcai", "xuchang-juejin", "xuchang-tongfeng"],
    "daizhuang": ["daizhuang-caimei", "daizhuang-yunshu", "daizhuang-jidian"],
}
DEPLOY = {"topic": "职工薪酬分配", "requirements": "检查工资、奖金分配方案的研究及公示公开情况",
          "selfcheck_deadline": "2027-01-25"}


def deploy(api):
    deploy_and_roundtrip(api, "special_inspection.bpmn", KEYS)
    deploy_and_roundtrip(api, "clue_disposal.bpmn", ["clue_disposal"])


def start(api):
    assert api.post("/api/v1/process-definitions/special_inspection/start", "xinsheng_secretary",
                    json={"variables": {}}).status_code == 403
    r = api.post("/api/v1/process-definitions/special_inspection/start", "group_secretary", json={"variables": {}})
    assert r.status_code == 201
    return r.get_json()["id"]


def visit_data(branch):
    return {"visit_mode": "暗访", "visit_date": "2027-01-12", "visit_places": "工资发放现场",
            "visit_findings": [{"problem": f"SECRET-{branch} 虚报出勤", "person": "某班长", "severity": "较重"}],
            "visit_conclusion": f"SECRET-{branch} 结论"}


DEPT = {"departments": "人力资源部、财务部", "dept_summary": "已自查",
        "dept_problems": [{"problem": "公示期不足", "measure": "延长公示", "status": "已整改"}]}
SUMMARY = {"selfcheck_summary": "自查自纠报告", "problems_found": 1, "problems_rectified": 1}


def inspect_units(api, w, units):
    """明察暗访 by every branch of `units` and 自查自纠 by their departments, then each unit's summary."""
    expected = [("dept_selfcheck", "department", u) for u in units] + \
               [("visit", "branch", b) for u in units for b in BRANCHES[u]]
    got = w.check(expected)
    assert {t["due_at"] for t in got.values()} == {"2027-01-25T15:59:59+00:00"}
    for u in units:
        for b in BRANCHES[u]:
            complete(api, got[f"visit@{b}"], visit_data(b), commissioner(b))
        complete(api, got[f"dept_selfcheck@{u}"], DEPT, f"{u}_dept")
    got = w.check([("unit_selfcheck_summary", "unit", u) for u in units])
    for u in units:
        complete(api, got[f"unit_selfcheck_summary@{u}"], SUMMARY)


def visible_text(api, user):
    """Everything `user` can read through the API about instances, tasks and clues."""
    parts = []
    listing = api.get("/api/v1/process-instances", user, query_string={"per_page": 500}).get_json()["items"]
    for inst in listing:
        parts.append(api.get(f"/api/v1/process-instances/{inst['id']}", user).get_data(as_text=True))
        parts.append(api.get(f"/api/v1/process-instances/{inst['id']}/history", user,
                             query_string={"per_page": 500}).get_data(as_text=True))
    for status in ("open", "completed", "cancelled"):
        for t in api.tasks(user, status=status):
            parts.append(api.get(f"/api/v1/tasks/{t['id']}", user).get_data(as_text=True))
    parts.append(json.dumps(records(api, "/api/v1/clues", user), ensure_ascii=False))
    return "\n".join(parts)


def test_central_check_rectification_and_clue_with_confidential_visits(api, sessions):
    deploy(api)
    w = Worklists(api)
    iid = start(api)
    t = w.check([("deploy_inspection", "group", "group")])["deploy_inspection@group"]
    err = refused(api, t, {**DEPLOY, "scope_units": ["xinsheng", "xinsheng-laogan"]})
    # units are picked by name: a branch is no choice
    assert fields(err["details"]) == [{"field": "scope_units/1", "message": "choose one of the options"}]
    refused(api, t, {**DEPLOY, "topic": "其他", "scope_units": ["xinsheng"]})  # 其他 needs the detail
    refused(api, t, {**DEPLOY, "topic": "乱收费", "scope_units": ["xinsheng"]})
    err = refused(api, t, {**DEPLOY, "selfcheck_deadline": "2027-01-01", "scope_units": ["xinsheng"]})
    assert err["details"][0]["field"] == "selfcheck_deadline"
    complete(api, t, {**DEPLOY, "scope_units": ["xuchang", "xinsheng"]})
    assert instance(api, iid)["title"] == "专项监督检查：职工薪酬分配"

    inspect_units(api, w, ["xinsheng", "xuchang"])
    t = w.check([("choose_mode", "group", "group")])["choose_mode@group"]
    ctx = api.get(f"/api/v1/tasks/{t['id']}", "group_member").get_json()["context"]
    assert sorted(r["branch_id"] for r in ctx["visit_reports"]) == sorted(BRANCHES["xinsheng"] + BRANCHES["xuchang"])
    assert sorted(r["unit_id"] for r in ctx["selfcheck_reports"]) == ["xinsheng", "xuchang"]
    complete(api, t, {"mode": "集中检查", "mode_note": "GROUP-NOTE"})

    t = w.check([("central_check", "group", "group")])["central_check@group"]
    rectify = {"unit_id": "xinsheng", "problem": "奖金分配方案未公示", "handling": "限期整改", "deadline": "2027-02-28"}
    clue = {"unit_id": "xinsheng", "problem": "套取冒领奖金", "handling": "移交问题线索", "person": "张某（工区主任）"}
    err = refused(api, t, {"findings": [dict(rectify, unit_id="daizhuang")], "check_summary": "x"})
    # only the units of the inspection's scope are offered
    assert fields(err["details"]) == [{"field": "findings/0/unit_id", "message": "choose one of the options"}]
    err = refused(api, t, {"findings": [{k: v for k, v in clue.items() if k != "person"}], "check_summary": "x"})
    assert [d["field"] for d in err["details"]] == ["findings/0/person"]
    complete(api, t, {"findings": [rectify, clue], "check_summary": "GROUP-SUMMARY 许厂煤矿未发现问题"})

    # the finding to rectify goes to 新升实业; the clue starts 问题线索处置 at 新升实业
    got = w.check([("rectify", "unit", "xinsheng"), ("assess", "unit", "xinsheng")])
    [c] = records(api, "/api/v1/clues", "xinsheng_secretary")
    assert (c["data"]["source"], c["data"]["person"], c["data"]["facts"], c["unit_id"]) == (
        "special_inspection", "张某（工区主任）", "套取冒领奖金", "xinsheng")
    assert c["data"]["reporter"] == "集团公司纪委专项监督检查（职工薪酬分配）"
    # the message carries the clue contract (messagePayload), not the inspection's working data
    variables = instance(api, c["instance_id"])["variables"]
    assert variables["clue_source"] == "special_inspection" and variables["finding_key"].startswith("si-")
    assert not {"scope_units", "my_findings", "requirements", "checked_units"} & set(variables)
    assert records(api, "/api/v1/clues", "xuchang_secretary") == []
    ctx = api.get(f"/api/v1/tasks/{got['rectify@xinsheng']['id']}", "xinsheng_deputy").get_json()["context"]
    [item] = ctx["rectify_items"]
    assert got["rectify@xinsheng"]["due_at"] == "2027-02-28T15:59:59+00:00"
    err = refused(api, got["rectify@xinsheng"], {"results": [{"finding_key": "si-0:9", "measures": "x",
                                                              "completed_date": "2027-02-01", "status": "已整改"}],
                                                 "rectify_summary": "x"})
    # one row per finding to rectify, its finding fixed and named (issue 15): no number typed, an
    # unknown one refused on its field
    assert fields(err["details"]) == [{"field": "results/0/finding_key", "message": "choose one of the options"}]
    form = api.get(f"/api/v1/tasks/{got['rectify@xinsheng']['id']}", "xinsheng_deputy").get_json()["form"]
    rows = form["properties"]["results"]
    assert rows["items"]["properties"]["finding_key"]["enum"] == [item["key"]]
    assert rows["x-row-labels"] == [f"问题{item['no']}：奖金分配方案未公示"]
    assert form["prefill"]["results"] == [{"finding_key": item["key"]}]
    done = {"results": [{"finding_key": item["key"], "measures": "已公示", "completed_date": "2027-02-10",
                         "status": "整改中"}], "rectify_summary": "正在整改"}
    complete(api, got["rectify@xinsheng"], done)
    t = w.check([("accept_rectify", "group", "group"), ("assess", "unit", "xinsheng")])["accept_rectify@group"]
    complete(api, t, {"acceptance": "退回重新整改", "accept_note": "尚未整改到位"})
    t = w.check([("rectify", "unit", "xinsheng"), ("assess", "unit", "xinsheng")])["rectify@xinsheng"]
    complete(api, t, {**done, "results": [dict(done["results"][0], status="已整改")], "rectify_summary": "已整改"})
    t = w.check([("accept_rectify", "group", "group"), ("assess", "unit", "xinsheng")])["accept_rectify@group"]
    complete(api, t, {"acceptance": "验收通过", "accept_note": "整改到位"})
    got = w.check([("assess", "unit", "xinsheng")])
    assert instance(api, iid)["status"] == "completed"
    complete(api, got["assess@xinsheng"], {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "已查清"}, "xinsheng_member")
    [approval] = [t for t in api.tasks("xinsheng_secretary") if t["spec_id"] == "assess"]  # 书记审批
    complete(api, approval, {"decision": "approve"}, "xinsheng_secretary")
    # the group found the clue: the unit reports its outcome back, the group reads it
    t = w.check([("report_outcome", "unit", "xinsheng")])["report_outcome@xinsheng"]
    complete(api, t, {"outcome_report": "经查已予了结"})
    t = w.check([("group_accept", "group", "group")])["group_accept@group"]
    complete(api, t, {"accept_decision": "accept", "accept_opinion": "同意"})
    w.check([])

    # confidentiality: 明察暗访 findings only reach the own unit committee, the own commissioner and
    # the group; the group's findings and summary about all units never reach a unit
    expect = {
        "group_member": {f"SECRET-{b}" for u in ("xinsheng", "xuchang") for b in BRANCHES[u]} | {"GROUP-SUMMARY", "GROUP-NOTE"},
        "xinsheng_secretary": {f"SECRET-{b}" for b in BRANCHES["xinsheng"]},
        "xuchang_standing": {f"SECRET-{b}" for b in BRANCHES["xuchang"]},
        "xinsheng_laogan": {"SECRET-xinsheng-laogan"},
        "xinsheng_wuye": {"SECRET-xinsheng-wuye"},
        "xuchang_zongcai": {"SECRET-xuchang-zongcai"},
        "xinsheng_dept": set(), "xuchang_dept": set(), "daizhuang_secretary": set(), "daizhuang_caimei": set(),
        "owner": set(),
    }
    # ... not even by guessing the id of a branch's 明察暗访 instance
    visits = api.get("/api/v1/process-instances", "admin", query_string={
        "key": "special_inspection_visit", "per_page": 100}).get_json()["items"]
    assert len(visits) == 6
    for v in visits:
        branch, unit = v["scope_node_id"], v["unit_id"]
        allowed = {commissioner(branch)} | w.candidates("unit", unit) | w.candidates("group", "group")
        for user in w.users:
            code = api.get(f"/api/v1/process-instances/{v['id']}", user).status_code
            assert code == (200 if user in allowed else 404), (user, branch, code)
            if user.startswith(unit) and user not in allowed:  # the same unit's other branches, departments
                assert api.get(f"/api/v1/process-instances/{v['id']}/history", user).status_code == 404
    markers = expect["group_member"]
    for user, wanted in expect.items():
        text = visible_text(api, user)
        assert {m for m in markers if m in text} == wanted, user
    # the records behind them, through the visibility rule the API uses
    with sessions() as s:
        for user, wanted in expect.items():
            p = load_principal(s, s.scalars(select(User).where(User.username == user)).one())
            visits = s.scalars(engine_records.query(p, "inspection_visit")).all()
            assert {f"SECRET-{r.node_id}" for r in visits} == {m for m in wanted if m.startswith("SECRET-")}, user
            assert all(r.confidential for r in visits)
            finding_units = {r.unit_id for r in s.scalars(engine_records.query(p, "inspection_finding"))}
            assert finding_units == ({"xinsheng"} if user in ("group_member", "xinsheng_secretary") else set()), user
    with sessions() as s:
        stored = {r.key: r.data for r in s.scalars(engine_records.query(
            load_principal(s, s.scalars(select(User).where(User.username == "admin")).one()), "inspection_finding"))}
    assert sorted(d["status"] for d in stored.values()) == ["已整改", "已移交线索"]


def test_spot_check_with_clue_only(api):
    deploy(api)
    w = Worklists(api)
    iid = start(api)
    t = w.check([("deploy_inspection", "group", "group")])["deploy_inspection@group"]
    complete(api, t, {**DEPLOY, "topic": "严重“三违”处置", "scope_units": ["xuchang", "daizhuang"]})
    inspect_units(api, w, ["xuchang", "daizhuang"])
    complete(api, w.check([("choose_mode", "group", "group")])["choose_mode@group"], {"mode": "重点抽查"})
    t = w.check([("spot_check", "group", "group")])["spot_check@group"]
    clue = {"unit_id": "daizhuang", "problem": "严重三违处置走过场", "handling": "移交问题线索", "person": "李某"}
    err = refused(api, t, {"sample_units": ["daizhuang", "xinsheng"], "findings": [], "check_summary": "x"})
    # only the units of the inspection's scope are offered
    assert fields(err["details"]) == [{"field": "sample_units/1", "message": "choose one of the options"}]
    err = refused(api, t, {"sample_units": ["daizhuang"], "findings": [dict(clue, unit_id="xuchang")],
                           "check_summary": "x"})
    assert fields(err["details"]) == [{"field": "findings", "message": "以下单位未被抽查：xuchang"}]
    complete(api, t, {"sample_units": ["daizhuang"], "findings": [clue], "check_summary": "抽查岱庄煤矿"})
    got = w.check([("assess", "unit", "daizhuang")])  # only the clue: no rectification task
    assert instance(api, iid)["status"] == "completed"
    [c] = records(api, "/api/v1/clues", "group_secretary")
    assert (c["unit_id"], c["data"]["person"]) == ("daizhuang", "李某")
    assert records(api, "/api/v1/clues", "xuchang_member") == []
    complete(api, got["assess@daizhuang"], {"clue_level": "一般", "disposal": "予以了结", "assess_opinion": "已查清"}, "daizhuang_member")
    [approval] = [t for t in api.tasks("daizhuang_secretary") if t["spec_id"] == "assess"]  # 书记审批
    complete(api, approval, {"decision": "approve"}, "daizhuang_secretary")
    # the group found the clue: the unit reports its outcome back, the group reads it
    t = w.check([("report_outcome", "unit", "daizhuang")])["report_outcome@daizhuang"]
    complete(api, t, {"outcome_report": "经查已予了结"})
    t = w.check([("group_accept", "group", "group")])["group_accept@group"]
    complete(api, t, {"accept_decision": "accept", "accept_opinion": "同意"})
    w.check([])


def test_inspection_without_findings(api):
    deploy(api)
    w = Worklists(api)
    iid = start(api)
    t = w.check([("deploy_inspection", "group", "group")])["deploy_inspection@group"]
    complete(api, t, {**DEPLOY, "topic": "其他", "topic_detail": "节日期间收受礼品礼金", "scope_units": ["xinsheng"]})
    assert instance(api, iid)["title"] == "专项监督检查：节日期间收受礼品礼金"
    inspect_units(api, w, ["xinsheng"])
    complete(api, w.check([("choose_mode", "group", "group")])["choose_mode@group"], {"mode": "集中检查"})
    t = w.check([("central_check", "group", "group")])["central_check@group"]
    complete(api, t, {"findings": [], "check_summary": "未发现问题"})
    w.check([])
    inst = instance(api, iid)
    assert inst["status"] == "completed" and inst["children"] == {"completed": 1}
    assert records(api, "/api/v1/clues", "group_secretary") == []
