"""The modeler as a process owner meets it (issue 18): the edited process opens at a readable
scale, the palette keeps off the lane labels, a stray end event is refused on the element (by the
canvas lint and by the server), deploy asks first and lists every process that gets a new
version, and the palette, context pad and properties panel speak Chinese."""

from __future__ import annotations

import re

from engine.infra.settings import ROOT

MONTHLY = ROOT / "processes" / "monthly_report.bpmn"  # three pools: the group, unit and branch processes
KEYS = {"monthly_report", "monthly_report_branch", "monthly_report_finding"}
# Latin words a Chinese reader may meet in the panel: none but these.
ALLOWED = {"BPMN"}


def open_monthly(web, key="monthly_report_branch"):
    assert web.api.deploy(MONTHLY).status_code == 201
    page = web.open("modeler", "owner", key=key)
    assert web.failure is None, web.failure
    assert page.get_attribute("#root", "data-state") == "ready"
    return page


def label_sizes(page, ids):
    """On-screen font size (px) of each element's label: its font size × the canvas zoom."""
    return page.evaluate(
        """(ids) => {
        const m = window.ctl.modeler, zoom = m.get('canvas').zoom();
        const out = {};
        for (const id of ids) {
            const g = document.querySelector(`#root g.djs-element[data-element-id="${id}"] text, #root g.djs-element[data-element-id="${id}_label"] text`);
            out[id] = g ? parseFloat(getComputedStyle(g).fontSize) * zoom : null;
        }
        return out;
    }""",
        ids,
    )


def test_opens_the_edited_process_readably_beside_the_palette(web):
    page = open_monthly(web)
    info = page.evaluate("""() => {
        const m = window.ctl.modeler, reg = m.get('elementRegistry'), canvas = m.get('canvas');
        const pool = reg.filter(e => e.type === 'bpmn:Participant')
            .find(p => p.businessObject.processRef.id === 'monthly_report_branch');
        const lanes = reg.filter(e => e.type === 'bpmn:Lane' && e.parent === pool).map(e => e.id);
        const tasks = reg.filter(e => e.type === 'bpmn:UserTask' && e.businessObject.$parent.id === 'monthly_report_branch')
            .map(e => e.id);
        const vb = canvas.viewbox();
        return { zoom: canvas.zoom(), pool: pool.id, lanes, tasks,
                 poolLeftVisible: pool.x >= vb.x && pool.x <= vb.x + vb.width,
                 poolTopVisible: pool.y >= vb.y && pool.y <= vb.y + vb.height };
    }""")
    assert info["zoom"] >= 0.85, info
    assert info["poolLeftVisible"] and info["poolTopVisible"], info
    sizes = label_sizes(page, [info["pool"], *info["lanes"], *info["tasks"]])
    assert sizes and all(s is not None and s >= 10 for s in sizes.values()), sizes
    # the palette never covers a lane or pool label: it sits left of the drawing, whatever is shown
    palette = page.locator("#root .djs-palette").bounding_box()
    svg = page.locator("#root .djs-container > svg").first.bounding_box()
    assert palette["x"] + palette["width"] <= svg["x"], (palette, svg)
    page.evaluate("() => window.ctl.modeler.get('canvas').scroll({ dx: 400, dy: 0 })")  # panned right
    labels = page.evaluate("""(ids) => ids.map(id => {
        const r = document.querySelector(`#root g.djs-element[data-element-id="${id}"] text`).getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height };
    })""", [info["pool"], *info["lanes"]])
    for r in labels:
        overlap_x = r["x"] < palette["x"] + palette["width"] and palette["x"] < r["x"] + r["width"]
        overlap_y = r["y"] < palette["y"] + palette["height"] and palette["y"] < r["y"] + r["height"]
        if overlap_x and overlap_y:
            # a label under the palette's box is in the SVG, which starts right of the palette
            assert r["x"] >= svg["x"], (r, palette)
    web.screenshot("modeler-readable")
    assert not [e for e in web.errors if "pageerror" in e], web.errors


def test_a_stray_end_event_is_refused_on_the_element(web):
    page = open_monthly(web)
    # what happened to the owner: a click on the palette armed the end-event tool, the next click placed it
    page.click("#root .djs-palette .entry.bpmn-icon-end-event-none")
    pool = page.evaluate("""() => { const m = window.ctl.modeler, reg = m.get('elementRegistry');
        const t = reg.get('write_report'); const g = document.querySelector('#root g.djs-element[data-element-id="write_report"]');
        const r = g.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height + 60 }; }""")
    page.mouse.move(pool["x"], pool["y"])
    page.mouse.click(pool["x"], pool["y"])
    stray = page.evaluate("""() => window.ctl.modeler.get('elementRegistry')
        .filter(e => e.type === 'bpmn:EndEvent' && !(e.incoming || []).length).map(e => e.id)""")
    assert len(stray) == 1, stray
    [stray_id] = stray
    # the canvas lint marks it at once, in Chinese
    page.wait_for_selector(f'#root .djs-overlays[data-container-id="{stray_id}"] .bjsl-overlay')
    lint = page.evaluate("""(id) => window.ctl.modeler.get('linting').lint().then(r =>
        Object.entries(r).flatMap(([rule, issues]) => issues.filter(i => i.id === id).map(i => [rule, i.category])))""", stray_id)
    assert ["no-disconnected", "error"] in lint, lint
    assert "没有连上任何顺序流" in page.text_content(f'#root .djs-overlays[data-container-id="{stray_id}"] .bjsl-overlay')
    # the server refuses it, on the element, in Chinese
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.validated")
    assert page.get_attribute("#root", "data-validated") == "invalid"
    assert page.locator(f'.sanji-problem[data-element-id="{stray_id}"]').count() == 1
    assert "没有连上任何顺序流" in page.inner_text(f'.sanji-problem[data-element-id="{stray_id}"]')
    assert page.evaluate("""(id) => document.querySelector(`#root g.djs-element[data-element-id="${id}"]`)
        .classList.contains('sanji-error')""", stray_id)
    # deploy checks first: refused, no confirmation, no new version
    page.evaluate("() => document.querySelector('#root').removeAttribute('data-validated')")
    page.click('button[data-action="deploy"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.validated")
    assert not page.locator("dialog.sanji-confirm").evaluate("d => d.open")
    versions = {k: web.api.get(f"/api/v1/process-definitions/{k}", "owner").get_json()["version"] for k in KEYS}
    assert versions == {k: 1 for k in KEYS}
    # connected to the end of the process it is fine again: deleting it is the other way
    page.evaluate("(id) => { const m = window.ctl.modeler; m.get('modeling').removeElements([m.get('elementRegistry').get(id)]); }",
                  stray_id)
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.validated === 'valid'")
    assert not [e for e in web.errors if "pageerror" in e], web.errors


def test_deploy_asks_first_and_lists_every_process_getting_a_new_version(web):
    page = open_monthly(web)
    page.evaluate("""() => { const m = window.ctl.modeler;
        m.get('modeling').updateProperties(m.get('elementRegistry').get('write_report'), { name: '撰写本月书面报告' }); }""")
    page.click('button[data-action="deploy"]')
    page.wait_for_selector("dialog.sanji-confirm[open]")
    listed = page.locator("dialog.sanji-confirm [data-role=new-versions] li")
    assert sorted(listed.evaluate_all("lis => lis.map(li => li.dataset.key)")) == sorted(KEYS)
    text = page.inner_text("dialog.sanji-confirm")
    assert text.count("新版本 v2") == 3 and "确认部署" in text and "null" not in text
    web.screenshot("modeler-confirm-deploy")
    page.click('dialog.sanji-confirm button[data-action="cancel-deploy"]')
    assert not page.locator("dialog.sanji-confirm").evaluate("d => d.open")
    assert web.api.get("/api/v1/process-definitions/monthly_report_branch", "owner").get_json()["version"] == 1
    page.click('button[data-action="deploy"]')
    page.wait_for_selector("dialog.sanji-confirm[open]")
    page.click('dialog.sanji-confirm button[data-action="confirm-deploy"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.deployed")
    versions = {k: web.api.get(f"/api/v1/process-definitions/{k}", "owner").get_json()["version"] for k in KEYS}
    assert versions == {k: 2 for k in KEYS}
    # nothing changed since: deploy says so and asks nothing
    page.click('button[data-action="deploy"]')
    page.wait_for_function("() => document.querySelector('.sanji-status').textContent.includes('无需部署')")
    assert not page.locator("dialog.sanji-confirm").evaluate("d => d.open")


LATIN = re.compile(r"[A-Za-z]{2,}")


def latin_words(page, selector: str) -> set[str]:
    """Latin words in the visible text and titles under `selector` (code samples and typed values aside)."""
    found = page.evaluate("""(sel) => {
        const out = [];
        for (const root of document.querySelectorAll(sel)) {
            const copy = root.cloneNode(true);
            copy.querySelectorAll('code, input, textarea, select option[value=""] ~ option[data-unknown]').forEach(n => n.remove());
            out.push(copy.innerText || copy.textContent || '');
            root.querySelectorAll('[title]').forEach(n => out.push(n.getAttribute('title')));
            root.querySelectorAll('option').forEach(n => out.push(n.textContent));
        }
        return out.join('\\n');
    }""", selector)
    return {w for w in LATIN.findall(found) if w not in ALLOWED}


def test_palette_context_pad_and_properties_panel_are_in_chinese(web):
    page = open_monthly(web)
    assert latin_words(page, "#root .djs-palette") == set()
    seen: dict[str, set[str]] = {}
    elements = page.evaluate("""() => { const reg = window.ctl.modeler.get('elementRegistry');
        const pick = t => (reg.filter(e => e.type === t)[0] || {}).id;
        return ['bpmn:UserTask', 'bpmn:Lane', 'bpmn:Participant', 'bpmn:SequenceFlow', 'bpmn:ExclusiveGateway',
                'bpmn:StartEvent', 'bpmn:EndEvent', 'bpmn:BoundaryEvent', 'bpmn:ScriptTask', 'bpmn:CallActivity',
                'bpmn:IntermediateCatchEvent'].map(pick).filter(Boolean); }""")
    assert len(elements) >= 7, elements
    for element_id in [*elements, None]:  # None: the collaboration (nothing selected)
        page.evaluate("""(id) => { const m = window.ctl.modeler, sel = m.get('selection');
            if (id) { sel.select(m.get('elementRegistry').get(id)); } else { sel.select(null);
              m.get('canvas').getRootElement(); } }""", element_id)
        page.wait_for_timeout(50)
        for where, selector in (("panel", "#root .bio-properties-panel"), ("pad", "#root .djs-context-pad")):
            words = latin_words(page, selector)
            if words:
                seen[f"{where}:{element_id}"] = words
    # the header names the element's kind in Chinese (it said USER TASK, COLLABORATION)
    page.evaluate("""() => { const m = window.ctl.modeler; m.get('selection').select(m.get('elementRegistry').get('write_report')); }""")
    assert page.inner_text("#root .bio-properties-panel-header-type") == "用户任务"
    labels = page.locator("#root .bio-properties-panel-group[data-group-id='group-sanji'] .bio-properties-panel-label").all_inner_texts()
    assert {"办理期限", "截止时间", "候选角色", "表单"} <= set(labels), labels
    # pickers: the form by its title, the roles by name, the lane by its tier name
    options = page.locator('select[name="sanji-form"] option').all_inner_texts()
    assert options and not [o for o in options if o.endswith(".json")], options
    roles = page.locator(".sanji-roles .bio-properties-panel-checkbox label").all_inner_texts()
    assert "书记" in roles and "纪律检查委员" in roles, roles
    page.locator(".sanji-roles input[type=checkbox]").first.check()
    page.wait_for_timeout(100)
    assert page.evaluate("""() => { const m = window.ctl.modeler;
        return window.SanjiModeler.getSpiffProperty(m.get('elementRegistry').get('write_report').businessObject, 'candidateRoles'); }""") == "secretary"
    page.evaluate("""() => { const m = window.ctl.modeler; m.get('selection').select(null); }""")
    assert page.inner_text("#root .bio-properties-panel-header-type") in ("协作（多个池）", "流程")
    assert seen == {}, seen
    web.screenshot("modeler-chinese")
    assert not [e for e in web.errors if "pageerror" in e], web.errors


def test_token_simulation_plays_the_diagram_before_deploying(web):
    page = open_monthly(web)
    page.click('button[data-action="simulate"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.simulating === 'true'")
    assert page.get_attribute('button[data-action="simulate"]', "aria-pressed") == "true"
    assert not page.locator("#root .djs-palette").is_visible()  # no editing while simulating
    # start a token at the branch process's start event
    start = page.evaluate("""() => window.ctl.modeler.get('elementRegistry')
        .filter(e => e.type === 'bpmn:StartEvent' && e.businessObject.$parent.id === 'monthly_report_branch')[0].id""")
    page.click(f'#root .djs-overlays[data-container-id="{start}"] .bts-context-pad')
    page.wait_for_function("() => document.querySelectorAll('#root .bts-token, #root .bts-token-count').length > 0")
    titles = page.evaluate("() => [...document.querySelectorAll('#root [class*=bts-][title]')].map(n => n.title)")
    assert titles and not [t for t in titles if LATIN.search(t)], titles
    web.screenshot("modeler-simulation")
    page.click('button[data-action="simulate"]')
    page.wait_for_function("() => document.querySelector('#root').dataset.simulating === 'false'")
    assert page.locator("#root .djs-palette").is_visible()
    assert not [e for e in web.errors if "pageerror" in e], web.errors
