"""Who reads a bound attachment (issue 16): the visibility matrix of an attachment bound to a
branch's monthly-report task × every demo user, and binding through a completed form (fields of
`"format": "attachment"`, at any depth), confidential fields and records, refused ids."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.extensions import state
from engine.infra.db import write_intent
from engine.models import EventLog, HumanTask, Record
from engine.org.demo import demo_users
from engine.platform.attachments import service
from engine.platform.attachments.models import Attachment, AttachmentLink
from tests.conftest import BPMN
from tests.platform import attachment_files as F
from tests.platform.attachment_files import upload
from tests.procedures.conftest import PROCESSES

ALL_USERS = [u for u, _d, _r, _n in demo_users()]
KEYS = ["monthly_report", "monthly_report_branch", "monthly_report_finding"]


def bind(sc: Any, att_id: str, targets: list[tuple[str, int]], confidential: bool = False) -> None:
    st = state(sc.app)
    with write_intent(), st.sessions() as s:
        service.bind(s, [att_id], targets, None, sc.clock.now(), confidential=confidential)
        s.commit()


def readers(sc: Any, att_id: str) -> set[str]:
    out = set()
    for user in ALL_USERS:
        code = sc.api.get(f"/api/v1/attachments/{att_id}", user).status_code
        assert code in (200, 404), (user, code)
        if code == 200:
            out.add(user)
    return out


def test_matrix_of_a_monthly_report_attachment(sc, clock):
    clock.set("2027-01-01T09:00:00+08:00")
    sc.deploy(PROCESSES / "monthly_report.bpmn", KEYS)
    sc.deploy_catcher()
    sc.start_timer("monthly_report")
    writes = sc.expect("write_report", "branch", ["xinsheng-laogan", "xinsheng-wuye", "xinsheng-jidian",
                                                   "xuchang-zongcai", "xuchang-juejin", "xuchang-tongfeng",
                                                   "daizhuang-caimei", "daizhuang-yunshu", "daizhuang-jidian"])
    for user in ALL_USERS:  # the admin, auditor and security administrator sign in too
        sc.api.token(user)
    task = writes["xinsheng-laogan"]
    att = upload(sc.api, "xinsheng_laogan", F.JPEG, "考勤表照片.jpg")
    sc.complete(task, "xinsheng_laogan", {"summary": "本月监督工作情况正常。", "findings": []})
    bind(sc, att["id"], [("task", task["id"]), ("instance", task["instance_id"])])

    # the oracle: the task's and the instance's own rules, through their own endpoints
    may_see = {u for u in ALL_USERS
               if sc.api.get(f"/api/v1/tasks/{task['id']}", u).status_code == 200
               or sc.api.get(f"/api/v1/process-instances/{task['instance_id']}", u).status_code == 200}
    assert readers(sc, att["id"]) == may_see
    # and what that means: the branch, its unit committee, the group committee, the admin (the
    # content is not confidential) — nobody of another branch or unit, no auditor, no owner
    assert {"xinsheng_laogan", "xinsheng_secretary", "xinsheng_member", "group_secretary", "group_member",
            "admin"} <= may_see
    assert not may_see & {"xinsheng_wuye", "xinsheng_jidian", "xuchang_secretary", "xuchang_zongcai",
                          "daizhuang_secretary", "auditor", "security_admin", "owner"}

    # bound confidentially (a clue's letter): the same people, but never a redacted reader
    secret = upload(sc.api, "xinsheng_laogan", F.PDF, "举报信.pdf")
    bind(sc, secret["id"], [("task", task["id"]), ("instance", task["instance_id"])], confidential=True)
    assert readers(sc, secret["id"]) == may_see - {"admin"}


def start_report(api: Any) -> dict[str, Any]:
    assert api.deploy(BPMN / "attachment_report.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/attachment_report/start", "xinsheng_laogan",
                 json={"variables": {"branch_id": "xinsheng-laogan"}})
    assert r.status_code == 201, r.get_json()
    [task] = api.tasks("xinsheng_laogan", status="open")
    return task


def links(sessions: Any, att_id: str) -> list[tuple[str, int]]:
    with sessions() as s:
        return sorted((k, t) for k, t in s.execute(select(AttachmentLink.kind, AttachmentLink.target_id)
                                                   .where(AttachmentLink.attachment_id == att_id)))


def test_completion_binds_the_form_attachments(api, sessions, clock):
    task = start_report(api)
    photo = upload(api, "xinsheng_laogan", F.PNG, "现场照片.png")
    table = upload(api, "xinsheng_laogan", F.XLSX, "统计表.xlsx")
    nested = upload(api, "xinsheng_laogan", F.JPEG, "问题照片.jpg")
    theirs = upload(api, "xinsheng_wuye", F.PDF, "别人的.pdf")
    url = f"/api/v1/tasks/{task['id']}/complete"

    # refused ids: 422 naming the field, nothing bound, the task still open
    for data, field in (
        ({"evidence": [photo["id"], "nosuchid"]}, "evidence/1"),
        ({"evidence": [photo["id"], theirs["id"]]}, "evidence/1"),  # someone else's unbound upload
        ({"findings": [{"title": "t", "photos": [theirs["id"]]}]}, "findings/0/photos/0"),
        ({"evidence": [""]}, "evidence/0"),
    ):
        r = api.post(url, "xinsheng_laogan", json={"data": {"summary": "情况", "secret": False, **data}})
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["details"][0]["field"] == field
    assert links(sessions, photo["id"]) == []
    assert [t["id"] for t in api.tasks("xinsheng_laogan", status="open")] == [task["id"]]

    r = api.post(url, "xinsheng_laogan", json={"data": {
        "summary": "情况", "secret": False, "evidence": [photo["id"], table["id"]],
        "findings": [{"title": "考勤代签", "photos": [nested["id"]]}]}})
    assert r.status_code == 200, r.get_json()
    with sessions() as s:
        record = s.scalars(select(Record).where(Record.kind == "attachment_test")).one()
        bound = s.scalars(select(EventLog).where(EventLog.type == "attachments_bound")).one()
    expected = sorted([("instance", task["instance_id"]), ("record", record.id), ("task", task["id"])])
    for att in (photo, table, nested):
        assert links(sessions, att["id"]) == expected
    assert (bound.actor, bound.task_id, bound.payload["records"]) == ("xinsheng_laogan", task["id"], [record.id])
    assert sorted(bound.payload["attachment_ids"]) == sorted([photo["id"], table["id"], nested["id"]])

    # readable by the unit committee (the review task, the instance, the record) and the group;
    # not by another branch or unit; the admin reads it (nothing confidential about it)
    for user, code in (("xinsheng_secretary", 200), ("group_member", 200), ("admin", 200),
                       ("xinsheng_wuye", 404), ("xuchang_secretary", 404), ("auditor", 404)):
        assert api.get(f"/api/v1/attachments/{photo['id']}", user).status_code == code, user
    # each download is an event of the instance and the task the file is bound to
    with sessions() as s:
        seen = [(e.actor, e.instance_id, e.task_id) for e in s.scalars(
            select(EventLog).where(EventLog.type == "attachment_downloaded").order_by(EventLog.id))]
    assert seen == [(u, task["instance_id"], task["id"]) for u in ("xinsheng_secretary", "group_member", "admin")]
    # bound attachments survive the purge; the other user's unbound upload does not
    clock.advance(days=2)
    with write_intent(), sessions() as s:
        assert service.purge_unbound(s, clock.now()) == 1
        s.commit()
        assert s.get(Attachment, photo["id"]) is not None and s.get(Attachment, theirs["id"]) is None


def test_confidential_field_or_record_hides_from_the_admin(api, sessions):
    task = start_report(api)
    letter = upload(api, "xinsheng_laogan", F.PDF, "举报信.pdf")
    photo = upload(api, "xinsheng_laogan", F.PNG, "照片.png")
    r = api.post(f"/api/v1/tasks/{task['id']}/complete", "xinsheng_laogan", json={"data": {
        "summary": "情况", "secret": False, "attachment_test_letter": letter["id"], "evidence": [photo["id"]]}})
    assert r.status_code == 200, r.get_json()
    with sessions() as s:
        assert [(a.name, a.confidential) for a in s.scalars(select(Attachment).order_by(Attachment.name))] == [
            ("举报信.pdf", True), ("照片.png", False)]
    assert api.get(f"/api/v1/attachments/{letter['id']}", "admin").status_code == 404
    assert api.get(f"/api/v1/attachments/{photo['id']}", "admin").status_code == 200
    r = api.get(f"/api/v1/attachments/{letter['id']}", "xinsheng_secretary")
    assert (r.status_code, r.data) == (200, F.PDF)

    # a confidential record written by the completion makes all its attachments confidential
    api.tokens.pop("xinsheng_laogan")
    r = api.post("/api/v1/process-definitions/attachment_report/start", "xinsheng_laogan",
                 json={"variables": {"branch_id": "xinsheng-laogan"}})
    with sessions() as s:
        second = s.scalars(select(HumanTask).where(HumanTask.instance_id == r.get_json()["id"])).one()
    doc = upload(api, "xinsheng_laogan", F.DOCX, "核实材料.docx")
    r = api.post(f"/api/v1/tasks/{second.id}/complete", "xinsheng_laogan", json={"data": {
        "summary": "情况", "secret": True, "evidence": [doc["id"]]}})
    assert r.status_code == 200, r.get_json()
    assert api.get(f"/api/v1/attachments/{doc['id']}", "admin").status_code == 404
    assert api.get(f"/api/v1/attachments/{doc['id']}", "group_secretary").status_code == 200
