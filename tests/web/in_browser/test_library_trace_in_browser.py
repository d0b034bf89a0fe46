"""In Chromium, with the real built-in procedures of processes/: the branch commissioner files the
monthly report (an invalid submission first), the unit committee sees it; the process owner renames
a task in the modeler, deploys and finds version 2 in the library (and every built-in diagram
survives open → edit → deploy); the admin traces the instance (active element, timeline) and
suspends it through the confirmation page; the schedules page shows the cadences. Screenshots of
each page go to test-artifacts/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from engine.infra.settings import ROOT
from tests.web.builtins import PROCESSES, deploy_builtins, start_by_timer
from tests.web.in_browser.conftest import shot, sign_in

MISSING = [b for b in ("viewer.js", "modeler.js", "bpmn.css") if not (ROOT / "api" / "static" / "vendor" / b).exists()]
pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    bool(MISSING), reason=f"the front-end bundles {', '.join(MISSING)} are missing (make setup: npm ci + node build.mjs)")]

BPMN_NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


@pytest.fixture
def monthly(app, clock):
    """The built-in processes, as `make run` deploys them; the scheduler starts January's report."""
    clock.set("2027-01-01T09:00:00+08:00")
    deploy_builtins(app)
    return start_by_timer(app, "monthly_report")


def watch(page) -> list[str]:
    """Console errors and uncaught exceptions of the page (a CSP violation is a console error)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    return errors


def has_class(page, root: str, element_id: str, cls: str) -> bool:
    return page.evaluate("""([root, id, cls]) => {
        const g = document.querySelector(`${root} g.djs-element[data-element-id="${id}"]`);
        return !!g && g.classList.contains(cls);
    }""", [root, element_id, cls])


def wait_ready(page, selector: str) -> None:
    page.wait_for_function("""sel => { const el = document.querySelector(sel);
        return el && (el.dataset.state === 'ready' || el.dataset.state === 'error'); }""", arg=selector)
    assert page.get_attribute(selector, "data-state") == "ready", page.inner_text(selector)[:500]


def test_commissioner_files_the_monthly_report_and_the_unit_committee_sees_it(pages, monthly):
    page = pages.new()
    sign_in(page, "xinsheng_laogan")
    row = page.locator("#task-list tbody tr", has_text="撰写月度书面报告")
    assert row.count() == 1 and "老干家委党总支" in row.inner_text()
    shot(page, "monthly-01-commissioner-tasks")
    row.locator("a.task-link").click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    assert page.locator("#task-name").inner_text() == "撰写月度书面报告"
    # the diagram of this instance, the task highlighted
    wait_ready(page, "#diagram")
    assert page.get_attribute("#diagram", "data-highlighted") == "write_report"
    assert has_class(page, "#diagram", "write_report", "sanji-highlight")
    assert has_class(page, "#diagram", "init_branch", "sanji-completed")

    page.fill("#f-summary", "本月对老干家委开展了两次现场监督，发现问题两条。")
    page.fill("[name='findings/0/title']", "班组考勤表存在代签")
    page.fill("[name='findings/0/facts']", "1月8日夜班考勤表两处代签")
    page.select_option("[name='findings/0/area']", "micro_corruption")
    page.click("[data-repeat='findings'] [data-add-row]")
    assert page.locator("[data-repeat='findings'] [data-row]").count() == 2
    page.fill("[name='findings/1/title']", "奖金分配方案未公示")
    page.fill("[name='findings/1/facts']", "一月份奖金分配方案未在区队公示栏公示")
    page.fill("[name='findings/1/person']", "王某（区队长）")
    page.click("#submit")  # the second finding has no 监督事项 yet

    error = page.locator("[data-field='findings/1/area'] .error")
    error.wait_for()
    assert error.inner_text() == "此项为必填项。"
    assert page.locator("[data-field='findings/0/area'] .error").count() == 0
    assert page.locator("[name='findings/1/facts']").input_value() == "一月份奖金分配方案未在区队公示栏公示"
    shot(page, "monthly-02-invalid-submission")

    page.select_option("[name='findings/1/area']", "pay")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/tasks$"))
    assert "已提交" in page.locator(".flash-success").inner_text()
    assert page.locator("#task-list tbody tr", has_text="撰写月度书面报告").count() == 0
    shot(page, "monthly-03-submitted")
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/login$"))

    # the unit committee: the review task, with the report and both findings
    sign_in(page, "xinsheng_secretary")
    row = page.locator("#task-list tbody tr", has_text="梳理分析、逐条分类处置")
    assert row.count() == 1 and "老干家委党总支" in row.inner_text()
    shot(page, "monthly-04-unit-tasks")
    row.locator("a.task-link").click()
    page.wait_for_url(re.compile(r".*/tasks/\d+$"))
    earlier = page.locator("#previous-input").inner_text()
    for text in ("本月对老干家委开展了两次现场监督", "班组考勤表存在代签", "奖金分配方案未公示", "王某（区队长）",
                 "工资、奖金分配方案研究及公示公开"):
        assert text in earlier, text
    wait_ready(page, "#diagram")
    assert has_class(page, "#diagram", "review_report", "sanji-highlight")
    assert has_class(page, "#diagram", "write_report", "sanji-completed")
    shot(page, "monthly-05-unit-review")
    # the unit committee traces its unit's reports too
    page.click("nav >> text=流程跟踪")
    page.wait_for_url(re.compile(r".*/instances$"))
    assert page.locator("#instance-list tbody tr").count() == 3
    shot(page, "monthly-06-unit-instances")


def test_owner_renames_a_task_deploys_and_finds_version_2(pages, monthly, api):
    page = pages.new()
    errors = watch(page)
    sign_in(page, "owner")
    page.click("nav >> text=流程库")
    page.wait_for_url(re.compile(r".*/processes$"))
    assert page.locator("#process-list tr[data-key='monthly_report'] .version").inner_text() == "v1"
    shot(page, "library-01-list")
    page.locator("#process-list tr[data-key='monthly_report_branch'] a.task-link").click()
    page.wait_for_url(re.compile(r".*/processes/monthly_report_branch$"))
    wait_ready(page, "#definition-diagram")
    shot(page, "library-02-process")
    page.click("#edit-latest")
    page.wait_for_url(re.compile(r".*/processes/monthly_report_branch/edit$"))
    wait_ready(page, "#modeler")
    page.wait_for_function("() => window.sanjiModeler")
    # validate: the server's errors are marked on the offending elements, then fixed by undo
    page.evaluate("""() => { const m = window.sanjiModeler.modeler;
        m.get('modeling').updateProperties(m.get('elementRegistry').get('monthly_report_branch_lane_unit'),
                                           { name: '某某部门' }); }""")
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#modeler').dataset.validated === 'invalid'")
    problems = page.locator("#modeler .sanji-problem").all_inner_texts()
    assert any("review_report" in p for p in problems), problems
    assert has_class(page, "#modeler", "review_report", "sanji-error")
    assert not has_class(page, "#modeler", "write_report", "sanji-error")
    shot(page, "library-03a-modeler-invalid")
    page.evaluate("() => window.sanjiModeler.modeler.get('commandStack').undo()")
    page.click('#modeler g.djs-element[data-element-id="write_report"]')
    name = page.locator("#bio-properties-panel-name")
    assert name.input_value() == "撰写月度书面报告"
    name.fill("撰写本月书面报告")
    page.wait_for_timeout(600)  # the properties panel debounces input
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#modeler').dataset.validated === 'valid'")
    assert page.locator("#modeler .sanji-problem").count() == 0
    shot(page, "library-03-modeler-renamed")
    page.click('button[data-action="deploy"]')
    page.click('dialog.sanji-confirm[open] button[data-action="confirm-deploy"]')  # deploy asks first
    page.wait_for_selector("#deployed:not([hidden])")
    assert page.get_attribute("#deployed", "data-version") == "2"
    assert "monthly_report_branch" in page.get_attribute("#modeler", "data-deployed")
    shot(page, "library-04-deployed")
    page.click("#deployed a[data-role=link]")
    page.wait_for_url(re.compile(r".*/processes/monthly_report_branch\?version=2$"))
    assert "v2" in page.locator("#latest-version").inner_text()
    assert page.locator("#versions tbody tr").count() == 2
    history = page.locator("#deploy-history").inner_text()
    assert "owner" in history and "已部署 v2" in history
    wait_ready(page, "#definition-diagram")
    shot(page, "library-05-version-2")
    page.goto("/processes")
    assert page.locator("#process-list tr[data-key='monthly_report_branch'] .version").inner_text() == "v2"
    # what changed: only the task's name, coloured on both diagrams
    d = api.get("/api/v1/process-definitions/monthly_report_branch/diff?from=1&to=2", "owner").get_json()
    assert d["added"] == [] and d["removed"] == [] and d["layout_changed"] == []
    assert [(c["id"], c["changes"]) for c in d["changed"]] == [
        ("write_report", [{"field": "name", "from": "撰写月度书面报告", "to": "撰写本月书面报告"}])]
    page.goto("/processes/monthly_report_branch")
    page.click("#compare-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/compare\?from=1&to=2$"))
    wait_ready(page, "#compare")
    assert page.evaluate("""() => [...document.querySelectorAll('#compare g.djs-element.sanji-diff-changed')]
                              .map(g => g.dataset.elementId)""") == ["write_report", "write_report"]
    shot(page, "library-06-compare")
    # the running instances keep version 1; new ones get version 2
    assert {t["name"] for t in api.tasks("xinsheng_laogan")} == {"撰写月度书面报告"}
    assert errors == []


def test_owner_draws_a_new_diagram_and_deploys_it(pages, app, api):
    page = pages.new()
    errors = watch(page)
    sign_in(page, "owner")
    page.click("nav >> text=流程库")
    page.click("#new-diagram")
    page.wait_for_url(re.compile(r".*/processes/new$"))
    wait_ready(page, "#modeler")
    page.wait_for_function("() => window.sanjiModeler")
    # a new diagram is a pool with the three tier lanes, the start event in the group's
    lanes = page.evaluate("""() => window.sanjiModeler.modeler.get('elementRegistry').filter(e => e.type === 'bpmn:Lane')
        .sort((a, b) => a.y - b.y).map(e => e.businessObject.name)""")
    assert lanes == ["集团公司纪委", "权属单位纪委", "基层党支部纪律检查委员"]
    # draw: start → a manual step → end, name the process (what a user does with the palette); the
    # owner renames the group's lane to one that is no tier
    page.evaluate("""() => { const m = window.sanjiModeler.modeler, reg = m.get('elementRegistry'),
        modeling = m.get('modeling'), factory = m.get('elementFactory');
        const start = reg.get('start');
        const task = modeling.appendShape(start, factory.createShape({ type: 'bpmn:ManualTask' }), { x: start.x + 160, y: start.y + 18 });
        modeling.updateProperties(task, { id: 'register', name: '登记' });
        modeling.appendShape(task, factory.createShape({ type: 'bpmn:EndEvent' }), { x: start.x + 320, y: start.y + 18 });
        const pool = reg.get('Participant_new');
        modeling.updateProperties(pool, { name: '试验新流程' });
        m.get('commandStack').execute('element.updateModdleProperties', { element: pool,
            moddleElement: pool.businessObject.processRef, properties: { id: 'trial_new', name: '试验新流程' } });
        modeling.updateProperties(reg.get('lane_group'), { name: '办公室' });
    }""")
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#modeler').dataset.validated === 'invalid'")
    assert "register" in " ".join(page.locator("#modeler .sanji-problem").all_inner_texts())  # a step needs a tier lane
    assert has_class(page, "#modeler", "register", "sanji-error")
    page.evaluate("""() => { const m = window.sanjiModeler.modeler, reg = m.get('elementRegistry');
        m.get('bpmnReplace').replaceElement(reg.get('register'), { type: 'bpmn:ScriptTask' }); }""")
    page.evaluate("""() => { const m = window.sanjiModeler.modeler;
        m.get('modeling').updateProperties(m.get('elementRegistry').get('register'), { scriptFormat: 'python', script: 'registered = True' }); }""")
    page.click('button[data-action="validate"]')
    page.wait_for_function("() => document.querySelector('#modeler').dataset.validated === 'valid'")
    page.click('button[data-action="deploy"]')
    page.click('dialog.sanji-confirm[open] button[data-action="confirm-deploy"]')  # deploy asks first
    page.wait_for_selector("#deployed:not([hidden])")
    assert "试验新流程 v1" in page.inner_text("#deployed")
    shot(page, "library-08-new-diagram")
    page.click("#deployed a[data-role=link]")
    page.wait_for_url(re.compile(r".*/processes/trial_new\?version=1$"))
    wait_ready(page, "#definition-diagram")
    assert page.locator("#process-name").inner_text() == "试验新流程"
    d = api.get("/api/v1/process-definitions/trial_new", "owner").get_json()
    assert d["version"] == 1 and d["deployed_by"] == "owner"
    assert errors == []


def first_user_task(path: Path) -> tuple[str, str]:
    root = etree.parse(str(path)).getroot()
    task = root.xpath("//bpmn:userTask", namespaces=BPMN_NS)[0]
    return task.get("id"), task.get("name")


def test_every_built_in_diagram_survives_open_edit_deploy(pages, app, api):
    """Open each processes/*.bpmn in the modeler page, rename one user task, deploy: the new
    version differs from the old one by that name only (no element, property or layout lost)."""
    deploy_builtins(app)
    page = pages.new()
    sign_in(page, "owner")
    files = sorted(PROCESSES.glob("*.bpmn"))
    assert len(files) >= 10  # the eight procedures, monthly_article and secondment
    for path in files:
        key = path.stem
        task_id, task_name = first_user_task(path)
        page.goto(f"/processes/{key}/edit")
        wait_ready(page, "#modeler")
        page.wait_for_function("() => window.sanjiModeler")
        assert page.get_attribute("#modeler", "data-import-warnings") == "0", key
        page.evaluate("""([id, name]) => {
            const m = window.sanjiModeler.modeler;
            m.get('modeling').updateProperties(m.get('elementRegistry').get(id), { name });
        }""", [task_id, task_name + "（修订）"])
        page.click('button[data-action="deploy"]')
        page.click('dialog.sanji-confirm[open] button[data-action="confirm-deploy"]')  # deploy asks first
        page.wait_for_selector("#deployed:not([hidden])")
        d = api.get(f"/api/v1/process-definitions/{key}/diff?from=1&to=2", "owner").get_json()
        assert d["added"] == [] and d["removed"] == [] and d["layout_changed"] == [], (key, d)
        assert [(c["id"], c["changes"]) for c in d["changed"]] == [
            (task_id, [{"field": "name", "from": task_name, "to": task_name + "（修订）"}])], (key, d["changed"])
    shot(page, "library-07-last-round-trip")


def test_admin_traces_the_instance_and_suspends_it(pages, monthly, api):
    page = pages.new()
    sign_in(page, "admin")
    page.click("nav >> text=流程跟踪")
    page.wait_for_url(re.compile(r".*/instances$"))
    assert page.locator("#instance-list tbody tr").count() == 10
    page.select_option("#filter-unit", "xinsheng")
    page.select_option("#filter-level", "sub")
    page.click("#instance-filters button[type=submit]")
    assert page.locator("#instance-list tbody tr").count() == 3
    shot(page, "trace-01-list")
    page.locator("#instance-list tbody tr", has_text="老干家委党总支").locator("a.task-link").click()
    page.wait_for_url(re.compile(r".*/instances/\d+$"))
    wait_ready(page, "#instance-diagram")
    assert has_class(page, "#instance-diagram", "write_report", "sanji-active")
    assert has_class(page, "#instance-diagram", "init_branch", "sanji-completed")
    assert "write_report" in page.get_attribute("#instance-diagram", "data-active")
    timeline = page.locator("#timeline").inner_text()
    assert "发起流程" in timeline and "任务到达: 撰写月度书面报告" in timeline
    assert "撰写月度书面报告" in page.locator("#open-tasks").inner_text()
    assert "自下而上：月度书面报告" in page.locator("#parent-link").inner_text()
    shot(page, "trace-02-instance")

    # suspend: a confirmation page first, then the instance page says so and the timeline shows who and why
    page.click("#action-suspend")
    page.wait_for_url(re.compile(r".*/suspend$"))
    shot(page, "trace-03-confirm-suspend")
    page.fill("#reason", "核对支部人员信息")
    page.click("#confirm-button")
    page.wait_for_url(re.compile(r".*/instances/\d+$"))
    assert "实例已挂起" in page.locator(".flash-success").inner_text()
    assert page.locator(".page-head .meta .status").inner_text() == "已挂起"
    item = page.locator("#timeline li", has_text="流程挂起")
    assert "系统管理员" in item.inner_text() and "核对支部人员信息" in item.inner_text()
    shot(page, "trace-04-suspended")

    # the parent: its 9 children with their states, and the heatmap of the branch process
    page.click("#parent-link a")
    page.wait_for_url(re.compile(r".*/instances/\d+$"))
    assert page.locator("#children tbody tr").count() == 9
    assert "已暂停" not in page.locator("#children").inner_text()
    wait_ready(page, "#instance-diagram")
    assert has_class(page, "#instance-diagram", "branch_reports", "sanji-active")
    shot(page, "trace-05-parent")
    page.goto("/processes/monthly_report_branch/heatmap")
    wait_ready(page, "#heatmap")
    assert "write_report" in page.get_attribute("#heatmap", "data-painted").split()
    assert page.locator("#heat-table tr[data-element-id='write_report'] td.num").first.inner_text() == "9"
    shot(page, "trace-06-heatmap")


def test_schedules_page_lists_the_cadences(pages, app, clock):
    clock.set("2027-01-05T09:00:00+08:00")
    deploy_builtins(app)
    page = pages.new()
    sign_in(page, "admin")
    page.click("nav >> text=定时计划")
    page.wait_for_url(re.compile(r".*/schedules$"))

    def row(key: str) -> str:
        return page.locator(f"#schedule-list tr[data-process-key='{key}']").inner_text()

    quarterly, monthly, quarter_end = row("quarterly_tasks"), row("monthly_report"), row("quarterly_report")
    # the cadences in words (the cron expression only on hover)
    assert "每年1月、4月、7月、10月的1日 09:00" in quarterly and "0 9 1 1,4,7,10 *" not in quarterly
    assert "2027-04-01 09:00" in quarterly and "2027-07-01 09:00" in quarterly
    assert "每月1日 09:00" in monthly and "2027-02-01 09:00" in monthly and "2027-03-01 09:00" in monthly
    assert "每年3月、6月、9月、12月的最后一天 09:00" in quarter_end
    assert "2027-03-31 09:00" in quarter_end and "2027-06-30 09:00" in quarter_end
    shot(page, "schedules-01")
    # pause through the confirmation page
    page.locator("#schedule-list tr[data-process-key='monthly_report'] a", has_text="暂停").click()
    page.wait_for_url(re.compile(r".*/pause$"))
    page.fill("#reason", "春节假期")
    page.click("#confirm-button")
    page.wait_for_url(re.compile(r".*/schedules$"))
    assert "已暂停" in row("monthly_report")
    shot(page, "schedules-02-paused")


def test_tracing_and_library_on_a_phone(pages, monthly):
    page = pages.new(mobile=True)
    sign_in(page, "xinsheng_secretary")
    for path, name in (("/instances", "phone-instances"), ("/processes", "phone-library"),
                       ("/processes/monthly_report_branch", "phone-process")):
        page.goto(path)
        if path.startswith("/processes/"):
            wait_ready(page, "#definition-diagram")
        shot(page, name)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    page.goto("/instances")
    page.locator("#instance-list a.task-link").first.click()
    wait_ready(page, "#instance-diagram")
    shot(page, "phone-instance")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
