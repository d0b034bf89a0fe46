"""Fan-out and roll-up by choice through the API (issue 19): refusals in Chinese at validate, the
roll-up as a table (unit or branch names, the fields' form titles) in GET /api/v1/tasks/{id}
and on the task page."""

from __future__ import annotations

import re
from typing import Any

from tests.engine.test_fan_choice import caller, prop

XML = "application/xml"
ZH = {"Accept-Language": "zh"}
BRANCHES = [
    ("xinsheng-laogan", "老干家委党总支"),
    ("xinsheng-wuye", "物业服务中心党支部"),
    ("xinsheng-jidian", "机电维修车间党支部"),
]


def test_validate_refuses_a_form_choice_without_its_field_in_chinese(api: Any) -> None:
    r = api.post(
        "/api/v1/process-definitions/validate",
        "owner",
        data=caller("form_units").encode(),
        content_type=XML,
        headers=ZH,
    )
    body = r.get_json()
    assert body["valid"] is False
    (error,) = body["errors"]
    assert (error["element_id"], error["code"]) == ("fan", "fan_out_field")
    assert (
        error["message"]
        == "分发对象（fanOut）'form_units' 需要填写选定字段（fanOutField）：保存所选单位或支部的表单字段"
    )


def test_roll_up_is_a_table_of_the_branches_with_the_form_titles(api: Any, client: Any) -> None:
    xml = caller("unit_branches", start_lane="权属单位纪委", extra=prop("rollUp", "comment,approved"))
    r = api.post("/api/v1/process-definitions?filename=fc.bpmn", "owner", data=xml.encode(), content_type=XML)
    assert r.status_code == 201, r.get_json()
    r = api.post(
        "/api/v1/process-definitions/fc/start", "xinsheng_secretary", json={"variables": {"unit_id": "xinsheng"}}
    )
    assert r.status_code == 201, r.get_json()
    for i, (branch, _name) in enumerate(BRANCHES):
        user = branch.replace("-", "_")
        (task,) = api.tasks(user, status="open")
        data = {"comment": f"意见{i}", "approved": i != 1}
        r = api.post(f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
        assert r.status_code == 200, r.get_json()
    (after,) = [t for t in api.tasks("xinsheng_secretary", status="open") if t["spec_id"] == "after"]
    body = api.get(f"/api/v1/tasks/{after['id']}", "xinsheng_secretary").get_json()
    rows = [
        {"node_id": b, "node_name": n, "comment": f"意见{i}", "approved": i != 1} for i, (b, n) in enumerate(BRANCHES)
    ]
    assert body["rollups"] == [
        {
            "variable": "fan_rollup",
            "title": "各单位办理",
            "columns": [{"name": "comment", "title": "意见"}, {"name": "approved", "title": "同意"}],
            "rows": rows,
        }
    ]
    assert body["context"]["fan_rollup"] == rows

    # the task page: a table with the branches' names and the titles, not JSON
    from tests.web.conftest import Web

    web = Web(client)
    web.login("xinsheng_secretary")
    html = web.get(f"/tasks/{after['id']}").get_data(as_text=True)
    table = re.search(r'<section class="rollup" id="rollup-fan_rollup".*?</section>', html, re.S).group(0)
    assert "<h3>各单位办理</h3>" in table
    heads = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table)
    assert heads == ["单位或支部", "意见", "同意"]
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr data-node-id=.*?</tr>", table, re.S)]
    assert cells == [
        ["老干家委党总支", "意见0", "是"],
        ["物业服务中心党支部", "意见1", "否"],
        ["机电维修车间党支部", "意见2", "是"],
    ]
    assert 'data-key="fan_rollup"' not in html  # not again among the other process data


def test_the_modeler_config_lists_the_fan_out_choices(api: Any) -> None:
    c = api.get("/api/v1/modeler/config", "owner").get_json()
    assert c["fan_out"] == [
        {"value": "all_units", "label": "全部权属单位", "item": "unit_id", "needs_field": False},
        {"value": "unit_branches", "label": "本单位全部基层党支部", "item": "branch_id", "needs_field": False},
        {"value": "form_units", "label": "表单中选定的单位", "item": "unit_id", "needs_field": True},
        {"value": "form_branches", "label": "表单中选定的支部", "item": "branch_id", "needs_field": True},
        {"value": "unit_committee", "label": "本单位纪委委员", "item": "member", "needs_field": False},
        {"value": "zone_units", "label": "本分区成员单位", "item": "unit_id", "needs_field": False},
    ]
