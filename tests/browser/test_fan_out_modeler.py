"""The owner picks whom a call activity fans out to (分发对象, fanOut) from the select in the
modeler, and the called process from the list of processes (issue 19)."""
from __future__ import annotations

from tests.engine.test_fan_choice import caller


def test_owner_picks_fan_out_from_the_select(web):
    xml = caller("all_units")
    r = web.api.post("/api/v1/process-definitions?filename=fc.bpmn", "owner", data=xml.encode(),
                     content_type="application/xml")
    assert r.status_code == 201, r.get_json()
    page = web.open("modeler", "owner", key="fc")
    assert page.get_attribute("#root", "data-state") == "ready"
    page.evaluate("() => window.ctl.modeler.get('selection').select(window.ctl.modeler.get('elementRegistry').get('fan'))")
    fan_out = page.locator('select[name="sanji-prop-fanOut"]')
    fan_out.wait_for()
    assert fan_out.input_value() == "all_units"
    labels = fan_out.locator("option").all_inner_texts()
    assert labels == ["（不按组织分发）", "全部权属单位", "本单位全部基层党支部", "表单中选定的单位", "表单中选定的支部", "本单位纪委委员",
                      "本分区成员单位"]
    # the called process: the other process of the file and the deployed ones, by name
    called = page.locator('select[name="sanji-called-element"]')
    assert called.input_value() == "fc_child"
    assert "办理（本文件中的流程）" in called.locator("option").all_inner_texts()
    # a form choice asks for the field holding the chosen ids
    assert page.locator('input[name="sanji-prop-fanOutField"]').count() == 0
    fan_out.select_option(label="表单中选定的单位")
    field = page.locator('input[name="sanji-prop-fanOutField"]')
    field.wait_for()
    field.fill("chosen")
    page.wait_for_timeout(600)  # the panel debounces input
    page.click('button[data-action="deploy"]')
    page.click('dialog.sanji-confirm[open] button[data-action="confirm-deploy"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.deployed")
    assert "fc v2" in page.get_attribute("#root", "data-deployed")
    d = web.api.get("/api/v1/process-definitions/fc/diff?from=1&to=2", "owner").get_json()
    assert [(c["id"], {x["field"]: x["to"] for x in c["changes"]}) for c in d["changed"]] == [
        ("fan", {"property.fanOut": "form_units", "property.fanOutField": "chosen"})]
    assert not [e for e in web.errors if "pageerror" in e], web.errors
