"""Issue 17: 审批 (approval), 会签 / 或签 (sign) and 集体研究 (collective) from any diagram."""
from __future__ import annotations

from engine.core.spiff import SanjiBpmnParser, dump_specs, load_specs
from tests.conftest import BPMN, roundtrip_all

DRAFT = {"proposal": "建议谈话函询"}


def start(api, key="decision_approval", user="xinsheng_member"):
    assert api.deploy(BPMN / f"{key}.bpmn").status_code == 201, api.deploy(BPMN / f"{key}.bpmn").get_json()
    r = api.post(f"/api/v1/process-definitions/{key}/start", user, json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def only(api, user, spec_id):
    found = [t for t in api.tasks(user) if t["spec_id"] == spec_id]
    assert len(found) == 1, found
    return found[0]


def complete(api, task_id, user, data):
    return api.post(f"/api/v1/tasks/{task_id}/complete", user, json={"data": data})


def test_approval_holds_the_data_until_the_secretary_approves(api, session):
    inst = start(api)
    draft = inst["open_tasks"][0]
    r = complete(api, draft["id"], "xinsheng_member", DRAFT)
    assert r.status_code == 200 and r.get_json()["status"] == "held"
    assert roundtrip_all(session) == 1  # the held state is the task still waiting in SpiffWorkflow
    session.rollback()  # end the read: SQLite lets one writer in
    # nothing merged, the flow waits: the instance's only open task is the approval
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert "proposal" not in got["variables"]
    approval = only(api, "xinsheng_secretary", "draft")
    assert approval["name"] == "审批：拟办意见"
    assert [t["spec_id"] for t in api.tasks("xinsheng_member")] == []
    view = api.get(f"/api/v1/tasks/{approval['id']}", "xinsheng_secretary").get_json()
    assert view["kind"] == "approval" and view["subject_task_id"] == draft["id"]
    assert view["subject_data"] == DRAFT and view["can_complete"] is True
    # a committee member who is not the secretary reads it but may not decide
    r = complete(api, approval["id"], "xinsheng_deputy", {"decision": "approve"})
    assert r.status_code == 403
    r = complete(api, approval["id"], "xinsheng_secretary", {"decision": "approve", "opinion": "同意"})
    assert r.status_code == 200
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert got["variables"]["proposal"] == "建议谈话函询"
    assert [t["spec_id"] for t in got["open_tasks"]] == ["meeting"]
    done = api.get(f"/api/v1/tasks/{draft['id']}", "xinsheng_member").get_json()
    assert done["status"] == "completed" and done["data"] == DRAFT
    assert [(e["type"], e["actor"], e["payload"].get("opinion")) for e in done["decisions"]] == [
        ("approval_requested", "xinsheng_member", None),
        ("approval_approved", "xinsheng_secretary", "同意"),
    ]
    assert [e["type"] for e in got["decisions"]] == ["approval_requested", "approval_approved"]
    history = api.get(f"/api/v1/process-instances/{inst['id']}/history", "xinsheng_member").get_json()["items"]
    completed = [e for e in history if e["type"] == "task_completed"]
    assert [(e["actor"], e["payload"]["spec_id"]) for e in completed] == [("xinsheng_member", "draft")]


def test_return_with_opinion_then_resubmit(api, session, clock, settings):
    from engine.platform.notify import collect

    inst = start(api)
    draft = inst["open_tasks"][0]
    assert complete(api, draft["id"], "xinsheng_member", DRAFT).status_code == 200
    approval = only(api, "xinsheng_secretary", "draft")
    r = complete(api, approval["id"], "xinsheng_secretary", {"decision": "return", "opinion": "  "})
    assert r.status_code == 422
    assert [d["field"] for d in r.get_json()["details"]] == ["opinion"]
    r = complete(api, approval["id"], "xinsheng_secretary", {"decision": "return", "opinion": "请补充依据"})
    assert r.status_code == 200
    again = only(api, "xinsheng_member", "draft")
    assert again["id"] == draft["id"] and again["assignee"] == "xinsheng_member"
    collect(session, clock, settings)  # the doer is told, with the opinion
    session.commit()
    notes = api.get("/api/v1/notifications", "xinsheng_member").get_json()["items"]
    assert [n["title"] for n in notes if n["task_id"] == draft["id"]] == ["新待办：拟办意见"] * 2
    assert "退回意见：请补充依据" in [n for n in notes if n["task_id"] == draft["id"]][0]["body"]

    view = api.get(f"/api/v1/tasks/{draft['id']}", "xinsheng_member").get_json()
    assert view["status"] == "open" and view["data"] == DRAFT  # the previous data, to start from
    assert view["returned"]["payload"]["opinion"] == "请补充依据"
    assert view["returned"]["actor"] == "xinsheng_secretary"
    # the returned approval is no longer offered; a resubmission asks again
    assert [t for t in api.tasks("xinsheng_secretary") if t["spec_id"] == "draft"] == []
    r = complete(api, draft["id"], "xinsheng_member", {"proposal": "建议初步核实"})
    assert r.status_code == 200
    second = only(api, "xinsheng_secretary", "draft")
    assert second["id"] != approval["id"]
    collect(session, clock, settings)  # the approval is offered like any task (the returned one was done before)
    session.commit()
    notes = api.get("/api/v1/notifications", "xinsheng_secretary").get_json()["items"]
    assert [(n["title"], n["task_id"]) for n in notes] == [("新待办：审批：拟办意见", second["id"])]
    assert complete(api, second["id"], "xinsheng_secretary", {"decision": "approve"}).status_code == 200
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert got["variables"]["proposal"] == "建议初步核实"
    done = api.get(f"/api/v1/tasks/{draft['id']}", "xinsheng_member").get_json()
    assert [e["type"] for e in done["decisions"]] == [
        "approval_requested", "approval_returned", "approval_requested", "approval_approved"]
    assert done["returned"] is None


def test_the_doer_cannot_approve_their_own_submission(api):
    inst = start(api, user="xinsheng_secretary")
    draft = inst["open_tasks"][0]
    assert complete(api, draft["id"], "xinsheng_secretary", DRAFT).status_code == 200
    approval = only(api, "xinsheng_secretary", "draft")
    r = complete(api, approval["id"], "xinsheng_secretary", {"decision": "approve"})
    assert r.status_code == 403
    assert api.get(f"/api/v1/tasks/{draft['id']}", "xinsheng_secretary").get_json()["status"] == "held"
    # another unit's secretary does not even see it
    assert complete(api, approval["id"], "xuchang_secretary", {"decision": "approve"}).status_code == 404


def _to_meeting(api):
    inst = start(api)
    draft = inst["open_tasks"][0]
    assert complete(api, draft["id"], "xinsheng_member", DRAFT).status_code == 200
    approval = only(api, "xinsheng_secretary", "draft")
    assert complete(api, approval["id"], "xinsheng_secretary", {"decision": "approve"}).status_code == 200
    return inst, only(api, "xinsheng_member", "meeting")


ATTENDEES = ["新升实业纪委书记", "新升实业纪委副书记", "新升实业纪委常委"]
GOOD = {"meeting_date": "2027-01-04", "attendees": ATTENDEES, "decision": "予以立案审查",
        "votes": {"agree": 2, "against": 0, "abstain": 1}}


def test_collective_record_is_validated_stored_and_shown(api, clock):
    inst, meeting = _to_meeting(api)
    today = clock.now().date()

    def refused(record):
        r = complete(api, meeting["id"], "xinsheng_member", {"collective": record})
        assert r.status_code == 422, r.get_json()
        return [d["field"] for d in r.get_json()["details"]]

    good = dict(GOOD, meeting_date=today.isoformat())
    assert refused(None) == ["collective"]
    future = today.replace(year=today.year + 1).isoformat()
    assert refused(dict(good, meeting_date=future)) == ["collective/meeting_date"]
    assert refused(dict(good, attendees=["新升实业纪委书记", "许厂煤矿纪委书记", "新升实业纪委常委"])) == [
        "collective/attendees"]
    assert refused(dict(good, attendees=ATTENDEES[:2], votes={"agree": 2})) == ["collective/attendees"]  # 2 of 4
    assert refused(dict(good, votes={"agree": 2, "against": 0, "abstain": 0})) == ["collective/votes"]
    assert refused(dict(good, votes={"agree": -1, "against": 4, "abstain": 0})) == ["collective/votes/agree"]
    assert refused(dict(good, decision=" ")) == ["collective/decision"]
    r = complete(api, meeting["id"], "xinsheng_member", {"collective": good})
    assert r.status_code == 200 and r.get_json()["instance_status"] == "completed"
    view = api.get(f"/api/v1/tasks/{meeting['id']}", "xinsheng_member").get_json()
    assert view["data"]["collective"] == good
    [rec] = [e for e in view["decisions"] if e["type"] == "collective_recorded"]
    assert rec["payload"]["attendees"] == ATTENDEES and rec["payload"]["votes"] == good["votes"]


def test_collective_errors_are_in_chinese(api, clock):
    _inst, meeting = _to_meeting(api)
    future = clock.now().date().replace(year=clock.now().year + 1).isoformat()
    r = api.post(f"/api/v1/tasks/{meeting['id']}/complete", "xinsheng_member",
                 json={"data": {"collective": dict(GOOD, meeting_date=future)}}, headers={"Accept-Language": "zh"})
    assert r.status_code == 422
    assert r.get_json()["details"][0]["message"] == "会议日期不能晚于今天"


def test_countersign_records_every_signature_and_a_disagreement(api, session):
    inst = start(api, "decision_sign")
    signers = ["xinsheng_secretary", "xinsheng_deputy", "xinsheng_standing", "xinsheng_member"]
    tasks = {u: only(api, u, "countersign") for u in signers}
    assert complete(api, tasks["xinsheng_standing"]["id"], "xinsheng_standing", {"agree": True}).status_code == 200
    assert roundtrip_all(session) == 1  # part-signed
    session.rollback()
    assert len({t["id"] for t in tasks.values()}) == 4 and all(t["assignee"] == u for u, t in tasks.items())
    r = complete(api, tasks["xinsheng_member"]["id"], "xinsheng_member", {"agree": False})
    assert r.status_code == 422 and [d["field"] for d in r.get_json()["details"]] == ["opinion"]
    for u in [u for u in signers if u != "xinsheng_standing"]:
        data = {"agree": False, "opinion": "证据不足"} if u == "xinsheng_member" else {"agree": True}
        assert complete(api, tasks[u]["id"], u, data).status_code == 200
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    sigs = got["variables"]["signatures"]
    assert [(s["username"], s["agree"], s["opinion"]) for s in sigs] == [
        ("xinsheng_standing", True, ""), ("xinsheng_secretary", True, ""), ("xinsheng_deputy", True, ""),
        ("xinsheng_member", False, "证据不足")]  # in the order signed
    assert got["variables"]["countersign_agreed"] is False  # one refusal
    assert sigs[3]["name"] == "新升实业纪委委员"


def test_sign_any_is_a_completion_condition_that_survives_serialization():
    parser = SanjiBpmnParser()
    parser.add_bpmn_file(str(BPMN / "decision_sign.bpmn"))
    spec, subs = load_specs(dump_specs(parser.get_spec("decision_sign"), {}))
    assert spec.task_specs["anysign"].condition == "True"
    assert spec.task_specs["countersign"].condition is None


def test_any_sign_first_wins_and_the_others_are_cancelled(api, session):
    inst = start(api, "decision_sign")
    for u in ["xinsheng_secretary", "xinsheng_deputy", "xinsheng_standing", "xinsheng_member"]:
        t = only(api, u, "countersign")
        assert complete(api, t["id"], u, {"agree": True}).status_code == 200
    first = only(api, "xinsheng_deputy", "anysign")
    other = only(api, "xinsheng_secretary", "anysign")
    assert [t for t in api.tasks("xinsheng_member") if t["spec_id"] == "anysign"] == []
    assert roundtrip_all(session) == 1
    session.rollback()
    r = complete(api, first["id"], "xinsheng_deputy", {"agree": True, "opinion": "同意"})
    assert r.status_code == 200 and r.get_json()["instance_status"] == "completed"
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert [(s["username"], s["agree"]) for s in got["variables"]["leader_signatures"]] == [("xinsheng_deputy", True)]
    assert got["variables"]["countersign_agreed"] is True and got["variables"]["anysign_agreed"] is True
    assert got["variables"]["leaders"] == ["xinsheng_secretary", "xinsheng_deputy"]  # filled from `signers`
    signed = [(e["actor"], e["payload"]["sign"]) for e in got["decisions"] if e["type"] == "task_signed"]
    assert signed[-1] == ("xinsheng_deputy", "any") and len(signed) == 5
    assert api.get(f"/api/v1/tasks/{other['id']}", "xinsheng_secretary").get_json()["status"] == "cancelled"



def test_a_held_task_left_by_the_process_takes_its_approval_with_it(api, rt, session, clock):
    from datetime import timedelta

    inst = start(api, "decision_approval_timer")
    draft = inst["open_tasks"][0]
    assert complete(api, draft["id"], "xinsheng_member", DRAFT).status_code == 200
    approval = only(api, "xinsheng_secretary", "draft")
    clock.advance(timedelta(days=3))
    assert rt.fire_timers(inst["id"], "scheduler") == 1
    session.commit()
    api.tokens.clear()  # three days later: sign in again
    assert api.get(f"/api/v1/tasks/{draft['id']}", "xinsheng_member").get_json()["status"] == "cancelled"
    assert api.get(f"/api/v1/tasks/{approval['id']}", "xinsheng_secretary").get_json()["status"] == "cancelled"
    got = api.get(f"/api/v1/process-instances/{inst['id']}", "xinsheng_member").get_json()
    assert [t["spec_id"] for t in got["open_tasks"]] == ["escalate"] and "proposal" not in got["variables"]


def test_cc_is_mailed_to_the_people_copied_only_never_to_a_group_robot(api, session, clock, settings):
    from sqlalchemy import select, update

    from engine.models import User
    from engine.platform.models import Outbox
    from engine.platform.notify import collect
    from tests.platform.test_notifications import add_channel

    session.execute(update(User).where(User.username == "xinsheng_laogan").values(email="laogan@xinsheng.example"))
    session.execute(update(User).where(User.username == "xinsheng_member").values(email="member@xinsheng.example"))
    session.commit()
    every = ["task_offered", "task_due_soon", "task_overdue", "task_urged", "escalation"]
    add_channel(api, name="新升纪委邮箱", kind="email", node_id="xinsheng", recipients=["office@xinsheng.example"],
                email_users=True, events=every)
    add_channel(api, name="新升纪检群", kind="wecom", node_id="xinsheng",
                url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", events=every)
    inst = start(api, "decision_cc")
    assert complete(api, inst["open_tasks"][0]["id"], "xinsheng_member", {"person": "张某"}).status_code == 200
    collect(session, clock, settings)
    session.commit()
    before = session.scalar(select(Outbox.id).order_by(Outbox.id.desc()).limit(1)) or 0
    session.rollback()  # end the read: SQLite lets one writer in
    opinion = only(api, "xinsheng_member", "opinion")
    data = {"disposal": "谈话函询", "cc_users": ["xinsheng_laogan"]}
    assert complete(api, opinion["id"], "xinsheng_member", data).status_code == 200
    collect(session, clock, settings)
    session.commit()
    rows = session.execute(select(Outbox.kind, Outbox.recipient).where(Outbox.id > before).order_by(Outbox.id)).all()
    assert ("task_copied", "laogan@xinsheng.example") in rows
    assert [r for r in rows if r[0] == "task_copied"] == [("task_copied", "laogan@xinsheng.example")]
