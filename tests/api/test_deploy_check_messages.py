"""Deploy checks through the API: validate and deploy name the element, the code and a Chinese
message from the catalog; warnings let the deploy through and come back in the response."""

from __future__ import annotations

from typing import Any

from tests.engine.test_deploy_checks import diagram, prop

XML = "application/xml"
ZH = {"Accept-Language": "zh"}


def test_validate_refuses_an_unknown_helper_in_chinese(api: Any) -> None:
    xml = diagram(script="unit_ids = org_unit_list()")
    r = api.post("/api/v1/process-definitions/validate", "owner", data=xml.encode(), content_type=XML, headers=ZH)
    assert r.status_code == 200
    body = r.get_json()
    assert body["valid"] is False and body["warnings"] == []
    (error,) = body["errors"]
    assert (error["element_id"], error["code"], error["severity"]) == ("prepare", "unknown_helper", "error")
    assert error["message"] == "脚本调用了 org_unit_list()，这不是脚本可用的函数：是否应为 org_units()？"


def test_validate_reports_warnings_of_a_valid_diagram(api: Any) -> None:
    xml = diagram(post="<spiffworkflow:postScript>summary = findings</spiffworkflow:postScript>")
    r = api.post("/api/v1/process-definitions/validate", "owner", data=xml.encode(), content_type=XML, headers=ZH)
    body = r.get_json()
    assert (body["valid"], body["errors"]) == (True, [])
    (warning,) = body["warnings"]
    assert (warning["element_id"], warning["code"], warning["severity"]) == ("report", "form_field_missing", "warning")
    assert warning["message"] == (
        "后置脚本（postScript）读取了 'findings'，但表单 simple.schema.json 没有这个字段，流程中也没有哪一步写入它"
    )


def test_deploy_goes_through_with_warnings_and_returns_them(api: Any) -> None:
    xml = diagram(post="<spiffworkflow:postScript>summary = findings</spiffworkflow:postScript>")
    r = api.post("/api/v1/process-definitions?filename=dc.bpmn", "owner", data=xml.encode(), content_type=XML)
    assert r.status_code == 201
    body = r.get_json()
    assert [d["key"] for d in body["definitions"]] == ["dc"]
    assert [(w["element_id"], w["code"]) for w in body["warnings"]] == [("report", "form_field_missing")]


def test_deploy_refuses_a_chinese_duration_saying_how_to_write_it(api: Any) -> None:
    xml = diagram(props=prop("dueIn", "7天"))
    r = api.post(
        "/api/v1/process-definitions?filename=dc.bpmn", "owner", data=xml.encode(), content_type=XML, headers=ZH
    )
    assert r.status_code == 422
    body = r.get_json()
    (detail,) = body["details"]
    assert (detail["element_id"], detail["code"]) == ("report", "bad_duration")
    assert detail["message"] == "办理期限（dueIn）'7天' 无法识别，应写成 P7D：办理期限请写成 P7D（7天）或 P1M（1个月）"
    assert "办理期限请写成 P7D（7天）或 P1M（1个月）" in body["message"]


def test_deploy_refuses_a_date_in_words(api: Any) -> None:
    xml = diagram(props=prop("dueAt", "next friday"))
    r = api.post(
        "/api/v1/process-definitions?filename=dc.bpmn", "owner", data=xml.encode(), content_type=XML, headers=ZH
    )
    assert r.status_code == 422
    (detail,) = r.get_json()["details"]
    assert (detail["element_id"], detail["code"]) == ("report", "bad_date")
    assert detail["message"].startswith("截止时间（dueAt）'next friday' 无法识别：截止时间请写成带引号的日期")
