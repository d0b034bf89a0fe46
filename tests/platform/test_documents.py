"""Official documents (issue 16): the DOCX/PDF of each record kind in the Party-organ layout, all in
Chinese, its 发文字号 issued once, readable exactly by the record's readers, every download audited."""
from __future__ import annotations

import io
import re

import docx
import pytest
from sqlalchemy import select

from engine.models import EventLog, Record, User
from tests.platform.documents_data import RECORDS
from tests.security.test_idor import Oracle

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ASCII_WORD = re.compile(r"[A-Za-z_]{2,}")


def add_records(session, clock) -> dict[str, int]:
    now = clock.now()
    ids = {}
    for kind, (node, unit, confidential, data, _title) in RECORDS.items():
        r = Record(kind=kind, key=f"doc-{kind}", node_id=node, unit_id=unit, confidential=confidential, data=data,
                   created_at=now, updated_at=now)
        session.add(r)
        session.flush()
        ids[kind] = r.id
    session.commit()
    return ids


def texts(content: bytes) -> list[str]:
    d = docx.Document(io.BytesIO(content))
    out = [p.text for p in d.paragraphs]
    out += [c.text for t in d.tables for row in t.rows for c in row.cells]
    return out


def download(api, record_id: int, user: str, fmt: str = "docx"):
    return api.get(f"/api/v1/records/{record_id}/document", user, query_string={"format": fmt})


@pytest.mark.parametrize("kind", list(RECORDS))
def test_each_kind_in_official_layout_and_all_chinese(api, session, clock, kind):
    ids = add_records(session, clock)
    reader = "group_secretary"
    r = download(api, ids[kind], reader)
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == DOCX
    lines = texts(r.data)
    title = RECORDS[kind][4]
    assert title in lines
    [doc_no] = [t for t in lines if t.endswith("号") and "〔2027〕" in t and "发" in t][:1]
    assert doc_no.endswith("发〔2027〕1号")
    assert lines.index(doc_no) < lines.index(title)  # 版头, 发文字号, then the title
    body = "\n".join(lines)
    assert not ASCII_WORD.search(body), ASCII_WORD.findall(body)
    for word in ("monthly_report", "in_progress", "immediate_fix", "reviewed", "xinsheng"):
        assert word not in body


def test_texts_and_fonts_of_a_monthly_report(api, session, clock):
    ids = add_records(session, clock)
    r = download(api, ids["monthly_report"], "xinsheng_laogan")
    assert r.status_code == 200
    d = docx.Document(io.BytesIO(r.data))
    paras = [p.text for p in d.paragraphs]
    assert paras[:2] == ["中共老干家委党总支文件", "老干家委党总支纪发〔2027〕1号"]
    assert "新升实业发展有限责任公司纪委：" in paras[5] or "山东新升实业发展有限责任公司纪委：" in paras
    body = "\n".join(paras)
    assert "（1）工资公示不及时。监督事项：工资、奖金分配方案研究及公示公开；" in body
    assert "处置分类：即知即改；办理状态：整改中。" in body
    assert "报告状态：已受理；按期报送。" in body
    assert paras[-1] == "2027年3月5日"
    east_asia = {run._element.rPr.rFonts.get(docx.oxml.ns.qn("w:eastAsia")) for p in d.paragraphs for run in p.runs}
    assert {"方正小标宋简体", "黑体", "仿宋_GB2312"} <= east_asia
    assert r.headers["Content-Disposition"].startswith(f'attachment; filename="document-{ids["monthly_report"]}.docx"')


def test_number_issued_once_and_counted_per_committee_and_year(api, session, clock):
    ids = add_records(session, clock)
    first = texts(download(api, ids["forwarding"], "xinsheng_secretary").data)[1]
    assert first == "山东新升实业发展纪发〔2027〕1号"
    clock.advance(minutes=10)
    assert texts(download(api, ids["forwarding"], "group_member").data)[1] == first  # stable
    assert texts(download(api, ids["clue"], "xinsheng_secretary").data)[1] == "山东新升实业发展纪发〔2027〕2号"
    assert texts(download(api, ids["forwarding"], "xinsheng_member").data)[1] == first
    # another committee counts from 1
    assert texts(download(api, ids["quarterly_report"], "xuchang_secretary").data)[1] == "许厂煤矿纪发〔2027〕1号"


def test_pdf_has_the_title_and_the_same_number(api, session, clock):
    pypdf = pytest.importorskip("pypdf")
    ids = add_records(session, clock)
    doc_no = texts(download(api, ids["quarterly_report"], "xuchang_secretary").data)[1]
    r = download(api, ids["quarterly_report"], "xuchang_secretary", "pdf")
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(r.data)).pages)
    flat = re.sub(r"[\s\x00]+", "", text)  # pypdf reads the two-byte CIDs with their zero bytes
    assert "许厂煤矿关于2027年第一季度三级联动工作情况的报告" in flat
    assert doc_no in flat
    assert "综采一区党支部" in flat


@pytest.mark.slow
def test_visibility_matrix_every_document_every_demo_user(api, session, clock):
    ids = add_records(session, clock)
    rows = {r.id: r for r in session.scalars(select(Record))}
    users = list(session.scalars(select(User).order_by(User.username)))
    assert len(users) == 32
    oracles = {u.username: Oracle(session, u) for u in users}
    session.commit()
    seen = {}
    for user in users:
        oracle = oracles[user.username]
        for kind, record_id in ids.items():
            rec = rows[record_id]
            expected = 200 if oracle.record(rec) and not (rec.confidential and oracle.admin) else 404
            r = download(api, record_id, user.username)
            assert r.status_code == expected, (user.username, kind, r.status_code)
            if expected == 404:
                assert r.get_json()["message"] == f"record {record_id} does not exist"
            seen.setdefault(kind, set()).update({user.username} if expected == 200 else set())
    # spot checks of the rules themselves
    assert "admin" not in seen["clue"] and "admin" in seen["monthly_report"]
    assert "xinsheng_dept" not in seen["clue"] and "xinsheng_dept" in seen["forwarding"]
    assert "xuchang_secretary" not in seen["monthly_report"] and "xinsheng_wuye" not in seen["monthly_report"]
    assert seen["quarterly_analysis"] == {"admin", "group_deputy", "group_member", "group_secretary", "group_standing"}


def test_download_is_an_audited_export(api, session, sessions, clock):
    ids = add_records(session, clock)
    assert download(api, ids["clue"], "xinsheng_secretary", "docx").status_code == 200
    assert download(api, ids["clue"], "admin").status_code == 404
    with sessions() as s:
        rows = list(s.scalars(select(EventLog).where(EventLog.type == "exported")))
    assert [(e.actor, e.at, e.payload) for e in rows] == [(
        "xinsheng_secretary", clock.now(),
        {"what": "document", "record_id": ids["clue"], "kind": "clue", "format": "docx",
         "doc_no": "山东新升实业发展纪发〔2027〕1号", "confidential": True, "redacted": False,
         "path": f"/api/v1/records/{ids['clue']}/document"})]


def test_bad_format_and_records_without_a_document(api, session, clock):
    ids = add_records(session, clock)
    r = download(api, ids["clue"], "xinsheng_secretary", "odt")
    assert r.status_code == 422
    assert r.get_json()["details"][0]["field"] == "format"
    now = clock.now()
    other = Record(kind="ledger", key="l1", node_id="xinsheng", unit_id="xinsheng", confidential=False,
                   data={}, created_at=now, updated_at=now)
    session.add(other)
    session.commit()
    r = download(api, other.id, "xinsheng_secretary")
    assert r.status_code == 404
    assert r.get_json()["message"] == f"record {other.id} has no official document"
    assert download(api, 999_999, "group_secretary").status_code == 404
