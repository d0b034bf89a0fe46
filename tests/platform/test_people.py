"""Secondments and training (the `secondment` process), profiles, and the leading group."""
from __future__ import annotations

from tests.oracles import fields
from sqlalchemy import select

from engine.org import nodes as org
from engine.models import ProcessInstance, RoleAssignment, User
from engine.platform.notify import collect
from engine.infra.settings import ROOT


def complete(api, user, task_id, data, status=200):
    r = api.post(f"/api/v1/tasks/{task_id}/complete", user, json={"data": data})
    assert r.status_code == status, r.get_json()
    return r.get_json()


def only_task(api, user, name):
    tasks = [t for t in api.tasks(user) if t["name"] == name]
    assert len(tasks) == 1, (user, name, tasks)
    return tasks[0]


def test_secondment_batch_from_nomination_to_attendance(api, session, sessions, clock, settings):
    assert api.deploy(ROOT / "processes" / "secondment.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/secondment/start", "group_secretary", json={"variables": {}})
    assert r.status_code == 201
    inst_id = r.get_json()["id"]
    open_task = only_task(api, "group_deputy", "拟定选调批次")
    batch = {"batch_kind": "学习培训", "batch_title": "2027年第一期纪检业务培训", "quota": 2,
             "starts_on": "2027-03-01", "ends_on": "2027-03-03", "place": "集团党校"}
    bad = complete(api, "group_deputy", open_task["id"], {**batch, "ends_on": "2027-02-28"}, 422)
    assert fields(bad["details"]) == [{"field": "ends_on", "message": "结束日期不能早于开始日期"}]
    complete(api, "group_deputy", open_task["id"], batch)

    # each unit committee nominates up to the quota, only its own inspectors
    nominate = only_task(api, "xinsheng_secretary", "推荐优秀纪检人员")
    # (picked by name among the unit's own inspectors: another unit's or a department's person is no choice)
    for wrong, field in (([{"username": "xuchang_member", "reason": "x"}], "nominees/0/username"),
                         ([{"username": u, "reason": "x"} for u in ("xinsheng_member", "xinsheng_laogan", "xinsheng_wuye")],
                          "nominees"),
                         ([{"username": "xinsheng_dept", "reason": "职能部门不是纪检人员"}], "nominees/0/username")):
        assert complete(api, "xinsheng_secretary", nominate["id"], {"nominees": wrong}, 422)["details"][0]["field"] == field
    complete(api, "xinsheng_secretary", nominate["id"], {"nominees": [
        {"username": "xinsheng_member", "reason": "熟悉财务监督"}, {"username": "xinsheng_laogan", "reason": "月报规范及时"}]})
    complete(api, "xuchang_deputy", only_task(api, "xuchang_deputy", "推荐优秀纪检人员")["id"],
             {"nominees": [{"username": "xuchang_zongcai", "reason": "明察暗访发现问题线索"}]})
    complete(api, "daizhuang_member", only_task(api, "daizhuang_member", "推荐优秀纪检人员")["id"], {"nominees": []})

    # the group's leaders select among the nominees (a plain committee member may not)
    select_task = only_task(api, "group_standing", "集团纪委择优选调")
    assert [t for t in api.tasks("group_member") if t["name"] == "集团纪委择优选调"] == []
    assert complete(api, "group_standing", select_task["id"], {"selected": ["daizhuang_caimei"]}, 422)["details"][0]["field"] == "selected/0"
    complete(api, "group_standing", select_task["id"], {"selected": ["xinsheng_laogan", "xuchang_zongcai"]})

    # the selected are told personally: a task for each, and a notification
    session.commit()
    collect(session, clock, settings)
    session.commit()
    for user in ("xinsheng_laogan", "xuchang_zongcai"):
        notes = api.get("/api/v1/notifications", user).get_json()["items"]
        assert [n["title"] for n in notes] == ["新待办：选调通知：确认参加"]
    assert api.get("/api/v1/notifications", "xinsheng_member").get_json()["total"] == 0
    complete(api, "xinsheng_laogan", only_task(api, "xinsheng_laogan", "选调通知：确认参加")["id"], {"confirm": True})
    complete(api, "xuchang_zongcai", only_task(api, "xuchang_zongcai", "选调通知：确认参加")["id"],
             {"confirm": False, "note": "综采工作面搬家，无法脱身"})

    attendance = only_task(api, "group_member", "记录参加情况")
    assert attendance["due_at"] == "2027-03-06T15:59:59+00:00"
    assert complete(api, "group_member", attendance["id"], {"attendance": [{"username": "xinsheng_member", "attended": True}]},
                    422)["details"][0]["field"] == "attendance/0/username"
    complete(api, "group_member", attendance["id"], {"attendance": [
        {"username": "xinsheng_laogan", "attended": True, "remark": "结业考试优秀"},
        {"username": "xuchang_zongcai", "attended": False}]})
    assert api.get(f"/api/v1/process-instances/{inst_id}", "group_secretary").get_json()["status"] == "completed"

    laogan = api.get("/api/v1/people/xinsheng_laogan", "xinsheng_laogan").get_json()
    assert laogan["secondments"] == [{"id": laogan["secondments"][0]["id"], "batch_kind": "学习培训",
                                      "batch_title": "2027年第一期纪检业务培训", "starts_on": "2027-03-01",
                                      "ends_on": "2027-03-03", "place": "集团党校", "status": "attended",
                                      "reason": "月报规范及时", "remark": "结业考试优秀", "confirmed": True}]
    zongcai = api.get("/api/v1/people/xuchang_zongcai", "group_secretary").get_json()
    assert [(s["status"], s["confirmed"]) for s in zongcai["secondments"]] == [("absent", False)]
    assert api.get("/api/v1/people/xinsheng_member", "xinsheng_member").get_json()["secondments"] == []
    with sessions() as s:
        assert s.scalars(select(ProcessInstance).where(ProcessInstance.status == "error")).all() == []


def test_profile_visibility_and_content(api):
    me = api.get("/api/v1/people/xinsheng_laogan", "xinsheng_laogan").get_json()
    assert [(r["role"], r["role_name"], r["node_name"]) for r in me["roles"]] == [("commissioner", "纪律检查委员", "老干家委党总支")]
    assert me["leading_group"] is None and me["study"]["year"] == 2027
    assert me["study"]["months"][0]["period"] == "2027-01" and len(me["study"]["months"]) == 1
    assert api.get("/api/v1/people/xinsheng_laogan", "xinsheng_deputy").status_code == 200
    assert api.get("/api/v1/people/xinsheng_laogan", "group_member").status_code == 200
    assert api.get("/api/v1/people/xinsheng_laogan", "admin").status_code == 200
    for outsider in ("xuchang_secretary", "xinsheng_wuye", "owner"):
        assert api.get("/api/v1/people/xinsheng_laogan", outsider).status_code == 404
    assert api.get("/api/v1/people/nobody", "group_secretary").status_code == 404
    assert api.get("/api/v1/people/group_secretary", "group_member").get_json()["leading_group"] == "组长"
    assert api.get("/api/v1/people/xinsheng_dept", "xinsheng_dept").get_json()["study"] is None


def test_leading_group_follows_the_roles(api, session):
    lg = api.get("/api/v1/leading-group", "xinsheng_laogan").get_json()
    assert lg["name"] == "三级联动工作领导小组" and lg["committee"] == "中共淄博矿业集团有限责任公司纪委"
    assert [m["username"] for m in lg["leader"]] == ["group_secretary"]
    assert [m["username"] for m in lg["deputy_leaders"]] == ["group_deputy"]
    assert [(m["username"], m["position"]) for m in lg["members"]] == [("group_standing", "成员")]  # not plain 委员
    # promote the standing member to deputy secretary: the leading group changes with the role
    user = session.scalars(select(User).where(User.username == "group_standing")).one()
    org.grant(session, user, "deputy_secretary", "group")
    session.commit()
    lg = api.get("/api/v1/leading-group", "group_member").get_json()
    assert [m["username"] for m in lg["deputy_leaders"]] == ["group_deputy", "group_standing"] and lg["members"] == []
    session.execute(RoleAssignment.__table__.delete().where(RoleAssignment.user_id == user.id,
                                                            RoleAssignment.role == "standing_member"))
    session.commit()
    assert api.get("/api/v1/people/group_standing", "group_standing").get_json()["leading_group"] == "副组长"


def test_leading_group_decisions(api):
    ok = {"meeting_date": "2027-01-04", "title": "三级联动工作领导小组2027年第一次会议",
          "decisions": "一、审议通过第一季度联动任务；二、明确各单位纪委书记为第一责任人。",
          "attendees": ["group_secretary", "group_deputy", "group_standing"]}
    for user in ("group_member", "xinsheng_secretary"):
        assert api.post("/api/v1/leading-group/decisions", user, json=ok).status_code == 403
    for bad, field_ in (({"meeting_date": "2027-01-06"}, "meeting_date"), ({"meeting_date": "soon"}, "meeting_date"),
                        ({"attendees": ["ghost"]}, "attendees"), ({"decisions": ""}, "decisions"), ({"venue": "x"}, "venue")):
        r = api.post("/api/v1/leading-group/decisions", "group_standing", json={**ok, **bad})
        assert r.status_code == 422 and r.get_json()["details"][0]["field"] == field_, bad
    r = api.post("/api/v1/leading-group/decisions", "group_standing", json=ok)
    assert r.status_code == 201
    assert [a["display_name"] for a in r.get_json()["attendees"]] == ["集团公司纪委书记", "集团公司纪委副书记", "集团公司纪委常委"]
    api.post("/api/v1/leading-group/decisions", "admin", json={**ok, "meeting_date": "2026-12-20", "title": "筹备会"})
    items = api.get("/api/v1/leading-group/decisions", "xinsheng_laogan").get_json()["items"]
    assert [(d["meeting_date"], d["recorded_by"]) for d in items] == [("2027-01-04", "group_standing"), ("2026-12-20", "admin")]
    assert api.get("/api/v1/leading-group/decisions?from=2027-01-01", "group_member").get_json()["total"] == 1
    assert api.get("/api/v1/leading-group/decisions", "owner").status_code == 403
