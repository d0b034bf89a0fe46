"""The JSON-Schema form renderer: schema → fields, posted form → data, details → messages."""
from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from api.web import formrender as fr
from engine.errors import Invalid
from engine.core.forms import FormStore
from tests.conftest import TESTS

REPORT = json.loads((TESTS / "forms" / "web_report.json").read_text(encoding="utf-8"))
REVIEW = json.loads((TESTS / "forms" / "web_review.json").read_text(encoding="utf-8"))
ZONE = ZoneInfo("Asia/Shanghai")


def by_path(root: fr.Field) -> dict[str, fr.Field]:
    return {f.path: f for f in root.walk()}


def fake_gettext(text: str, **kw: object) -> str:
    return text % kw if kw else text


def test_report_form_fields_labels_help_required_and_widgets():
    root = fr.build(REPORT, {})
    fields = by_path(root)
    assert root.help.startswith("如实填写")
    assert fields["report_date"].widget == "date" and fields["report_date"].required
    summary = fields["summary"]
    assert (summary.widget, summary.label, summary.help, summary.required) == ("textarea", "监督情况综述", "本期开展监督的主要情况", True)
    assert summary.attrs["maxlength"] == 2000  # maxLength > 200: a textarea
    meetings = fields["meetings"]
    assert (meetings.widget, meetings.required, meetings.attrs["min"], meetings.attrs["step"]) == ("number", False, 0, 1)
    findings = fields["findings"]
    assert findings.widget == "repeat" and findings.min_items == 1 and findings.max_items == 20
    assert [c.path for c in findings.children] == ["findings/0"]  # one empty row to start with
    kind = fields["findings/0/kind"]
    assert kind.widget == "radio" and kind.required
    assert [(c.value, c.label) for c in kind.choices] == [
        ("fix_now", "即知即改"), ("early_warning", "苗头性、倾向性问题"), ("violation", "违反党的纪律")]
    assert fields["findings/0/description"].widget == "textarea"  # maxLength 1000
    assert fields["findings/0/fixed"].widget == "checkbox" and not fields["findings/0/fixed"].required
    assert fields["sensitive"].widget == "checkbox"
    # the row template for new rows, named with the placeholder index
    template = by_path(findings.template)
    assert "findings/__i__/kind" in template


def test_values_fill_rows_and_choices():
    data = {"summary": "本月开展谈话", "findings": [{"kind": "violation", "description": "违规发放补贴"},
                                                  {"kind": "fix_now", "description": "台账不全", "fixed": True}]}
    fields = by_path(fr.build(REPORT, data))
    assert [c.path for c in fields["findings"].children] == ["findings/0", "findings/1"]
    assert fields["findings/0/kind"].text == "违反党的纪律"
    assert fields["findings/1/fixed"].value is True
    assert fields["summary"].value == "本月开展谈话"


def test_select_for_many_choices_oneof_titles_and_widget_hints():
    fields = by_path(fr.build(REVIEW, {}))
    assert fields["disposal"].widget == "select"  # nine choices
    assert fields["disposal"].choices[3].label == "谈话函询"
    decision = fields["decision"]
    assert decision.widget == "radio"
    assert [(c.value, c.label) for c in decision.choices] == [("accept", "同意"), ("return", "退回修改")]
    assert fields["comment"].widget == "textarea"  # x-widget hint
    # required marks of the send-back convention: `else` branch fields count as required
    root = fr.build(REVIEW, {}, extra_required=fr.send_back_required(REVIEW))
    assert by_path(root)["comment"].required and not by_path(root)["return_reason"].required


def test_parse_turns_the_posted_form_into_typed_json():
    form = MultiDict([
        ("csrf_token", "x"), ("_action", "submit"),
        ("report_date", "2027-01-05"), ("summary", "  本月开展监督检查  "), ("meetings", "3"),
        ("findings/0/kind", "violation"), ("findings/0/description", "违规发放补贴"),
        ("findings/3/kind", "fix_now"), ("findings/3/description", "台账不全"), ("findings/3/fixed", "true"),
        ("findings/5/description", ""),  # an empty row (removed rows leave gaps) is dropped
        ("sensitive", "true"), ("unknown", "ignored"),
    ])
    data = fr.parse(REPORT, form)
    assert data == {
        "report_date": "2027-01-05", "summary": "本月开展监督检查", "meetings": 3,
        "findings": [{"kind": "violation", "description": "违规发放补贴", "fixed": False},
                     {"kind": "fix_now", "description": "台账不全", "fixed": True}],
        "sensitive": True,
    }


def test_parse_leaves_out_empty_inputs_and_keeps_bad_numbers_for_the_schema():
    data = fr.parse(REPORT, MultiDict([("summary", "   "), ("meetings", "3x"), ("report_date", "")]))
    assert data == {"meetings": "3x", "findings": [], "sensitive": False}
    store_errors = validation_details(data)
    fields = {d["field"] for d in store_errors}
    assert {"summary", "report_date", "meetings", "findings"} <= fields


def validation_details(data, form="web_report.json"):
    store = FormStore(TESTS / "forms")
    with pytest.raises(Invalid) as info:
        store.validate(form, data)
    details = store.errors(form, data)  # the same errors, with the rule that failed
    assert {(d["field"], d["message"]) for d in details} == {(d["field"], d["message"]) for d in info.value.details}
    return details


def test_parse_enum_values_of_other_types_checkboxes_datetime_and_nested_groups():
    schema = {
        "type": "object",
        "properties": {
            "level": {"type": "integer", "enum": [1, 2, 3], "enumNames": ["一级", "二级", "三级"]},
            "topics": {"type": "array", "uniqueItems": True,
                       "items": {"type": "string", "enum": ["pay", "safety", "injury"]}},
            "at": {"type": "string", "format": "date-time"},
            "ratio": {"type": "number"},
            "contact": {"type": "object", "properties": {"name": {"type": "string"}, "phone": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    form = MultiDict([("level", "2"), ("topics", "pay"), ("topics", "injury"), ("at", "2027-01-05T10:30"),
                      ("ratio", "0.25"), ("contact/name", "张三"), ("tags/0", "a"), ("tags/2", "b"), ("tags/1", "")])
    data = fr.parse(schema, form, ZONE)
    assert data == {"level": 2, "topics": ["pay", "injury"], "at": "2027-01-05T10:30:00+08:00", "ratio": 0.25,
                    "contact": {"name": "张三"}, "tags": ["a", "b"]}
    fields = by_path(fr.build(schema, data, zone=ZONE))
    assert fields["level"].widget == "radio" and fields["level"].text == "二级"
    assert fields["topics"].widget == "checkboxes" and fields["topics"].value == ["pay", "injury"]
    assert fields["at"].widget == "datetime" and fields["at"].attrs["local"] == "2027-01-05T10:30"
    assert fields["contact"].widget == "group" and fields["contact/name"].value == "张三"
    assert fields["tags"].widget == "repeat" and [c.value for c in fields["tags"].children] == ["a", "b"]
    # an optional nested object left empty is left out (so its own required fields do not fire)
    assert "contact" not in fr.parse(schema, MultiDict([("contact/name", "")]), ZONE)


def test_defaults_prefill_a_new_form():
    schema = {"type": "object", "properties": {"n": {"type": "integer", "default": 1},
                                               "ok": {"type": "boolean", "default": True}}}
    fields = by_path(fr.build(schema, {}))
    assert fields["n"].value == 1 and fields["ok"].value is True


def test_errors_land_on_their_fields_and_leftovers_are_kept():
    details = validation_details({"summary": "短", "findings": [{"kind": "violation", "description": "违规发放补贴"},
                                                               {"description": "台账"}]})
    errors = fr.errors_by_field(details, REPORT, fake_gettext)
    assert errors["findings/1/kind"] == ["This field is required."]
    assert errors["findings/1/description"] == ["Enter at least 4 characters."]
    assert errors["summary"] == ["Enter at least 4 characters."]
    assert errors["report_date"] == ["This field is required."]
    root = fr.build(REPORT, {"findings": [{}, {}]}, {**errors, "x/y": ["somewhere else"]})
    fields = by_path(root)
    assert fields["findings/1/kind"].errors == ["This field is required."]
    assert fields["findings/0/kind"].errors == []
    assert fr.leftover_errors(root, {**errors, "x/y": ["somewhere else"]}) == {"x/y": ["somewhere else"]}


@pytest.mark.parametrize("data, field, message", [
    ({"meetings": "3x"}, "meetings", "Enter a whole number."),
    ({"meetings": -1}, "meetings", "The value must be at least 0."),
    ({"meetings": 101}, "meetings", "The value must be at most 100."),
    ({"report_date": "2027-13-45"}, "report_date", "Enter a date (YYYY-MM-DD)."),
    ({"findings": []}, "findings", "Add at least 1 item(s)."),
    ({"findings": [{"kind": "other", "description": "abcd"}]}, "findings/0/kind", "Choose one of the options."),
    ({"summary": "x" * 2001}, "summary", "Enter at most 2000 characters."),
])
def test_messages_per_rule(data, field, message):
    errors = fr.errors_by_field(validation_details(data), REPORT, fake_gettext)
    assert message in errors[field]


def test_rule_messages_without_a_rule_pass_through():
    # a task's `validate` property returns the author's own words: shown as they are
    assert fr.localize({"field": "nominees", "message": "最多推荐 2 人"}, REPORT, fake_gettext) == "最多推荐 2 人"


def test_display_view_shows_only_values_with_choice_labels():
    data = {"summary": "综述", "findings": [{"kind": "early_warning", "description": "苗头", "fixed": False}]}
    root = fr.build(REPORT, data, display=True)
    fields = by_path(root)
    assert "report_date" not in fields and "meetings" not in fields  # nothing entered: not shown
    assert fields["findings/0/kind"].text == "苗头性、倾向性问题"
    assert fields["findings"].template is None and len(fields["findings"].children) == 1


def test_send_back_convention_of_the_form_store(tmp_path):
    store = FormStore(TESTS / "forms")
    assert store.send_back("web_review.json", {"decision": "accept", "comment": "同意"}) is None
    assert store.send_back("web_review.json", {"decision": "return", "return_reason": "补充证据"}) == {
        "field": "decision", "value": "return", "reason": "补充证据"}
    # the conditional schema: a send-back needs a reason, an approval needs a comment
    fields = {d["field"] for d in validation_details({"decision": "return"}, "web_review.json")}
    assert fields == {"return_reason"}
    fields = {d["field"] for d in validation_details({"decision": "accept"}, "web_review.json")}
    assert fields == {"comment"}
    # the deploy check names a broken declaration
    (tmp_path / "bad.json").write_text(json.dumps({
        "type": "object", "x-send-back": {"field": "decision", "value": "back", "reason": "why"},
        "properties": {"decision": {"enum": ["ok", "no"]}}}), encoding="utf-8")
    problems = FormStore(tmp_path).problems("bad.json")
    assert any("'back' is not a choice of 'decision'" in p for p in problems)
    assert any("reason field 'why'" in p for p in problems)


def test_a_list_that_may_stay_empty_carries_no_required_mark():
    """发现的问题 is in `required` (the key must be sent) but has no minItems: 没有则留空, so no *."""
    schema = json.loads((TESTS.parent / "forms" / "monthly_report_write.json").read_text(encoding="utf-8"))
    fields = by_path(fr.build(schema, {}))
    assert (fields["summary"].required, fields["findings"].required) == (True, False)
    assert fields["findings"].min_items == 0
    assert by_path(fr.build(REPORT, {}))["findings"].required is True  # minItems 1: still marked
