"""The process library pages (流程库) with the built-in procedures: list, process page with versions
and deploy history, download, compare, modeler pages, upload, undeploy with its confirmation step."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import EventLog, ProcessDefinition, Schedule
from tests.web.builtins import PROCESSES, deploy_builtins


@pytest.fixture
def builtins(app):
    created = deploy_builtins(app)
    assert "monthly_report v1" in created and "quarterly_tasks v1" in created
    return created


def nav_labels(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav".*?</nav>', html, re.S)
    assert nav
    return [re.sub(r"<[^>]+>|\s+", "", a) for a in re.findall(r"<a [^>]*>(.*?)</a>", nav.group(0), re.S)]


def test_every_process_is_listed_with_its_latest_version(web, builtins):
    web.login("owner")
    r = web.get("/processes")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert nav_labels(html) == ["待办0", "通知0", "已办", "发起", "流程库", "定时计划"]
    for key in ("monthly_report", "monthly_report_branch", "quarterly_tasks", "quarterly_report", "adhoc_report",
                "special_inspection", "clue_disposal", "annual_assessment", "document_forwarding"):
        assert f'data-key="{key}"' in html, key
    # sub-processes are marked with who calls them
    row = re.search(r'<tr data-key="monthly_report_branch".*?</tr>', html, re.S).group(0)
    assert "子流程" in row and "自下而上：月度书面报告" in row
    assert 'id="new-diagram"' in html and 'action="/processes/upload"' in html
    assert html.count(">编辑</a>") == len(re.findall(r'<tr data-key=', html))


def test_a_commissioner_may_read_but_not_edit(web, builtins):
    web.login("xinsheng_laogan")
    html = web.get("/tasks").get_data(as_text=True)
    assert "流程库" not in nav_labels(html) and "流程跟踪" not in nav_labels(html)
    r = web.get("/processes")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-key="monthly_report"' in html and 'id="new-diagram"' not in html and ">编辑</a>" not in html
    page = web.get("/processes/monthly_report").get_data(as_text=True)
    assert 'id="edit-latest"' not in page and 'id="undeploy"' not in page
    for path in ("/processes/monthly_report/edit", "/processes/new", "/processes/monthly_report/undeploy"):
        assert web.get(path).status_code == 403, path
    assert web.post("/processes/monthly_report/undeploy", {"confirmed": "yes", "reason": "x"}).status_code == 403


def test_process_page_versions_diagram_history_and_download(web, builtins, api, reader):
    web.login("owner")
    r = web.get("/processes/monthly_report")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<h1 id="process-name">自下而上：月度书面报告</h1>' in html
    assert 'data-sanji-definition data-key="monthly_report" data-version="1"' in html
    assert '<script src="/static/vendor/viewer.js" defer></script>' in html and "/static/js/pages.js" in html
    assert "每月1日" in html and "0 9 1 * *" in html  # how it starts, and its schedule
    history = re.search(r'<section class="card" id="deploy-history">.*?</section>', html, re.S).group(0)
    assert "init-db" in history and "已部署 v1" in history and "登记定时计划" in history
    assert 'href="/processes/monthly_report/edit"' in html
    # a second version through the API: the page shows both, the history who deployed it
    xml = (PROCESSES / "monthly_report.bpmn").read_text(encoding="utf-8").replace('name="撰写月度书面报告"',
                                                                                 'name="撰写本月书面报告"')
    assert api.post("/api/v1/process-definitions?filename=monthly_report.bpmn", "owner", data=xml.encode(),
                    content_type="application/xml").status_code == 201
    html = web.get("/processes/monthly_report_branch").get_data(as_text=True)
    assert 'id="latest-version">最新版本：v2' in html
    assert re.findall(r'<tr data-version="(\d+)"', html) == ["2", "1"]
    assert 'id="compare-form"' in html
    history = re.search(r'id="deploy-history">.*?</section>', html, re.S).group(0)
    assert history.index("已部署 v2") < history.index("已部署 v1") and "owner" in history
    html = web.get("/processes/monthly_report_branch?version=1").get_data(as_text=True)
    assert 'data-version="1"' in html and "基于此版本编辑" in html
    # the XML of each version, as an attachment
    r = web.get("/processes/monthly_report_branch/v1.bpmn")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert r.headers["Content-Disposition"] == 'attachment; filename="monthly_report_branch-v1.bpmn"'
    stored = reader.scalar(select(ProcessDefinition.xml).where(ProcessDefinition.key == "monthly_report_branch",
                                                               ProcessDefinition.version == 1))
    assert r.get_data(as_text=True) == stored and "撰写月度书面报告" in stored
    assert "撰写本月书面报告" in web.get("/processes/monthly_report_branch/v2.bpmn").get_data(as_text=True)
    assert web.get("/processes/monthly_report_branch/v9.bpmn").status_code == 404
    assert web.get("/processes/nope").status_code == 404
    assert web.get("/processes/monthly_report?version=x").status_code == 422


def test_compare_page(web, builtins, api):
    web.login("owner")
    r = web.get("/processes/monthly_report/compare")
    assert r.status_code == 302 and r.location.endswith("/processes/monthly_report")
    xml = (PROCESSES / "monthly_report.bpmn").read_text(encoding="utf-8").replace('name="每月1日"', 'name="每月一日"')
    assert api.post("/api/v1/process-definitions?filename=monthly_report.bpmn", "owner", data=xml.encode(),
                    content_type="application/xml").status_code == 201
    html = web.get("/processes/monthly_report/compare").get_data(as_text=True)
    assert 'data-sanji-compare data-key="monthly_report" data-from="1" data-to="2"' in html
    html = web.get("/processes/monthly_report/compare?from=2&to=1").get_data(as_text=True)
    assert 'data-from="2" data-to="1"' in html


def test_modeler_pages(web, builtins):
    web.login("owner")
    html = web.get("/processes/quarterly_tasks/edit").get_data(as_text=True)
    assert 'data-sanji-modeler data-key="quarterly_tasks" data-version="1"' in html
    assert '<script src="/static/vendor/modeler.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/vendor/bpmn.css">' in html
    html = web.get("/processes/new").get_data(as_text=True)
    assert "data-sanji-modeler" in html and "data-key=" not in html.split("data-sanji-modeler")[1].split(">")[0]
    assert web.get("/processes/quarterly_tasks/edit?version=3").status_code == 404
    # no inline script: the page keeps the web blueprint's CSP
    r = web.get("/processes/quarterly_tasks/edit")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.get_data(as_text=True))


def test_upload_deploys_a_new_version_or_lists_the_problems(web, builtins, reader):
    web.login("owner")
    good = (PROCESSES / "adhoc_report.bpmn").read_bytes().replace("需要报告时".encode(), "随时报告".encode())
    r = web.post("/processes/upload", {"file": (__import__("io").BytesIO(good), "adhoc_report.bpmn")},
                 content_type="multipart/form-data")
    assert r.status_code == 302 and r.location.endswith("/processes/adhoc_report")
    assert reader.scalar(select(ProcessDefinition.version).where(ProcessDefinition.key == "adhoc_report")
                         .order_by(ProcessDefinition.version.desc()).limit(1)) == 2
    assert "已部署：adhoc_report v2" in web.get("/processes/adhoc_report").get_data(as_text=True)
    ev = reader.scalars(select(EventLog).where(EventLog.type == "definition_deployed"))[-1]
    assert ev.actor == "owner" and ev.payload["definitions"] == [{"key": "adhoc_report", "version": 2}]
    # the same file again: nothing new
    r = web.post("/processes/upload", {"file": (__import__("io").BytesIO(good), "adhoc_report.bpmn")},
                 content_type="multipart/form-data")
    assert "与最新版本相同" in web.get("/processes/adhoc_report").get_data(as_text=True)
    # a broken file: nothing stored, the problems named by element
    bad = good.replace(b'name="\xe6\x9d\x83\xe5\xb1\x9e\xe5\x8d\x95\xe4\xbd\x8d\xe7\xba\xaa\xe5\xa7\x94"', b'name="X"')
    assert bad != good
    r = web.post("/processes/upload", {"file": (__import__("io").BytesIO(bad), "adhoc_report.bpmn")},
                 content_type="multipart/form-data")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert 'id="upload-errors"' in html and "adhoc_report.bpmn 未部署" in html and "<code>" in html
    assert reader.scalar(select(ProcessDefinition.version).where(ProcessDefinition.key == "adhoc_report")
                         .order_by(ProcessDefinition.version.desc()).limit(1)) == 2
    r = web.post("/processes/upload", {}, content_type="multipart/form-data")
    assert r.status_code == 302
    assert "请选择一个 BPMN 文件" in web.get("/processes").get_data(as_text=True)


def test_undeploy_asks_for_confirmation_and_a_reason(web, builtins, reader):
    web.login("owner")
    r = web.get("/processes/quarterly_report/undeploy")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="confirm"' in html and "0 9 L 3,6,9,12 *" in html
    # a post without the confirmation shows the page again and changes nothing
    r = web.post("/processes/quarterly_report/undeploy", {"reason": "测试"})
    assert r.status_code == 200 and 'id="confirm"' in r.get_data(as_text=True)
    assert reader.scalar(select(ProcessDefinition.active).where(ProcessDefinition.key == "quarterly_report"))
    r = web.post("/processes/quarterly_report/undeploy", {"confirmed": "yes", "reason": ""})
    assert r.status_code == 422 and "请填写原因" in r.get_data(as_text=True)
    r = web.post("/processes/quarterly_report/undeploy", {"confirmed": "yes", "reason": "季度报告改为线下报送"})
    assert r.status_code == 302
    assert not reader.scalar(select(ProcessDefinition.active).where(ProcessDefinition.key == "quarterly_report"))
    assert reader.scalars(select(Schedule).where(Schedule.process_key == "quarterly_report")) == []
    ev = reader.scalars(select(EventLog).where(EventLog.type == "definition_undeployed"))[-1]
    assert ev.actor == "owner" and ev.payload["reason"] == "季度报告改为线下报送" and ev.payload["key"] == "quarterly_report"
    html = web.get("/processes/quarterly_report").get_data(as_text=True)
    assert 'id="undeployed-tag"' in html and "季度报告改为线下报送" in html and 'id="undeploy"' not in html
    # hidden from the default list, shown on request
    assert 'data-key="quarterly_report"' not in web.get("/processes").get_data(as_text=True)
    assert 'data-key="quarterly_report"' in web.get("/processes?show=all").get_data(as_text=True)
    r = web.get("/processes/quarterly_report/undeploy")
    assert r.status_code == 302


def test_library_in_english(web, builtins):
    web.login("owner")
    web.post("/lang", {"lang": "en"})
    html = web.get("/processes").get_data(as_text=True)
    assert "Process library" in html and "New diagram" in html
