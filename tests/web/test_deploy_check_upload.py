"""The library's upload page reports deploy-check findings in Chinese: a refusal names the element
and says how to write the value; a warning is shown after the deploy went through."""

from __future__ import annotations

import io

from tests.engine.test_deploy_checks import diagram, prop


def upload(web, xml: str):
    return web.post(
        "/processes/upload", {"file": (io.BytesIO(xml.encode()), "dc.bpmn")}, content_type="multipart/form-data"
    )


def test_upload_refuses_a_chinese_duration_saying_how_to_write_it(web):
    web.login("owner")
    r = upload(web, diagram(props=prop("dueIn", "7天")))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "办理期限请写成 P7D（7天）或 P1M（1个月）" in html and "report" in html


def test_upload_with_a_warning_deploys_and_shows_the_warning(web):
    web.login("owner")
    r = upload(web, diagram(post="<spiffworkflow:postScript>summary = findings</spiffworkflow:postScript>"))
    assert r.status_code == 302 and r.location.endswith("/processes/dc")
    html = web.get("/processes/dc").get_data(as_text=True)
    assert "已部署：dc v1" in html
    assert (
        "提醒（元素 report）：后置脚本（postScript）读取了 &#39;findings&#39;，但表单 simple.schema.json 没有这个字段"
        in html
    )
