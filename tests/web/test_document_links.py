"""Download buttons of official documents (issue 16) on the instance and task pages and the
register rows: shown for the records the signed-in user may read, in Chinese."""
from __future__ import annotations

from sqlalchemy import select

from engine.models import HumanTask, Record
from tests.platform.documents_data import RECORDS
from tests.web.conftest import start_report


def add(session, clock, kind: str, instance_id: int | None = None) -> int:
    node, unit, confidential, data, _title = RECORDS[kind]
    now = clock.now()
    r = Record(kind=kind, key=f"web-{kind}", node_id=node, unit_id=unit, confidential=confidential, data=data,
               instance_id=instance_id, created_at=now, updated_at=now)
    session.add(r)
    session.commit()
    return r.id


def test_instance_and_task_pages_link_the_documents(web, report_app, session, clock):
    inst = start_report(report_app)
    record_id = add(session, clock, "monthly_report", inst["id"])
    [task_id] = session.scalars(select(HumanTask.id).where(HumanTask.instance_id == inst["id"]))
    session.commit()
    web.login("xinsheng_laogan")
    link = f'/api/v1/records/{record_id}/document?format=docx'
    for path in (f"/instances/{inst['id']}", f"/tasks/{task_id}"):
        html = web.get(path).get_data(as_text=True)
        assert 'id="official-documents"' in html, path
        assert link in html and f'/api/v1/records/{record_id}/document?format=pdf' in html
        assert "月度书面报告" in html and "下载Word版" in html and "公文" in html
    r = web.get(link)
    assert r.status_code == 200 and r.data[:2] == b"PK"
    web.logout()
    web.login("xuchang_secretary")  # another unit sees neither the instance nor its record
    assert web.get(f"/instances/{inst['id']}").status_code == 404


def test_register_rows_link_the_documents_a_reader_may_open(web, session, clock):
    commendation = add(session, clock, "commendation")
    clue = add(session, clock, "clue")
    web.login("xinsheng_secretary")
    html = web.get("/registers/commendations").get_data(as_text=True)
    assert f"/api/v1/records/{commendation}/document?format=docx" in html and "<th>公文</th>" in html
    assert f"/api/v1/records/{clue}/document?format=pdf" in web.get("/registers/clues").get_data(as_text=True)
    web.logout()
    web.login("admin")  # the system administrator reads the clue register redacted, and no clue document
    html = web.get("/registers/clues").get_data(as_text=True)
    assert f'data-record-id="{clue}"' in html
    assert f"/api/v1/records/{clue}/document" not in html
