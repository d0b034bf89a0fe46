"""自上而下 quarterly linkage tasks: group → every unit committee → every branch commissioner → unit confirms → group closes."""
from __future__ import annotations

from tests.oracles import fields
from tests.procedures.conftest import PROCESSES, local_iso

KEYS = ["quarterly_tasks", "quarterly_tasks_unit", "quarterly_tasks_branch"]
XINSHENG = ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian"]
XUCHANG = ["xuchang-zongcai", "xuchang-juejin", "xuchang-tongfeng"]
DAIZHUANG = ["daizhuang-caimei", "daizhuang-yunshu", "daizhuang-jidian"]

DRAFT = {
    "task_title": "2027年第一季度纪检工作“三级联动”任务",
    "content": "围绕职工薪酬分配和节日期间作风建设开展联动监督。",
    "tasks": [{"title": "薪酬分配公示监督", "requirement": "检查一季度奖金分配方案研究及公示情况", "deadline": "2027-03-20"},
              {"title": "节日廉洁提醒", "requirement": "春节前开展廉洁提醒谈话", "deadline": "2027-02-05"}],
    "requirements": "各单位于1月20日前报送实施方案。",
    "unit_scope": "all",
}


def plan(*items):
    return {"plan": "结合本单位实际制定的实施方案。", "items": list(items)}


def item(title, deadline, branches=None):
    d = {"title": title, "requirement": f"{title}的具体要求", "deadline": deadline}
    if branches is not None:
        d["branch_ids"] = branches
    return d


def report(n):
    return {"results": [{"item_no": i, "status": "completed", "description": f"第{i}项已落实"} for i in range(1, n + 1)],
            "summary": "已逐项落实。"}


def status(sc, user, year=2027, quarter=1, **params):
    r = sc.api.get("/api/v1/reports/quarterly", user, query_string={"year": year, "quarter": quarter, **params})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_deploys_unchanged_and_reimports(sc):
    sc.deploy(PROCESSES / "quarterly_tasks.bpmn", KEYS)
    d = sc.api.get("/api/v1/process-definitions/quarterly_tasks", "group_member").get_json()
    starts = {e["id"]: e for e in d["start_events"]}
    assert starts["start_timer"]["kind"] == "timer" and starts["start_timer"]["expression"] == "0 9 1 1,4,7,10 *"
    assert starts["start_manual"]["kind"] == "none"
    assert {lane["name"] for lane in d["lanes"]} == {"集团公司纪委", "权属单位纪委"}


def test_regular_quarter_end_to_end(sc, clock):
    clock.set("2027-01-01T09:00:00+08:00")
    sc.deploy(PROCESSES / "quarterly_tasks.bpmn", KEYS)
    root = sc.start_timer("quarterly_tasks")

    draft = sc.one("draft_tasks", "group", "group")
    assert local_iso(draft["due_at"]) == "2027-01-10T23:59:59+08:00"  # 季度首月上旬
    # a bad selection is refused with the field named, nothing changes
    bad = sc.complete(draft, "group_deputy", {**DRAFT, "unit_scope": "selected"}, status=422)
    assert any(d["field"] == "selected_units" for d in bad["details"])
    bad = sc.complete(draft, "group_deputy", {**DRAFT, "unit_scope": "selected", "selected_units": ["nowhere"]}, status=422)
    assert fields(bad["details"]) == [{"field": "selected_units/0", "message": "choose one of the options"}]
    sc.complete(draft, "group_deputy", DRAFT)

    plans = sc.expect("draft_plan", "unit", ["xinsheng", "xuchang", "daizhuang"])
    st = status(sc, "group_secretary")
    assert [(i["unit_id"], i["status"], i["branches_total"]) for i in st["items"]] == [
        ("daizhuang", "planning", 3), ("xinsheng", "planning", 3), ("xuchang", "planning", 3)]
    assert st["summary"] == {"planning": 3, "implementing": 0, "completed": 0, "units": 3}
    # a unit sees only its own state, a commissioner none, another quarter nothing
    assert [i["unit_id"] for i in status(sc, "xuchang_member")["items"]] == ["xuchang"]
    assert status(sc, "xinsheng_laogan")["items"] == []
    assert status(sc, "group_member", quarter=2)["items"] == []
    assert sc.api.get("/api/v1/reports/quarterly", "group_member", query_string={"year": 2027}).status_code == 422
    assert sc.api.get("/api/v1/reports/quarterly", "group_member",
                      query_string={"year": 2027, "quarter": 5}).status_code == 422

    # the unit's plan may only name its own branches (the form offers only those)
    bad = sc.complete(plans["xinsheng"], "xinsheng_secretary",
                      plan(item("薪酬公示检查", "2027-03-15", ["xuchang-zongcai"])), status=422)
    assert bad["details"][0]["field"] == "items/0/branch_ids/0"
    sc.complete(plans["xinsheng"], "xinsheng_secretary",
                plan(item("薪酬公示检查", "2027-03-15"), item("老干部慰问金发放监督", "2027-03-25", ["xinsheng-laogan"])))
    sc.complete(plans["xuchang"], "xuchang_deputy",
                plan(item("“三违”处置监督", "2027-03-10", ["xuchang-zongcai", "xuchang-juejin"])))
    sc.complete(plans["daizhuang"], "daizhuang_member", plan(item("工伤上报监督", "2027-03-31")))

    implement = sc.expect("implement", "branch", XINSHENG + ["xuchang-zongcai", "xuchang-juejin"] + DAIZHUANG)
    assert local_iso(implement["xinsheng-laogan"]["due_at"]) == "2027-03-25T23:59:59+08:00"  # its latest item
    assert local_iso(implement["xinsheng-wuye"]["due_at"]) == "2027-03-15T23:59:59+08:00"
    laogan_ctx = sc.detail(implement["xinsheng-laogan"], "xinsheng_laogan")["context"]
    assert [i["title"] for i in laogan_ctx["my_items"]] == ["薪酬公示检查", "老干部慰问金发放监督"]
    by_unit = {i["unit_id"]: i for i in status(sc, "group_standing")["items"]}
    assert by_unit["xuchang"]["status"] == "implementing" and by_unit["xuchang"]["branches_total"] == 2
    assert set(by_unit["xuchang"]["branches"]) == {"xuchang-zongcai", "xuchang-juejin"}

    # item by item: the report must cover every item once
    bad = sc.complete(implement["xinsheng-laogan"], "xinsheng_laogan", report(1), status=422)
    assert bad["details"][0]["field"] == "results"
    for branch, task in implement.items():
        sc.complete(task, branch.replace("-", "_"), report(2 if branch == "xinsheng-laogan" else 1))

    confirms = sc.expect("confirm", "unit", ["xinsheng"] * 3 + ["xuchang"] * 2 + ["daizhuang"] * 3, by="branch_id")
    assert sorted(confirms) == sorted(XINSHENG + ["xuchang-zongcai", "xuchang-juejin"] + DAIZHUANG)
    assert [t["unit_id"] for t in confirms.values()].count("xinsheng") == 3
    # send 老干家委 back once: the opinion is required then
    sc.complete(confirms["xinsheng-laogan"], "xinsheng_member", {"decision": "returned"}, status=422)
    sc.complete(confirms["xinsheng-laogan"], "xinsheng_member", {"decision": "returned", "confirm_opinion": "慰问金发放未附签收表"})
    rework = sc.one("implement", "branch", "xinsheng-laogan")
    xs = {i["unit_id"]: i for i in status(sc, "xinsheng_member")["items"]}["xinsheng"]
    assert xs["branches"]["xinsheng-laogan"]["status"] == "returned"
    assert xs["branches"]["xinsheng-laogan"]["return_opinion"] == "慰问金发放未附签收表"
    sc.complete(rework, "xinsheng_laogan", report(2))
    again = sc.one("confirm", "unit", "xinsheng")
    assert sc.detail(again, "xinsheng_secretary")["context"]["rework_round"] == 2

    for branch, task in confirms.items():
        if branch == "xinsheng-laogan":
            continue
        sc.complete(task, f"{task['unit_id']}_secretary", {"decision": "confirmed"})
        if branch == "xinsheng-wuye":
            xs = {i["unit_id"]: i for i in status(sc, "group_member")["items"]}["xinsheng"]
            assert (xs["status"], xs["branches_done"], xs["branches_total"]) == ("implementing", 1, 3)
    by_unit = {i["unit_id"]: i for i in status(sc, "group_member")["items"]}
    assert by_unit["xuchang"]["status"] == "completed" and by_unit["xuchang"]["branches_done"] == 2
    assert by_unit["xinsheng"]["status"] == "implementing" and by_unit["xinsheng"]["branches_done"] == 2
    sc.complete(again, "xinsheng_standing", {"decision": "confirmed", "confirm_opinion": "已补齐"})

    close = sc.one("review_completion", "group", "group")
    ctx = sc.detail(close, "group_secretary")["context"]
    assert ctx["units_completed"] == 3
    assert sorted((c["unit_id"], c["branches_done"], c["branches_total"]) for c in ctx["completion"]) == [
        ("daizhuang", 3, 3), ("xinsheng", 3, 3), ("xuchang", 2, 2)]
    sc.complete(close, "group_secretary", {"closing_opinion": "各单位按期完成本季度联动任务。"})

    sc.no_open_tasks()
    assert sc.instance(root).status == "completed"
    assert {i.status for i in sc.instances("quarterly_tasks_unit")} == {"completed"}
    assert len(sc.instances("quarterly_tasks_branch")) == 8
    records = sc.records("quarterly_unit_status")
    assert sorted(records) == ["2027Q1:daizhuang", "2027Q1:xinsheng", "2027Q1:xuchang"]
    for key, r in records.items():
        d = r.data
        assert r.node_id == d["unit_id"] == key.split(":")[1]
        assert d["status"] == "completed" and d["branches_done"] == d["branches_total"]
        assert d["closed_at"] and d["completed_at"] and d["issued_at"] and d["plan_submitted_at"]
        assert d["unit_name"] and d["year"] == 2027 and d["quarter"] == 1
        assert all(b["status"] == "confirmed" for b in d["branches"].values())
    assert records["2027Q1:xinsheng"].data["branches"]["xinsheng-laogan"]["rounds"] == 2
    assert status(sc, "daizhuang_member")["summary"] == {"planning": 0, "implementing": 0, "completed": 1, "units": 1}


def test_special_matter_started_by_hand(sc, clock):
    clock.set("2027-02-14T10:00:00+08:00")
    sc.deploy(PROCESSES / "quarterly_tasks.bpmn", KEYS)
    # only the group committee starts it by hand
    r = sc.api.post("/api/v1/process-definitions/quarterly_tasks/start", "xuchang_secretary", json={"variables": {}})
    assert r.status_code == 403
    r = sc.api.post("/api/v1/process-definitions/quarterly_tasks/start", "group_secretary", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    root = r.get_json()["id"]

    draft = sc.one("draft_tasks", "group", "group")
    assert local_iso(draft["due_at"]) == "2027-02-17T23:59:59+08:00"  # special matters: within three days
    sc.complete(draft, "group_secretary", {**DRAFT, "task_title": "节后复工安全专项部署",
                                           "unit_scope": "selected", "selected_units": ["xuchang"]})
    p = sc.one("draft_plan", "unit", "xuchang")
    sc.complete(p, "xuchang_secretary", plan(item("复工安全隐患排查监督", "2027-02-28", ["xuchang-tongfeng"])))
    impl = sc.one("implement", "branch", "xuchang-tongfeng")
    sc.complete(impl, "xuchang_tongfeng", report(1))
    sc.complete(sc.one("confirm", "unit", "xuchang"), "xuchang_member", {"decision": "confirmed"})
    st = status(sc, "group_member", batch="special")
    [special] = st["items"]
    assert special["key"] == f"2027Q1-S{root}:xuchang" and special["batch"] == "special"
    assert special["task_title"] == "节后复工安全专项部署" and special["status"] == "completed"
    assert status(sc, "group_member", batch="regular")["items"] == []
    assert status(sc, "xinsheng_secretary")["items"] == []
    sc.complete(sc.one("review_completion", "group", "group"), "group_deputy", {"closing_opinion": "专项部署已落实。"})
    assert sc.instance(root).status == "completed"
    sc.no_open_tasks()


def test_in_progress_needs_a_reason_and_the_group_reads_each_branch_report(sc, clock):
    """Issue 17: an item still in progress is reported with its reason, and confirmed as done only
    with the unit's reason; the group's closing task shows each branch's report by unit and branch name."""
    clock.set("2027-02-14T10:00:00+08:00")
    sc.deploy(PROCESSES / "quarterly_tasks.bpmn", KEYS)
    r = sc.api.post("/api/v1/process-definitions/quarterly_tasks/start", "group_secretary", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    sc.complete(sc.one("draft_tasks", "group", "group"), "group_secretary",
                {**DRAFT, "unit_scope": "selected", "selected_units": ["xuchang"]})
    sc.complete(sc.one("draft_plan", "unit", "xuchang"), "xuchang_secretary",
                plan(item("复工安全隐患排查监督", "2027-02-28", ["xuchang-tongfeng", "xuchang-juejin"]),
                     item("薪酬公示检查", "2027-02-28", ["xuchang-tongfeng"])))
    impl = sc.expect("implement", "branch", ["xuchang-tongfeng", "xuchang-juejin"])
    half = {"results": [{"item_no": 1, "status": "completed", "description": "已排查12处"},
                        {"item_no": 2, "status": "in_progress", "description": "公示方案待研究"}],
            "summary": "一项完成，一项推进中。"}
    bad = sc.complete(impl["xuchang-tongfeng"], "xuchang_tongfeng", half, status=422)
    assert fields(bad["details"]) == [{"field": "results", "message": "任务2持续推进，请填写未完成原因及下步计划"}]
    half["results"][1]["reason"] = "奖金方案三月初研究"
    sc.complete(impl["xuchang-tongfeng"], "xuchang_tongfeng", half)
    sc.complete(impl["xuchang-juejin"], "xuchang_juejin", report(1))

    confirms = sc.expect("confirm", "unit", ["xuchang", "xuchang"], by="branch_id")
    bad = sc.complete(confirms["xuchang-tongfeng"], "xuchang_secretary", {"decision": "confirmed"}, status=422)
    assert fields(bad["details"]) == [
        {"field": "confirm_opinion", "message": "任务2仍在持续推进，确认落实须在审核意见中说明理由"}]
    # the unit reads the branch's report item by item on its confirmation task
    prev = sc.detail(confirms["xuchang-tongfeng"], "xuchang_secretary")["previous"]
    assert prev[-1]["node_name"] == "通风工区党支部" and prev[-1]["data"]["results"][1]["reason"] == "奖金方案三月初研究"
    sc.complete(confirms["xuchang-tongfeng"], "xuchang_secretary",
                {"decision": "confirmed", "confirm_opinion": "公示待三月研究后完成，同意按期推进"})
    sc.complete(confirms["xuchang-juejin"], "xuchang_secretary", {"decision": "confirmed"})

    close = sc.one("review_completion", "group", "group")
    rows = sc.detail(close, "group_secretary")["form"]["properties"]["branch_reviews"]
    unit = "许厂煤矿纪委"
    assert rows["x-row-labels"] == [f"{unit} · 掘进二区党支部", f"{unit} · 通风工区党支部"]
    details = dict(zip(rows["x-row-labels"], rows["x-row-details"]))
    assert details[f"{unit} · 通风工区党支部"] == (
        "任务1【已完成】已排查12处；任务2【持续推进】公示方案待研究（未完成原因：奖金方案三月初研究）。总体情况：一项完成，一项推进中。"
        "（单位审核：公示待三月研究后完成，同意按期推进）")
    assert details[f"{unit} · 掘进二区党支部"] == "任务1【已完成】第1项已落实。总体情况：已逐项落实。（单位审核：已确认）"
    sc.complete(close, "group_secretary", {"closing_opinion": "已阅。", "branch_reviews": [
        {"branch_id": "xuchang-tongfeng", "group_comment": "三月底前报公示结果"}, {"branch_id": "xuchang-juejin"}]})
    [rec] = sc.records("quarterly_unit_status").values()
    tongfeng = rec.data["branches"]["xuchang-tongfeng"]
    assert (tongfeng["in_progress"], tongfeng["group_comment"]) == (1, "三月底前报公示结果")
    assert tongfeng["confirm_opinion"] == "公示待三月研究后完成，同意按期推进"
    assert "group_comment" not in rec.data["branches"]["xuchang-juejin"]
    sc.no_open_tasks()
