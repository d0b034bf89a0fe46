"""Linkage reports out: figures from tasks, records and study rates; JSON, XLSX, the printable
official-document page and PDF; document numbers; who may see which report."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook

from engine.linkage import reports
from engine.models import Record
from tests.conftest import BPMN


def complete(api, user, task_id, data):
    r = api.post(f"/api/v1/tasks/{task_id}/complete", user, json={"data": data})
    assert r.status_code == 200, r.get_json()


@pytest.fixture
def quarter(api, session, clock):
    """Q1 2027: xinsheng-laogan reports on time, its unit reviews late; xuchang-zongcai's report
    stays open past its deadline; records of the procedures in and outside the quarter."""
    assert api.deploy(BPMN / "monthly_report_like.bpmn").status_code == 201
    start = lambda user: api.post("/api/v1/process-definitions/monthly_report_like/start", user, json={"variables": {}})  # noqa: E731
    assert start("xinsheng_laogan").status_code == 201
    assert start("xuchang_zongcai").status_code == 201
    [w] = api.tasks("xinsheng_laogan")
    complete(api, "xinsheng_laogan", w["id"], {"comment": "一月份无重大问题"})
    clock.advance(days=5)  # the review was due in 3 days
    api.tokens.clear()
    [review] = api.tasks("xinsheng_secretary")
    complete(api, "xinsheng_secretary", review["id"], {"comment": "已审阅", "approved": False})

    def rec(kind, key, node, unit, when, confidential=False):
        at = datetime.fromisoformat(when)
        session.add(Record(kind=kind, key=key, node_id=node, unit_id=unit, confidential=confidential,
                           data={"note": key}, created_at=at, updated_at=at))

    rec("monthly_report", "2027-01:xinsheng-laogan", "xinsheng-laogan", "xinsheng", "2027-01-20T10:00:00+08:00")
    rec("clue", "c1", "xinsheng", "xinsheng", "2027-02-03T10:00:00+08:00", confidential=True)
    rec("ledger", "l1", "xuchang", "xuchang", "2027-03-30T10:00:00+08:00")
    rec("quarterly_unit_status", "2027-Q1:xinsheng", "xinsheng", "xinsheng", "2027-03-31T23:00:00+08:00")
    rec("commendation", "2027:xinsheng", "group", None, "2027-12-28T10:00:00+08:00")  # not in Q1
    session.commit()
    clock.set("2027-04-03T09:00:00+08:00")
    api.tokens.clear()


def rows_by_node(report):
    return {r["node_id"]: r for r in report["rows"]}


def test_group_quarterly_report_figures(api, quarter):
    r = api.get("/api/v1/reports/linkage?period=2027-Q1", "group_secretary")
    assert r.status_code == 200
    rep = r.get_json()
    assert (rep["title"], rep["issuer"], rep["period_name"], rep["addressee"], rep["doc_no"], rep["date"]) == (
        "关于2027年第一季度纪检工作“三级联动”情况的报告", "中共淄博矿业集团有限责任公司纪委", "2027年第一季度",
        "各单位纪委：", None, "2027年4月3日")
    assert [r["node_id"] for r in rep["rows"]] == ["xinsheng", "xuchang", "daizhuang", "group"]
    rows = rows_by_node(rep)
    assert rows["xinsheng"]["tasks"] == {"offered": 2, "completed": 2, "completed_late": 1, "open": 0, "overdue": 0,
                                         "on_time_rate": 0.5}
    assert rows["xuchang"]["tasks"] == {"offered": 1, "completed": 0, "completed_late": 0, "open": 1, "overdue": 1,
                                        "on_time_rate": None}
    assert (rows["xinsheng"]["instances"], rows["xuchang"]["instances"], rows["daizhuang"]["instances"]) == (1, 1, 0)
    assert rows["xinsheng"]["records"] == {"monthly_report": 1, "clue": 1, "quarterly_unit_status": 1}
    assert rows["xuchang"]["records"] == {"ledger": 1}
    assert rows["group"]["records"] == {} and rows["group"]["name"] == "中共淄博矿业集团有限责任公司纪委（本级）"
    assert rep["totals"]["records"] == {"quarterly_unit_status": 1, "monthly_report": 1, "clue": 1, "ledger": 1,
                                        "commendation": 0}
    assert rep["totals"]["study"]["people"] == 25 and rows["xinsheng"]["study"]["people"] == 7
    assert rep["paragraphs"][1] == ("一、任务落实情况。本期各权属单位纪委、基层党支部纪律检查委员共承办联动任务3项，已办结2项"
                                    "（按期办结率50.0%，逾期办结1项），尚在办理1项，其中已逾期1项；发起联动流程2次。")
    assert rep["paragraphs"][2] == "二、自下而上报告和问题处置情况。本期形成季度工作情况1件，月度书面报告1件，问题线索1件，管理台账记载1件。"
    assert rep["paragraphs"][-1].startswith("四、存在问题和下步打算。许厂煤矿纪委尚有逾期未办结任务")
    annual = api.get("/api/v1/reports/linkage?period=2027", "group_secretary").get_json()
    assert annual["title"] == "关于2027年度纪检工作“三级联动”情况的报告" and annual["totals"]["records"]["commendation"] == 1


def test_unit_report_rows_are_branches_and_access_follows_the_tree(api, quarter):
    rep = api.get("/api/v1/reports/linkage?period=2027-Q1&unit_id=xinsheng", "xinsheng_deputy").get_json()
    assert rep["addressee"] == "集团公司纪委：" and rep["issuer"] == "山东新升实业发展有限责任公司纪委"
    assert [r["node_id"] for r in rep["rows"]] == ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian", "xinsheng"]
    rows = rows_by_node(rep)
    assert (rows["xinsheng-laogan"]["tasks"]["completed"], rows["xinsheng"]["tasks"]["completed_late"]) == (1, 1)
    assert rows["xinsheng-laogan"]["records"] == {"monthly_report": 1}
    assert rep["totals"]["study"]["people"] == 7
    assert api.get("/api/v1/reports/linkage?period=2027-Q1&unit_id=xinsheng", "group_member").status_code == 200
    for user, query in (("xinsheng_secretary", "period=2027-Q1"), ("xinsheng_secretary", "period=2027-Q1&unit_id=xuchang"),
                        ("xinsheng_laogan", "period=2027-Q1&unit_id=xinsheng"), ("xinsheng_dept", "period=2027-Q1&unit_id=xinsheng"),
                        ("group_member", "period=2027-Q1&unit_id=xinsheng-laogan")):
        assert api.get(f"/api/v1/reports/linkage?{query}", user).status_code == 404, (user, query)
    for bad in ("period=2027-Q5", "period=Q1", "period=2027-Q1&format=docx", "format=json"):
        assert api.get(f"/api/v1/reports/linkage?{bad}", "group_secretary").status_code == 422, bad


def test_issuing_fixes_the_document_number(api, quarter):
    body = {"period": "2027-Q1", "unit_id": "xinsheng"}
    assert api.post("/api/v1/reports/linkage/issue", "xinsheng_member", json=body).status_code == 403
    assert api.post("/api/v1/reports/linkage/issue", "xuchang_secretary", json=body).status_code == 404
    r = api.post("/api/v1/reports/linkage/issue", "xinsheng_secretary", json=body)
    assert r.status_code == 201 and r.get_json()["doc_no"] == "山东新升实业发展纪联〔2027〕1号"
    again = api.post("/api/v1/reports/linkage/issue", "xinsheng_deputy", json={**body, "doc_code": "新升纪"})
    assert again.status_code == 200 and again.get_json()["doc_no"] == "山东新升实业发展纪联〔2027〕1号"
    r = api.post("/api/v1/reports/linkage/issue", "group_secretary", json={"period": "2027-Q1", "doc_code": "淄矿纪"})
    assert r.get_json()["doc_no"] == "淄矿纪联〔2027〕1号"
    r = api.post("/api/v1/reports/linkage/issue", "group_deputy", json={"period": "2027", "doc_code": "淄矿纪"})
    assert r.get_json()["doc_no"] == "淄矿纪联〔2027〕2号"
    rep = api.get("/api/v1/reports/linkage?period=2027-Q1", "group_member").get_json()
    assert (rep["doc_no"], rep["issued"]) == ("淄矿纪联〔2027〕1号", True)
    assert api.post("/api/v1/reports/linkage/issue", "group_secretary", json={"period": "2027-Q1", "pages": 3}).status_code == 422


def test_xlsx_and_printable_page(api, quarter):
    api.post("/api/v1/reports/linkage/issue", "group_secretary", json={"period": "2027-Q1", "doc_code": "淄矿纪"})
    r = api.get("/api/v1/reports/linkage?period=2027-Q1&format=xlsx", "group_secretary")
    assert r.status_code == 200 and r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="linkage-group-2027-Q1.xlsx"' in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["联动情况"]
    assert [ws.cell(row=i, column=1).value for i in range(1, 4)] == [
        "中共淄博矿业集团有限责任公司纪委", "淄矿纪联〔2027〕1号", "关于2027年第一季度纪检工作“三级联动”情况的报告"]
    header = [c.value for c in ws[6]]
    assert header[:8] == ["单位 / 支部", "承办任务", "已办结", "逾期办结", "按期办结率", "在办", "已逾期", "发起流程"]
    assert header[8:13] == ["季度工作情况", "月度书面报告", "问题线索", "管理台账记载", "通报表彰"]
    values = {row[0]: row for row in ws.iter_rows(min_row=7, values_only=True)}
    assert values["山东新升实业发展有限责任公司纪委"][1:5] == (2, 2, 1, 0.5)
    assert values["合计"][1:8] == (3, 2, 1, 0.5, 1, 1, 2)
    assert wb["报告正文"]["A1"].value == "关于2027年第一季度纪检工作“三级联动”情况的报告"

    page = api.get("/api/v1/reports/linkage?period=2027-Q1&unit_id=xuchang&format=html", "xuchang_secretary")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<div class="issuer">许厂煤矿纪委</div>' in html
    assert "（未编号稿）" in html and "<h1>关于2027年第一季度纪检工作“三级联动”情况的报告</h1>" in html
    assert '<p class="addressee">集团公司纪委：</p>' in html
    assert "<td class=\"name\">综采一区党支部</td><td>1</td><td>0</td>" in html
    assert '<div class="signature"><div>许厂煤矿纪委</div><div>2027年4月3日</div></div>' in html


@pytest.mark.skipif(reports.cjk_font(reports.Settings()) is None,
                    reason="no CJK font on disk (Debian's fonts-noto-cjk); PDF reports are unavailable")
def test_pdf_renders_chinese(api, quarter, session, settings, clock):
    r = api.get("/api/v1/reports/linkage?period=2027-Q1&format=pdf", "group_secretary")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-")
    from engine.org.nodes import load_principal
    from engine.models import User
    from sqlalchemy import select

    p = load_principal(session, session.scalars(select(User).where(User.username == "group_secretary")).one())
    rep = reports.build(session, p, reports.parse_period("2027-Q1"), None, clock.now(), settings)
    raw = reports.to_pdf(rep, settings, compress=False)
    # the embedded font maps its glyphs back to the characters (ToUnicode): 淄 矿 纪 委 报 告
    for ch in "淄矿纪委报告":
        assert f"<{ord(ch):04X}>".encode() in raw, ch


def test_pdf_without_a_font_is_a_clear_503(api, quarter, app):
    from api.extensions import state

    st = state(app)
    st.settings = st.settings.with_(pdf_font="/nonexistent/font.ttf")
    r = api.get("/api/v1/reports/linkage?period=2027-Q1&format=pdf", "group_secretary")
    assert r.status_code == 503 and r.get_json()["error"] == "pdf_unavailable"
    assert "fonts-noto-cjk" in r.get_json()["message"]
