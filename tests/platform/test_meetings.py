"""Unit meetings and training (例会、学习培训、业务交流) and 分区联创 zones (issue 17 item 5): who
records and reads them, what is refused (naming the field), the materials' attachments, the
study figures and the annual assessment's helper that count them."""
from __future__ import annotations

from typing import Any

from engine.core import script_names
from engine.platform.meetings.rules import script_helpers as meeting_helpers
from tests.conftest import principal
from tests.oracles import fields
from tests.platform.attachment_files import PDF, upload

MEETING = {"kind": "regular", "held_on": "2027-01-04", "topic": "一月份纪检例会",
           "attendees": ["xinsheng_secretary", "xinsheng_laogan"], "notes": "传达集团公司纪委一季度联动任务"}


def meeting(api: Any, user: str = "xinsheng_secretary", status: int = 201, **changes: Any) -> dict[str, Any]:
    r = api.post("/api/v1/meetings", user, json={**MEETING, **changes})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def ids(api: Any, user: str, query: str = "") -> list[int]:
    r = api.get("/api/v1/meetings" + query, user)
    assert r.status_code == 200, r.get_json()
    return [m["id"] for m in r.get_json()["items"]]


def test_a_unit_committee_records_its_meetings_and_the_right_people_read_them(api):
    pdf = upload(api, "xinsheng_secretary", PDF, "例会材料.pdf")
    m1 = meeting(api, materials=[pdf["id"]])
    assert {k: m1[k] for k in ("unit_id", "unit_name", "kind", "kind_name", "held_on", "topic", "created_by")} == {
        "unit_id": "xinsheng", "unit_name": "山东新升实业发展有限责任公司纪委", "kind": "regular", "kind_name": "例会",
        "held_on": "2027-01-04", "topic": "一月份纪检例会", "created_by": "xinsheng_secretary"}
    assert [a["username"] for a in m1["attendees"]] == ["xinsheng_secretary", "xinsheng_laogan"]
    assert [(f["id"], f["name"]) for f in m1["materials"]] == [(pdf["id"], "例会材料.pdf")]
    m2 = meeting(api, "xinsheng_member", kind="training", held_on="2026-12-20", topic="纪律处分条例学习培训",
                 attendees=["xinsheng_wuye"])
    m3 = meeting(api, "xuchang_secretary", kind="exchange", topic="业务交流", attendees=["xuchang_zongcai"])

    assert ids(api, "group_standing") == [m3["id"], m1["id"], m2["id"]]  # the group reads all, newest first
    assert ids(api, "xinsheng_deputy") == [m1["id"], m2["id"]]  # a unit its own
    assert ids(api, "xuchang_member") == [m3["id"]]
    assert ids(api, "xinsheng_laogan") == [m1["id"]]  # a commissioner those attended
    assert ids(api, "xinsheng_wuye") == [m2["id"]]
    assert ids(api, "xinsheng_jidian") == []
    assert ids(api, "group_standing", "?unit_id=xinsheng&kind=training") == [m2["id"]]
    assert ids(api, "group_standing", "?year=2026") == [m2["id"]]
    assert ids(api, "group_standing", "?year=2027&unit_id=xinsheng") == [m1["id"]]
    assert api.get("/api/v1/meetings?kind=party", "group_standing").status_code == 422

    assert api.get(f"/api/v1/meetings/{m1['id']}", "xinsheng_laogan").get_json()["topic"] == "一月份纪检例会"
    for user in ("xuchang_secretary", "xinsheng_wuye", "xinsheng_dept"):  # another unit, not attended
        assert api.get(f"/api/v1/meetings/{m1['id']}", user).status_code == 404
    # the materials are read with the meeting: an attendee downloads them, another unit does not
    assert api.get(f"/api/v1/attachments/{pdf['id']}", "xinsheng_laogan").status_code == 200
    assert api.get(f"/api/v1/attachments/{pdf['id']}", "xuchang_secretary").status_code == 404
    # materials are one's own uploads: a file one only reads (through this meeting) is not passed on
    assert api.get(f"/api/v1/attachments/{pdf['id']}", "xinsheng_member").status_code == 200
    err = meeting(api, "xinsheng_member", 422, materials=[pdf["id"]])
    assert fields(err["details"]) == [{"field": "materials/0", "message": f"attachment {pdf['id']} does not exist"}]
    # a person's profile lists the meetings they attended, as far as the reader reads them
    profile = api.get("/api/v1/people/xinsheng_laogan", "xinsheng_secretary").get_json()
    assert [(m["id"], m["kind_name"]) for m in profile["meetings"]] == [(m1["id"], "例会")]
    assert [m["id"] for m in api.get("/api/v1/people/xinsheng_wuye", "xinsheng_wuye").get_json()["meetings"]] == [m2["id"]]


def test_meetings_are_recorded_by_the_units_own_committee_only(api):
    assert meeting(api, "xinsheng_secretary", 403, unit_id="xuchang", attendees=["xuchang_zongcai"])["error"] == "forbidden"
    assert meeting(api, "group_secretary", 403, unit_id="xinsheng")["error"] == "forbidden"
    assert meeting(api, "xinsheng_laogan", 403)["error"] == "forbidden"
    assert api.get("/api/v1/meetings", "group_standing").get_json()["total"] == 0


def test_a_meeting_is_refused_naming_the_field(api):
    cases = [
        ({"held_on": "2027-01-06"}, "held_on", "cannot be in the future"),
        ({"held_on": "昨天"}, "held_on", "an ISO date, e.g. 2027-01-05"),
        ({"kind": "party"}, "kind", "one of regular, training, exchange (例会、学习培训、业务交流)"),
        ({"topic": " "}, "topic", "required text of at most 200 characters"),
        ({"attendees": []}, "attendees", "choose at least one attendee"),
        ({"attendees": ["xinsheng_laogan", "xuchang_zongcai"]}, "attendees/1",
         "xuchang_zongcai is not one of the unit's people"),
        ({"attendees": ["group_secretary"]}, "attendees/0", "group_secretary is not one of the unit's people"),
        ({"materials": ["nope"]}, "materials/0", "attachment nope does not exist"),
        ({"place": "会议室"}, "place", "unknown field"),
        ({"unit_id": "xinsheng-laogan"}, "unit_id", "'xinsheng-laogan' is not a unit of the organisation"),
    ]
    for change, field, message in cases:
        err = meeting(api, status=422, **change)
        assert fields(err["details"]) == [{"field": field, "message": message}], change
    # another person's upload that the recorder may not read is refused too
    other = upload(api, "xuchang_secretary", PDF, "x.pdf")
    assert fields(meeting(api, status=422, materials=[other["id"]])["details"])[0]["field"] == "materials/0"
    assert api.get("/api/v1/meetings", "group_standing").get_json()["total"] == 0
    # in Chinese
    r = api.post("/api/v1/meetings", "xinsheng_secretary", json={**MEETING, "held_on": "2027-02-01"},
                 headers={"Accept-Language": "zh"})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "held_on"
    assert r.get_json()["message"] == "held_on: 不能晚于今天。"


def test_the_study_figures_and_the_assessment_count_the_meetings(api, session):
    meeting(api)
    meeting(api, kind="training", held_on="2027-01-03")
    meeting(api, kind="training", held_on="2026-12-30")
    meeting(api, "xuchang_secretary", kind="exchange", attendees=["xuchang_zongcai"])
    jan = api.get("/api/v1/study/stats?year=2027&month=1", "group_deputy").get_json()
    by_unit = {u["unit_id"]: u["meetings"] for u in jan["units"]}
    assert by_unit == {
        "xinsheng": {"regular": 1, "training": 1, "exchange": 0, "total": 2},
        "xuchang": {"regular": 0, "training": 0, "exchange": 1, "total": 1},
        "daizhuang": {"regular": 0, "training": 0, "exchange": 0, "total": 0},
    }
    assert jan["total"]["meetings"] == {"regular": 1, "training": 1, "exchange": 1, "total": 3}
    assert jan["group"]["meetings"]["total"] == 0
    dec = api.get("/api/v1/study/stats?year=2026", "xinsheng_secretary").get_json()
    assert [u["meetings"]["training"] for u in dec["units"]] == [1]

    helpers = meeting_helpers(session)
    assert set(helpers) == script_names.MEETING_HELPERS and script_names.MEETING_HELPERS <= script_names.HELPERS
    assert helpers["unit_meetings"]("xinsheng", 2027) == {"regular": 1, "training": 1, "exchange": 0, "total": 2}
    assert helpers["unit_meetings"]("daizhuang", 2027)["total"] == 0


ZONE = {"name": "东部片区", "lead_unit_id": "xinsheng", "unit_ids": ["xinsheng", "xuchang"], "note": "分区联创试点"}


def test_zones_are_set_up_by_the_group_and_their_activities_recorded_by_members(api, session, clock):
    assert api.post("/api/v1/zones", "xinsheng_secretary", json=ZONE).status_code == 403
    r = api.post("/api/v1/zones", "group_secretary", json=ZONE)
    assert r.status_code == 201, r.get_json()
    zone = r.get_json()
    assert (zone["lead_unit_name"], [u["unit_id"] for u in zone["units"]], zone["active"]) == (
        "山东新升实业发展有限责任公司纪委", ["xinsheng", "xuchang"], True)
    zid = zone["id"]
    dup = api.post("/api/v1/zones", "group_secretary", json=ZONE)
    assert dup.status_code == 422 and dup.get_json()["details"][0]["field"] == "name"
    bad = api.post("/api/v1/zones", "group_secretary", json={**ZONE, "name": "西部", "lead_unit_id": "daizhuang"})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "lead_unit_id"
    changed = api.call("PUT", f"/api/v1/zones/{zid}", "group_secretary",
                       json={**ZONE, "unit_ids": ["xinsheng", "xuchang", "daizhuang"], "lead_unit_id": "xuchang"})
    assert changed.status_code == 200 and changed.get_json()["lead_unit_id"] == "xuchang"
    assert len(changed.get_json()["units"]) == 3
    assert api.call("PUT", f"/api/v1/zones/{zid}", "xuchang_secretary", json=ZONE).status_code == 403
    api.call("PUT", f"/api/v1/zones/{zid}", "group_secretary", json=ZONE)  # back to two units
    listed = api.get("/api/v1/zones", "xinsheng_laogan").get_json()
    assert [z["name"] for z in listed["items"]] == ["东部片区"]
    assert listed["items"][0]["may_record"] is False and listed["items"][0]["member"] is True
    assert api.get("/api/v1/zones", "xinsheng_secretary").get_json()["items"][0]["may_record"] is True

    act = {"held_on": "2027-01-04", "topic": "联创交流：薪酬分配监督", "unit_ids": ["xinsheng", "xuchang"],
           "summary": "两单位交流监督经验"}
    r = api.post(f"/api/v1/zones/{zid}/activities", "xuchang_member", json=act)
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    assert ([u["unit_id"] for u in a["units"]], a["zone_name"], a["secondments"]) == (["xinsheng", "xuchang"], "东部片区", [])
    for user in ("daizhuang_secretary", "group_secretary", "xinsheng_laogan"):  # not a member unit's committee
        assert api.post(f"/api/v1/zones/{zid}/activities", user, json=act).status_code == 403
    for change, field in [({"unit_ids": ["daizhuang"]}, "unit_ids/0"), ({"held_on": "2027-01-09"}, "held_on"),
                          ({"batch_key": "nope"}, "batch_key"), ({"unit_ids": []}, "unit_ids")]:
        r = api.post(f"/api/v1/zones/{zid}/activities", "xinsheng_secretary", json={**act, **change})
        assert r.status_code == 422 and r.get_json()["details"][0]["field"] == field, change

    def listed_by(user: str) -> list[int]:
        return [x["id"] for x in api.get(f"/api/v1/zones/{zid}/activities", user).get_json()["items"]]

    assert listed_by("group_deputy") == listed_by("xinsheng_laogan") == listed_by("xuchang_secretary") == [a["id"]]
    assert listed_by("daizhuang_secretary") == [] and listed_by("daizhuang_caimei") == []
    assert api.get(f"/api/v1/zone-activities/{a['id']}", "xinsheng_wuye").status_code == 200
    assert api.get(f"/api/v1/zone-activities/{a['id']}", "daizhuang_secretary").status_code == 404
    assert api.get("/api/v1/zones/999/activities", "group_deputy").status_code == 404

    closed = api.call("DELETE", f"/api/v1/zones/{zid}", "group_secretary")
    assert closed.status_code == 200 and closed.get_json()["active"] is False
    assert api.get("/api/v1/zones", "group_deputy").get_json()["total"] == 0
    assert api.get("/api/v1/zones?closed=true", "group_deputy").get_json()["total"] == 1
    assert api.post(f"/api/v1/zones/{zid}/activities", "xinsheng_secretary", json=act).status_code == 409
    assert listed_by("xinsheng_laogan") == [a["id"]]  # still readable


def test_a_zone_activity_lists_the_people_of_its_secondment_batch(api, session, clock):
    from engine.models import Record

    now = clock.now()
    session.add(Record(kind="secondment_batch", key="2027-b1", node_id="group", data={"batch_key": "2027-b1"},
                       created_at=now, updated_at=now))
    for user, unit, status in (("xinsheng_laogan", "xinsheng", "attended"), ("xuchang_zongcai", "xuchang", "absent")):
        session.add(Record(kind="secondment", key=f"2027-b1:{user}", node_id=unit, unit_id=unit, created_at=now,
                           updated_at=now, data={"batch_key": "2027-b1", "username": user, "display_name": user,
                                                 "unit_id": unit, "status": status}))
    session.commit()
    zid = api.post("/api/v1/zones", "group_secretary", json=ZONE).get_json()["id"]
    a = api.post(f"/api/v1/zones/{zid}/activities", "xinsheng_secretary",
                 json={"held_on": "2027-01-05", "topic": "联创活动", "unit_ids": ["xinsheng"], "batch_key": "2027-b1"}).get_json()
    group_view = api.get(f"/api/v1/zone-activities/{a['id']}", "group_secretary").get_json()
    assert [(s["username"], s["status"]) for s in group_view["secondments"]] == [
        ("xinsheng_laogan", "attended"), ("xuchang_zongcai", "absent")]
    unit_view = api.get(f"/api/v1/zone-activities/{a['id']}", "xinsheng_secretary").get_json()
    assert [s["username"] for s in unit_view["secondments"]] == ["xinsheng_laogan"]  # the register's rule


def test_the_annual_assessment_shows_the_units_meetings_of_the_year(api, session, rt, forms, clock):
    from sqlalchemy import select

    from engine.infra.settings import ROOT
    from engine.models import HumanTask
    from tests.conftest import deploy_file

    meeting(api)
    meeting(api, kind="training", held_on="2027-01-02")
    meeting(api, kind="exchange", held_on="2026-12-02")  # another year
    deploy_file(session, ROOT / "processes" / "annual_assessment.bpmn", forms, clock)
    rt.start("annual_assessment", {}, None, start_event="start_timer")
    session.commit()
    [notice] = session.scalars(select(HumanTask).where(HumanTask.status == "open"))
    rt.complete(notice.id, {"year": 2027, "requirements": "考核三级联动落实情况", "unit_deadline": "2027-12-31"},
                principal(session, "group_secretary"))
    session.commit()
    tasks = session.scalars(select(HumanTask.id).where(HumanTask.spec_id == "group_assess_unit")).all()
    session.commit()  # no transaction held open while the API writes (SQLite has one writer)
    contexts = {c["unit_id"]: c for c in (api.get(f"/api/v1/tasks/{t}", "group_secretary").get_json()["context"]
                                          for t in tasks)}
    assert {u: c["meetings_count"] for u, c in contexts.items()} == {"xinsheng": 2, "xuchang": 0, "daizhuang": 0}
