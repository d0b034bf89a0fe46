"""Fields that know the organisation and the task (issue 15 items 3–6, engine/core/form_fields.py):
choices resolved per task (names as labels, ids stored, another unit's choice refused naming the
field), rows per finding with their number fixed, prefill in `GET /api/v1/tasks/{id}`."""

from __future__ import annotations

from tests.oracles import fields
from tests.procedures.conftest import PROCESSES
from tests.procedures.test_quarterly_tasks import DRAFT, item, plan
from tests.procedures.test_quarterly_tasks import KEYS as QT_KEYS
from tests.web.conftest import Web

XINSHENG = {
    "xinsheng-laogan": "老干家委党总支",
    "xinsheng-wuye": "物业服务中心党支部",
    "xinsheng-jidian": "机电维修车间党支部",
}
ALL_BRANCHES = list(XINSHENG) + [
    "xuchang-zongcai",
    "xuchang-juejin",
    "xuchang-tongfeng",
    "daizhuang-caimei",
    "daizhuang-yunshu",
    "daizhuang-jidian",
]
FINDINGS = [
    {"title": "班组考勤表存在代签", "facts": "1月8日夜班考勤表两处代签", "area": "micro_corruption"},
    {
        "title": "节日期间收受工区职工礼金",
        "facts": "春节前收受职工礼金两千元",
        "person": "张某",
        "area": "micro_corruption",
    },
]


def review_task(sc, clock):
    """老干家委 reports two findings; the unit committee's 梳理分析、逐条分类处置 task."""
    clock.set("2027-01-01T09:00:00+08:00")
    sc.deploy(PROCESSES / "monthly_report.bpmn", ["monthly_report", "monthly_report_branch", "monthly_report_finding"])
    sc.deploy_catcher()
    sc.start_timer("monthly_report")
    writes = sc.expect("write_report", "branch", ALL_BRANCHES)
    sc.complete(writes["xinsheng-laogan"], "xinsheng_laogan", {"summary": "本月情况", "findings": FINDINGS})
    return sc.one("review_report", "unit", "xinsheng")


def test_the_review_has_one_row_per_finding_with_its_number_fixed(sc, clock):
    task = review_task(sc, clock)
    form = sc.detail(task, "xinsheng_secretary")["form"]
    rows = form["properties"]["classifications"]
    assert rows["x-rows-fixed"] is True and rows["maxItems"] == 2
    assert rows["x-row-labels"] == ["问题1：班组考勤表存在代签", "问题2：节日期间收受工区职工礼金"]
    assert rows["x-row-details"] == ["1月8日夜班考勤表两处代签", "春节前收受职工礼金两千元"]
    no = rows["items"]["properties"]["no"]
    assert (no["enum"], no["x-widget"]) == ([1, 2], "fixed")
    assert form["prefill"] == {"classifications": [{"no": 1}, {"no": 2}]}

    # a number that is no finding of this report is refused on its field; a third row too
    accepted = {"decision": "accepted", "review_opinion": ""}
    err = sc.complete(
        task,
        "xinsheng_secretary",
        {
            **accepted,
            "classifications": [{"no": 1, "classification": "tendency"}, {"no": 3, "classification": "tendency"}],
        },
        status=422,
    )
    assert fields(err["details"]) == [{"field": "classifications/1/no", "message": "choose one of the options"}]
    err = sc.complete(
        task,
        "xinsheng_secretary",
        {**accepted, "classifications": [{"no": n, "classification": "tendency"} for n in (1, 2, 2)]},
        status=422,
    )
    assert fields(err["details"]) == [{"field": "classifications", "message": "add at most 2 item(s)"}]
    # the conditional rules still hold on the server: 即知即改 needs 整改要求 and 整改时限
    err = sc.complete(
        task,
        "xinsheng_secretary",
        {
            **accepted,
            "classifications": [
                {"no": 1, "classification": "immediate_fix"},
                {"no": 2, "classification": "discipline_violation"},
            ],
        },
        status=422,
    )
    assert [d["field"] for d in err["details"]] == [
        "classifications/0/fix_requirement",
        "classifications/0/fix_deadline",
        "classifications/1/person",
    ]
    sc.complete(
        task,
        "xinsheng_secretary",
        {**accepted, "classifications": [{"no": 1, "classification": "tendency"}, {"no": 2, "classification": "none"}]},
    )
    assert [f["classification"] for f in sc.records("monthly_report")["xinsheng-laogan:2027-01"].data["findings"]] == [
        "tendency",
        "none",
    ]


def test_the_plan_offers_the_units_own_branches_by_name_and_refuses_another_units(sc, clock, client):
    clock.set("2027-01-01T09:00:00+08:00")
    sc.deploy(PROCESSES / "quarterly_tasks.bpmn", QT_KEYS)
    sc.start_timer("quarterly_tasks")
    sc.complete(sc.one("draft_tasks", "group", "group"), "group_deputy", DRAFT)
    plans = sc.expect("draft_plan", "unit", ["xinsheng", "xuchang", "daizhuang"])
    form = sc.detail(plans["xinsheng"], "xinsheng_secretary")["form"]
    picker = form["properties"]["items"]["items"]["properties"]["branch_ids"]
    assert picker["items"]["enum"] == list(XINSHENG)
    assert picker["items"]["enumNames"] == list(XINSHENG.values())
    assert form["prefill"] == {}
    other = sc.detail(plans["xuchang"], "xuchang_secretary")["form"]
    assert other["properties"]["items"]["items"]["properties"]["branch_ids"]["items"]["enum"] == [
        "xuchang-zongcai",
        "xuchang-juejin",
        "xuchang-tongfeng",
    ]

    # the page: checkboxes labelled with the branches' names, their ids as values; no other unit's
    web = Web(client)
    web.login("xinsheng_secretary")
    html = web.get(f"/tasks/{plans['xinsheng']['id']}").get_data(as_text=True)
    for branch_id, name in XINSHENG.items():
        assert f'name="items/0/branch_ids" value="{branch_id}"> {name}</label>' in html
    assert "xuchang-zongcai" not in html
    # without JavaScript: another unit's branch posted by hand is refused on its field, in Chinese
    r = web.post(
        f"/tasks/{plans['xinsheng']['id']}",
        {
            "plan": "方案",
            "items/0/title": "联动监督",
            "items/0/requirement": "要求",
            "items/0/deadline": "2027-03-20",
            "items/0/branch_ids": ["xinsheng-laogan", "xuchang-zongcai"],
        },
    )
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'data-error-for="items/0/branch_ids"' in page and "请从选项中选择" in page

    err = sc.complete(
        plans["xinsheng"],
        "xinsheng_secretary",
        plan(item("联动监督", "2027-03-20", ["xinsheng-laogan", "xuchang-zongcai"])),
        status=422,
    )
    assert fields(err["details"]) == [{"field": "items/0/branch_ids/1", "message": "choose one of the options"}]
    sc.complete(plans["xinsheng"], "xinsheng_secretary", plan(item("联动监督", "2027-03-20", ["xinsheng-laogan"])))


def test_a_task_someone_may_not_act_on_is_refused_as_before(sc, clock):
    task = review_task(sc, clock)
    r = sc.api.post(
        f"/api/v1/tasks/{task['id']}/complete",
        "xuchang_secretary",
        json={"data": {"decision": "accepted", "classifications": [{"no": 9}]}},
    )
    assert r.status_code == 404
