"""Fields that know the task, rendered and parsed (engine/core/form_fields.py, api/web/formrules.py):
choices by name, rows per item with fixed keys, prefill, and conditional required marks."""

from __future__ import annotations

import json
from pathlib import Path

from api.web import formrender, formrules
from engine.core import form_fields
from engine.core.forms import schema_errors

FORMS = Path(__file__).resolve().parents[2] / "forms"
FINDINGS = [{"no": 1, "title": "考勤代签", "facts": "两处代签"}, {"no": 2, "title": "收受礼金", "facts": "两千元"}]


def load(name):
    return json.loads((FORMS / name).read_text(encoding="utf-8"))


def no_org(spec):
    raise AssertionError(f"no organisation source expected: {spec}")


def review():
    return form_fields.resolve(load("monthly_report_review.json"), {"report_findings": FINDINGS}, no_org)


def test_rows_per_finding_are_fixed_with_labels_and_prefilled():
    schema = review()
    prefill = form_fields.prefill(load("monthly_report_review.json"), {"report_findings": FINDINGS})
    assert prefill == {"classifications": [{"no": 1}, {"no": 2}]}
    root = formrender.build(schema, prefill)
    [rows] = [f for f in root.children if f.name == "classifications"]
    assert rows.widget == "repeat" and rows.attrs["fixed"] is True and rows.template is None
    assert [r.label for r in rows.children] == ["问题1：考勤代签", "问题2：收受礼金"]
    assert [r.help for r in rows.children] == ["两处代签", "两千元"]
    no = rows.children[1].children[0]
    assert (no.widget, no.value, no.text) == ("fixed", 2, "问题2：收受礼金")


def test_fixed_rows_left_blank_are_left_out_and_filled_ones_kept_whole():
    schema = review()
    posted = {
        "decision": "returned",
        "review_opinion": "请补充",
        "classifications/0/no": "1",
        "classifications/1/no": "2",
    }
    assert formrender.parse(schema, posted) == {"decision": "returned", "review_opinion": "请补充"}
    posted.update({"decision": "accepted", "classifications/0/classification": "none"})
    data = formrender.parse(schema, posted)
    assert data["classifications"] == [{"no": 1, "classification": "none"}, {"no": 2}]
    assert [d["field"] for d in schema_errors(schema, data)] == ["classifications/1/classification"]


def test_a_number_that_is_no_finding_is_refused_on_its_field():
    data = {"decision": "accepted", "review_opinion": "", "classifications": [{"no": 7, "classification": "none"}]}
    assert [(d["field"], d["rule"]) for d in schema_errors(review(), data)] == [("classifications/0/no", "enum")]


def test_conditional_required_marks_follow_the_classification():
    root = formrender.build(review(), {"classifications": [{"no": 1, "classification": "immediate_fix"}, {"no": 2}]})
    [rows] = [f for f in root.children if f.name == "classifications"]
    first = {f.name: f for f in rows.children[0].children}
    second = {f.name: f for f in rows.children[1].children}
    assert first["fix_requirement"].attrs["when"] == [
        {"all": [{"field": "classification", "in": ["immediate_fix"]}], "negate": False}
    ]
    assert first["fix_requirement"].attrs["when_on"] is True and first["fix_deadline"].attrs["when_on"] is True
    assert first["person"].attrs["when_on"] is False
    assert second["fix_requirement"].attrs["when_on"] is False
    top = {f.name: f for f in root.children}  # 逐条分类 is required when accepted
    assert top["classifications"].attrs["when"][0]["all"] == [{"field": "decision", "in": ["accepted"]}]


def test_dependent_required_and_schemas_are_marks_too():
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}},
        "dependentRequired": {"a": ["b"]},
        "dependentSchemas": {"b": {"required": ["c"]}},
    }
    assert formrules.conditions(schema) == {
        "b": [{"all": [{"field": "a", "filled": True}], "negate": False}],
        "c": [{"all": [{"field": "b", "filled": True}], "negate": False}],
    }
    assert [(d["field"], d["rule"]) for d in schema_errors(schema, {"a": "x"})] == [("b", "required")]


def test_choices_from_the_organisation_and_from_a_list_carry_names():
    def org(spec):
        assert spec == {"source": "branches"}
        return [("xinsheng-laogan", "老干家委党总支"), ("xinsheng-wuye", "物业服务中心党支部")]

    plan = form_fields.resolve(load("quarterly_tasks_plan.json"), {}, org)
    picker = plan["properties"]["items"]["items"]["properties"]["branch_ids"]
    assert picker["items"]["enum"] == ["xinsheng-laogan", "xinsheng-wuye"]
    assert picker["items"]["enumNames"] == ["老干家委党总支", "物业服务中心党支部"]
    field = formrender.build(plan, {"items": [{"branch_ids": ["xinsheng-wuye"]}]}).children[1].children[0].children[3]
    assert (field.widget, [c.label for c in field.choices], field.text) == (
        "checkboxes",
        ["老干家委党总支", "物业服务中心党支部"],
        "物业服务中心党支部",
    )
    commend = form_fields.resolve(
        load("annual_commend.json"),
        {"nominated": [{"username": "xinsheng_laogan", "name": "老干委员", "unit_name": "新升实业"}]},
        no_org,
    )
    assert commend["properties"]["approved"]["items"]["enumNames"] == ["老干委员（新升实业）"]


def test_defaults_from_a_variable_a_path_or_a_sandboxed_expression():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "x-default": "overview"},
            "b": {"type": "integer", "x-default": "stats.total"},
            "c": {"type": "integer", "x-default": {"expr": "len(items) * 2"}},
            "d": {"type": "string", "x-default": {"expr": "open('/etc/passwd').read()"}},
        },
    }
    got = form_fields.prefill(schema, {"overview": "已报 1 份", "stats": {"total": 3}, "items": [1, 2]})
    assert got == {"a": "已报 1 份", "b": 3, "c": 4}
    assert form_fields.prefill(load("quarterly_report_write.json"), {"monthly_overview": "应报 9 份，已报 1 份"}) == {
        "monthly_overview": "应报 9 份，已报 1 份"
    }
