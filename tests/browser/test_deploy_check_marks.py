"""The modeler shows deploy-check findings (engine/core/deploy_checks.py): a warning marks the
element in amber and lets the diagram validate; an unknown helper is an error on the element."""

from __future__ import annotations

import json

from tests.browser.test_diagrams import TRACED, has_class


def test_modeler_marks_warnings_and_errors_of_the_deploy_checks(web):
    xml = TRACED.read_text(encoding="utf-8").replace(
        "branch_ids = org_branches(unit_id)", "branch_ids = org_branches(unit_id) + extra_ids"
    )
    web.page.add_init_script(f"window.sanjiInitialXML = {json.dumps(xml)};")
    page = web.open("modeler", "owner")
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.validated")
    assert page.get_attribute("#root", "data-validated") == "valid"
    warnings = page.locator('.sanji-problem[data-severity="warning"]')
    assert warnings.count() == 1
    assert warnings.first.get_attribute("data-element-id") == "pick"
    assert warnings.first.get_attribute("data-code") == "unknown_name"
    assert "extra_ids" in warnings.first.inner_text()
    assert has_class(page, "pick", "sanji-warning") and not has_class(page, "pick", "sanji-error")
    web.screenshot("modeler-deploy-check-warning")
    page.evaluate("""() => {
        const m = window.ctl.modeler, reg = m.get('elementRegistry'), modeling = m.get('modeling');
        modeling.updateProperties(reg.get('pick'), { script: 'branch_ids = org_branch_list(unit_id)' });
    }""")
    page.evaluate("() => { delete document.querySelector('#root').dataset.validated; }")
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.validated === 'invalid'")
    errors = page.locator('.sanji-problem[data-severity="error"]')
    assert errors.count() == 1 and errors.first.get_attribute("data-code") == "unknown_helper"
    assert has_class(page, "pick", "sanji-error") and not has_class(page, "pick", "sanji-warning")
