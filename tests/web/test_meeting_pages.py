"""The pages of unit meetings and training (/meetings) and of 分区联创 (/zones), in Chinese: a unit
committee records a meeting picking attendees by name and attaching materials; a wrong date is
shown on its field and nothing is kept; the group sets up a zone and a member unit records an
activity; the study figures show the meetings."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from engine.platform.meetings.models import UnitMeeting, Zone, ZoneActivity
from tests.platform.attachment_files import PDF
from tests.web.test_zh_pages import english


def html(r) -> str:
    return r.get_data(as_text=True)


def test_a_unit_committee_records_a_meeting_on_the_page(web, reader):
    web.login("xinsheng_secretary")
    page = html(web.get("/meetings"))
    assert "例会培训" in page and 'id="meeting-form"' in page and "尚未记录会议" in page
    # attendees by name: the unit's committee and its branches' commissioners, nobody else's
    assert "新升实业老干家委党总支纪律检查委员" in page and 'value="xinsheng_laogan"' in page
    assert 'value="xuchang_zongcai"' not in page
    form = {"unit_id": "xinsheng", "kind": "training", "held_on": "2027-01-06", "topic": "条例学习",
            "attendees": ["xinsheng_laogan", "xinsheng_member"], "notes": ""}
    bad = web.post("/meetings", form)
    assert bad.status_code == 422 and "不能晚于今天" in html(bad) and 'id="error-held_on"' in html(bad)
    assert reader.scalar(select(func.count()).select_from(UnitMeeting)) == 0
    ok = web.post("/meetings", {**form, "held_on": "2027-01-05", "_upload:materials": (io.BytesIO(PDF), "课件.pdf")},
                  content_type="multipart/form-data")
    assert ok.status_code == 302, html(ok)[:2000]
    shown = html(web.get(ok.headers["Location"]))
    assert "条例学习" in shown and "学习培训" in shown and "课件.pdf" in shown
    assert english(shown) == english(html(bad)) == english(page) == []
    assert web.post("/meetings", form, csrf=False).status_code == 400

    web.logout()
    web.login("xinsheng_laogan")
    listed = html(web.get("/meetings"))
    assert "条例学习" in listed and 'id="meeting-form"' not in listed
    assert "条例学习" in html(web.get("/people/xinsheng_laogan"))  # on the profile too
    web.logout()
    web.login("xinsheng_wuye")
    assert "条例学习" not in html(web.get("/meetings"))
    web.logout()
    web.login("group_deputy")
    stats = html(web.get("/study/stats?year=2027&month=1"))
    assert "例会 0 · 培训 1 · 交流 0" in stats


def test_zones_on_the_pages(web, reader):
    web.login("xinsheng_secretary")
    assert 'id="zone-form"' not in html(web.get("/zones"))
    assert web.post("/zones", {"name": "东部片区", "lead_unit_id": "xinsheng", "unit_ids": ["xinsheng"]}).status_code == 403
    web.logout()
    web.login("group_secretary")
    page = html(web.get("/zones"))
    assert "分区联创" in page and "尚未设立分区" in page
    bad = web.post("/zones", {"name": "东部片区", "lead_unit_id": "daizhuang", "unit_ids": ["xinsheng", "xuchang"]})
    assert bad.status_code == 422 and "牵头单位必须是分区内的单位" in html(bad)
    ok = web.post("/zones", {"name": "东部片区", "lead_unit_id": "xinsheng", "unit_ids": ["xinsheng", "xuchang"]})
    assert ok.status_code == 302
    zone_url = ok.headers["Location"]
    assert "修改分区" in html(web.get(zone_url))
    bad = web.post(zone_url, {"name": "东部片区", "lead_unit_id": "daizhuang", "unit_ids": ["xinsheng"]})
    assert bad.status_code == 422 and 'id="error-zone_lead_unit_id"' in html(bad)
    web.logout()
    web.login("xuchang_secretary")
    zp = html(web.get(zone_url))
    assert 'id="activity-form"' in zp and 'id="zone-form"' not in zp and english(zp) == []
    r = web.post(zone_url + "/activities", {"held_on": "2027-01-05", "topic": "联创交流会", "unit_ids": ["xinsheng", "xuchang"],
                                            "summary": "交流监督经验"})
    assert r.status_code == 302
    assert "联创交流会" in html(web.get(zone_url))
    assert reader.scalar(select(func.count()).select_from(ZoneActivity)) == 1
    web.logout()
    web.login("daizhuang_secretary")
    assert "联创交流会" not in html(web.get(zone_url))
    assert reader.scalar(select(func.count()).select_from(Zone)) == 1
