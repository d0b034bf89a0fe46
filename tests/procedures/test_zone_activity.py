"""分区联创联合活动 (zone_activity, issue 17 item 5): the group committee launches a joint activity
for a zone, the zone's lead unit plans it (participants picked by name from the member units'
people), every member unit confirms its own participants, the lead unit records the result and
the findings; the activity is then one of the zone's activities (/zones, the API) and the findings
count on the dashboard. Every step is offered to exactly the right committee."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.models import Record
from engine.platform.meetings.models import ZoneActivity
from tests.oracles import fields
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user logged in
from tests.procedures.offers import Worklists, complete, deploy_and_roundtrip, instance, refused
from tests.web.conftest import Web
from tests.web.test_zh_pages import english

KEYS = ["zone_activity", "zone_activity_unit"]
ZONE = {"name": "东部片区", "lead_unit_id": "xuchang", "unit_ids": ["xinsheng", "xuchang"], "note": "许厂牵头"}
LAUNCH = {"activity_kind": "交叉互查", "topic": "职工薪酬分配交叉互查", "planned_on": "2027-01-12",
          "requirements": "各成员单位选派纪委委员和支部纪律检查委员参加"}
PLAN = {"plan": "两单位交叉检查薪酬分配台账", "place": "许厂煤矿会议室",
        "plan_participants": ["xuchang_member", "xuchang_zongcai", "xinsheng_member", "xinsheng_laogan"]}
FINDINGS = [
    {"title": "绩效考核台账签字不全", "unit_id": "xinsheng", "classification": "即知即改"},
    {"title": "个别区队二次分配不公开", "unit_id": "xuchang", "classification": "苗头性、倾向性问题"},
]


def zone(api: Any, data: dict[str, Any] = ZONE) -> int:
    r = api.post("/api/v1/zones", "group_secretary", json=data)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def secondment_batch(session: Any, clock: Any) -> str:
    """A 分区联创 batch of processes/secondment.bpmn as its last step leaves it, and its two people."""
    now, key = clock.now(), "2027-01-04T10:00:00+08:00/分区联创"
    batch = {"batch_key": key, "batch_kind": "分区联创", "batch_title": "东部片区联创骨干", "starts_on": "2027-01-10",
             "ends_on": "2027-01-14", "place": "许厂煤矿", "nominated": 3, "selected": 2, "attended": 0}
    session.add(Record(kind="secondment_batch", key=key, node_id="group", data=batch, created_at=now, updated_at=now))
    other = {**batch, "batch_key": "t/学习培训", "batch_kind": "学习培训", "batch_title": "条例培训"}
    session.add(Record(kind="secondment_batch", key="t/学习培训", node_id="group", data=other, created_at=now,
                       updated_at=now))
    for user, unit, node in (("xinsheng_laogan", "xinsheng", "xinsheng-laogan"),
                             ("xuchang_zongcai", "xuchang", "xuchang-zongcai")):
        session.add(Record(kind="secondment", key=f"{key}:{user}", node_id=node, unit_id=unit, created_at=now,
                           updated_at=now, data={"batch_key": key, "username": user, "display_name": user,
                                                 "unit_id": unit, "status": "selected"}))
    session.commit()
    return key


def test_a_zone_joint_activity_runs_through_the_tiers_and_is_recorded_for_the_zone(api, app, session, clock):
    deploy_and_roundtrip(api, "zone_activity.bpmn", KEYS)
    batch = secondment_batch(session, clock)
    zid = zone(api)
    other = zone(api, {"name": "西部片区", "lead_unit_id": "daizhuang", "unit_ids": ["daizhuang"], "note": ""})
    w = Worklists(api)
    # started by hand by the group committee only (engine/org/policy.py check_start: the group lane)
    for user in ("xuchang_secretary", "xinsheng_laogan", "owner", "xinsheng_dept"):
        r = api.post("/api/v1/process-definitions/zone_activity/start", user, json={"variables": {}})
        assert r.status_code == 403, (user, r.get_json())
    child = api.post("/api/v1/process-definitions/zone_activity_unit/start", "group_secretary", json={"variables": {}})
    assert (child.status_code, child.get_json()["code"]) == (403, "not_startable")
    page = Web(app.test_client())
    page.login("group_deputy")
    start = page.get("/start").get_data(as_text=True)  # the 发起 page offers it, in Chinese
    assert "分区联创联合活动" in start and "集团公司纪委部署分区联创联合活动" in start
    assert "zone_activity_unit" not in start and "成员单位确认参加人员" not in start
    r = api.post("/api/v1/process-definitions/zone_activity/start", "group_deputy", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]

    t = w.check([("launch", "group", "group")], "zone_activity")["launch@group"]
    shown = page.get(f"/tasks/{t['id']}").get_data(as_text=True)
    assert "东部片区" in shown and "交叉互查" in shown and english(shown) == []
    detail = api.get(f"/api/v1/tasks/{t['id']}", "group_secretary").get_json()
    picked = detail["form"]["properties"]["zone_id"]
    assert (picked["enum"], picked["enumNames"]) == ([zid, other], ["东部片区", "西部片区"])  # by name, never typed
    batches = detail["form"]["properties"]["batch_key"]  # the 分区联创 secondment batches only
    assert (batches["enum"], batches["enumNames"]) == ([batch], ["东部片区联创骨干（2027-01-10～2027-01-14）"])
    err = refused(api, t, {**LAUNCH, "zone_id": 999})
    assert fields(err["details"]) == [{"field": "zone_id", "message": "choose one of the options"}]
    refused(api, t, {**LAUNCH, "zone_id": zid, "activity_kind": "随便聊聊"})
    refused(api, t, {**LAUNCH, "zone_id": zid, "batch_key": "t/学习培训"})
    complete(api, t, {**LAUNCH, "zone_id": zid, "batch_key": batch})
    inst = instance(api, iid)
    assert inst["title"] == "分区联创：东部片区 · 职工薪酬分配交叉互查"
    assert (inst["variables"]["lead_unit_id"], inst["variables"]["zone_unit_ids"]) == ("xuchang", ["xinsheng", "xuchang"])

    # the lead unit's committee plans: participants from the zone's member units, by name
    t = w.check([("plan", "unit", "xuchang")], "zone_activity")["plan@xuchang"]
    form = api.get(f"/api/v1/tasks/{t['id']}", "xuchang_member").get_json()["form"]
    people = form["properties"]["plan_participants"]["items"]
    assert {"xinsheng_laogan", "xuchang_zongcai", "xinsheng_secretary"} <= set(people["enum"])
    assert not [u for u in people["enum"] if u.startswith("daizhuang") or u.startswith("group")]
    assert people["enumNames"][people["enum"].index("xinsheng_laogan")].startswith("新升实业老干家委党总支纪律检查委员（")
    assert form["prefill"] == {"held_on": "2027-01-12"}
    err = refused(api, t, {**PLAN, "held_on": "2027-01-12", "plan_participants": ["daizhuang_member"]})
    assert fields(err["details"]) == [{"field": "plan_participants/0", "message": "choose one of the options"}]
    page.login("xuchang_member")
    shown = page.get(f"/tasks/{t['id']}").get_data(as_text=True)
    assert 'value="xinsheng_laogan"' in shown and "新升实业老干家委党总支纪律检查委员（" in shown
    assert 'value="daizhuang_member"' not in shown and english(shown) == []
    complete(api, t, {**PLAN, "held_on": "2027-01-12"}, "xuchang_member")

    # each member unit's committee confirms its own people (fan-out over the zone's units)
    got = w.check([("u_confirm", "unit", "xinsheng"), ("u_confirm", "unit", "xuchang")], "zone_activity_unit")
    mine = api.get(f"/api/v1/tasks/{got['u_confirm@xinsheng']['id']}", "xinsheng_secretary").get_json()["form"]
    assert mine["prefill"] == {"unit_participants": ["xinsheng_member", "xinsheng_laogan"]}
    assert "xuchang_member" not in mine["properties"]["unit_participants"]["items"]["enum"]
    err = refused(api, got["u_confirm@xinsheng"], {"unit_participants": ["xuchang_member"]})
    assert fields(err["details"]) == [{"field": "unit_participants/0", "message": "choose one of the options"}]
    assert w.check([("u_confirm", "unit", "xinsheng"), ("u_confirm", "unit", "xuchang")], "zone_activity_unit")
    assert [t["spec_id"] for t in api.tasks("daizhuang_secretary", status="open")] == []
    page.login("xinsheng_secretary")
    shown = page.get(f"/tasks/{got['u_confirm@xinsheng']['id']}").get_data(as_text=True)
    assert "确认本单位参加人员" in shown and english(shown) == []
    complete(api, got["u_confirm@xinsheng"], {"unit_participants": ["xinsheng_laogan", "xinsheng_wuye"],
                                              "confirm_note": "纪委委员另有任务，改派物业支部"})
    complete(api, got["u_confirm@xuchang"], {"unit_participants": ["xuchang_member", "xuchang_zongcai"]})

    # the lead unit records the result, the findings with their unit and kind
    t = w.check([("record", "unit", "xuchang")], "zone_activity")["record@xuchang"]
    assert t["due_at"] == "2027-01-22T15:59:59+00:00"
    form = api.get(f"/api/v1/tasks/{t['id']}", "xuchang_secretary").get_json()["form"]
    unit_pick = form["properties"]["findings"]["items"]["properties"]["unit_id"]
    assert unit_pick["enum"] == ["xinsheng", "xuchang"]  # only the zone's units
    page.login("xuchang_secretary")
    shown = page.get(f"/tasks/{t['id']}").get_data(as_text=True)
    assert "记录活动开展情况" in shown and english(shown) == []
    result = {"held_on": "2027-01-12", "summary": "交叉检查两单位薪酬分配台账", "findings": FINDINGS,
              "follow_up": "限期一个月整改"}
    err = refused(api, t, result)  # the activity has not been held yet: 2027-01-05
    assert fields(err["details"]) == [{"field": "held_on", "message": "开展日期不能晚于今天"}]
    clock.advance(days=8)
    err = refused(api, t, {**result, "findings": [{**FINDINGS[0], "unit_id": "daizhuang"}]})
    assert fields(err["details"]) == [{"field": "findings/0/unit_id", "message": "choose one of the options"}]
    assert api.post(f"/api/v1/tasks/{t['id']}/complete", "xinsheng_secretary", json={"data": result}).status_code == 404
    complete(api, t, result, "xuchang_secretary")
    w.check([], "zone_activity")
    inst = instance(api, iid)
    assert inst["status"] == "completed"

    # the zone's activity: in the zone data, read by the zone's people through the API
    aid = inst["variables"]["zone_activity_id"]
    a = api.get(f"/api/v1/zone-activities/{aid}", "xinsheng_laogan").get_json()
    assert (a["zone_id"], a["held_on"], a["topic"], a["created_by"]) == (
        zid, "2027-01-12", "职工薪酬分配交叉互查", "xuchang_secretary")
    assert [u["unit_id"] for u in a["units"]] == ["xinsheng", "xuchang"]
    assert (a["batch_key"], [x["username"] for x in a["secondments"]]) == (batch, ["xinsheng_laogan"])  # the register's rule
    group_view = api.get(f"/api/v1/zone-activities/{aid}", "group_secretary").get_json()
    assert [x["username"] for x in group_view["secondments"]] == ["xinsheng_laogan", "xuchang_zongcai"]
    assert a["summary"].splitlines() == [
        "活动形式：交叉互查", "地点：许厂煤矿会议室",
        "参加人员：山东新升实业发展有限责任公司纪委：新升实业老干家委党总支纪律检查委员、新升实业物业服务中心党支部纪律检查委员；"
        "许厂煤矿纪委：许厂煤矿纪委委员、许厂煤矿综采一区党支部纪律检查委员",
        "开展情况：交叉检查两单位薪酬分配台账", "发现问题：2 条", "整改和下一步工作：限期一个月整改"]
    listed = api.get(f"/api/v1/zones/{zid}/activities", "xuchang_member").get_json()
    assert [x["id"] for x in listed["items"]] == [aid]
    assert api.get(f"/api/v1/zone-activities/{aid}", "daizhuang_secretary").status_code == 404
    assert api.get("/api/v1/zones", "group_member").get_json()["items"][0]["activities"] == 1
    with app.extensions["sanji"].sessions() as s:
        assert s.scalars(select(ZoneActivity.id)).all() == [aid]

    # the findings count on the dashboard, under the lead unit that recorded them
    with app.extensions["sanji"].sessions() as s:
        (rec,) = s.scalars(select(Record).where(Record.kind == "form_findings")).all()
        assert (rec.node_id, rec.data["process_key"], rec.data["task"]) == ("xuchang", "zone_activity", "record")
    r = api.get("/api/v1/dashboard/findings", "group_secretary",
                query_string={"year": 2027, "process_key": "zone_activity"})
    assert r.status_code == 200, r.get_json()
    row = next(x for x in r.get_json()["rows"] if x["month"] == "2027-01" and x["unit_id"] == "xuchang")
    assert [row[k] for k in ("immediate_fix", "tendency", "discipline_violation", "pending", "total")] == [1, 1, 0, 0, 2]

    # and on the zone's page, in Chinese
    page.login("xinsheng_laogan")
    shown = page.get(f"/zones/{zid}").get_data(as_text=True)
    assert "职工薪酬分配交叉互查" in shown and "活动形式：交叉互查" in shown and "2027-01-12" in shown
    assert english(shown) == []


def test_another_process_may_not_record_a_zone_activity(api, app, clock):
    """`record_zone_activity` is the zone procedure's: a diagram of another key gets an incident and
    no activity; `zone_info` is open to every script."""
    deploy_and_roundtrip(api, "zone_activity.bpmn", KEYS)
    zid = zone(api)
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>'
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
           'targetNamespace="http://sanji.example/bpmn"><bpmn:process id="zone_forger" name="伪造联创活动" '
           'isExecutable="true"><bpmn:laneSet id="ls"><bpmn:lane id="l" name="集团公司纪委">'
           '<bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>x</bpmn:flowNodeRef>'
           '<bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>'
           '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x"/>'
           '<bpmn:scriptTask id="x" name="伪造"><bpmn:script>'
           f'units = zone_info({zid})["unit_ids"]\n'
           f'aid = record_zone_activity("s", {zid}, "2027-01-04", "伪造", units, "")'
           '</bpmn:script></bpmn:scriptTask><bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="e"/>'
           '<bpmn:endEvent id="e"/></bpmn:process></bpmn:definitions>')
    r = api.post("/api/v1/process-definitions?filename=zone_forger.bpmn", "owner", data=xml.encode(),
                 content_type="application/xml")
    assert r.status_code == 201, r.get_json()
    r = api.post("/api/v1/process-definitions/zone_forger/start", "group_secretary", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    inst = instance(api, r.get_json()["id"])
    assert (inst["status"], inst["incident"]["task"]) == ("error", "x")
    assert ("ScriptError:record_zone_activity: process 'zone_forger' may not record zone activities "
            "(only zone_activity may)") in inst["incident"]["message"]
    with app.extensions["sanji"].sessions() as s:
        assert s.scalars(select(ZoneActivity.id)).all() == []


def test_a_zone_closed_before_the_result_is_recorded_records_nothing(api, app, clock):
    """The group closes the zone while the activity runs: the lead unit's record step is refused
    (422, nothing changes) instead of failing the instance; a date before 2000 is refused too."""
    deploy_and_roundtrip(api, "zone_activity.bpmn", KEYS)
    zid = zone(api)
    w = Worklists(api)
    iid = api.post("/api/v1/process-definitions/zone_activity/start", "group_secretary",
                   json={"variables": {}}).get_json()["id"]
    complete(api, w.check([("launch", "group", "group")], "zone_activity")["launch@group"],
             {**LAUNCH, "zone_id": zid, "planned_on": "2027-01-05"})
    complete(api, w.check([("plan", "unit", "xuchang")], "zone_activity")["plan@xuchang"],
             {**PLAN, "held_on": "2027-01-05"})
    got = w.check([("u_confirm", "unit", "xinsheng"), ("u_confirm", "unit", "xuchang")], "zone_activity_unit")
    complete(api, got["u_confirm@xinsheng"], {"unit_participants": ["xinsheng_member"]})
    complete(api, got["u_confirm@xuchang"], {"unit_participants": ["xuchang_member"]})
    t = w.check([("record", "unit", "xuchang")], "zone_activity")["record@xuchang"]
    result = {"held_on": "2027-01-05", "summary": "交叉检查"}
    err = refused(api, t, {**result, "held_on": "1999-12-31"})
    assert fields(err["details"]) == [{"field": "held_on", "message": "开展日期不能早于2000年"}]
    assert api.call("DELETE", f"/api/v1/zones/{zid}", "group_secretary").status_code == 200
    err = refused(api, t, result)
    assert err["message"] == "本分区已撤销，不能登记联创活动"
    assert instance(api, iid)["status"] == "running"
    with app.extensions["sanji"].sessions() as s:
        assert s.scalars(select(ZoneActivity.id)).all() == []
