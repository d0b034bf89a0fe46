"""Notifications end to end: events → in-app notifications and outbox rows → real HTTP robots
and a real SMTP server on 127.0.0.1, with retries, signatures and no duplicates."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine.infra import events
from engine.infra.db import write_intent
from engine.models import EventLog, HumanTask, User
from engine.platform.notify import GAP_TTL, collect, dispatch
from engine.platform.models import Notification, NotificationCursor, Outbox
from engine.infra.settings import ROOT
from tests.conftest import BPMN, principal
from tests.platform.servers import SMTPServer, WebhookReceiver

WRITE = "撰写月度书面报告"


@pytest.fixture
def receiver() -> Any:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def smtp() -> Any:
    with SMTPServer() as s:
        yield s


@pytest.fixture
def nsettings(settings: Any, smtp: SMTPServer) -> Any:
    return settings.with_(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="sanji@xinsheng.example",
                          base_url="http://sanji.test", notify_backoff_s=60.0, notify_max_attempts=3)


@pytest.fixture
def app(clean_db: Any, nsettings: Any, clock: Any) -> Any:
    from app import create_app
    from tests.conftest import deploy_forms

    made = create_app(nsettings, clock=clock, engine=clean_db)
    deploy_forms(clean_db, nsettings.forms_dir, clock)  # the app reads deployed forms (issue 15)
    return made


def run(sessions: Any, clock: Any, nsettings: Any) -> dict[str, int]:
    return dispatch(sessions, clock, nsettings)


def add_channel(api: Any, user: str = "admin", **fields: Any) -> dict[str, Any]:
    r = api.post("/api/v1/notification-channels", user, json=fields)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def start_report(api: Any) -> dict[str, Any]:
    assert api.deploy(BPMN / "monthly_report_like.bpmn").status_code == 201
    r = api.post("/api/v1/process-definitions/monthly_report_like/start", "xinsheng_laogan", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_a_new_user_gets_a_wecom_message_when_a_monthly_report_task_is_offered(api, receiver, sessions, clock, nsettings):
    # the unit's secretary sets up the unit's WeCom group robot, as a new user would
    ch = add_channel(api, "xinsheng_secretary", name="新升纪委工作群", kind="wecom", node_id="xinsheng",
                     url=f"{receiver.url}/cgi-bin/webhook/send?key=KEY-123", events=["task_offered"])
    assert ch["url_hint"] == f"{receiver.url}/cgi-bin/webhook/send?…-123" and "KEY" not in str(ch)
    inst = start_report(api)
    [task] = inst["open_tasks"]
    assert run(sessions, clock, nsettings)["sent"] == 1

    [hook] = receiver.requests
    assert hook.path == "/cgi-bin/webhook/send" and hook.query == {"key": "KEY-123"}
    assert hook.headers["Content-Type"] == "application/json; charset=utf-8"
    assert hook.body == {"msgtype": "markdown", "markdown": {"content": "\n".join([
        f"**【三级联动】新待办：{WRITE}**",
        f"> 任务：{WRITE}",
        "> 流程：月度书面报告（测试） · 老干家委党总支",
        "> 办理：老干家委党总支（新升实业老干家委党总支纪律检查委员）",
        "> 截止：2027-01-12 09:00",
        f"[去办理](http://sanji.test/tasks/{task['id']})"])}}

    # in the app: one unread notification for the commissioner, none for others
    assert api.get("/api/v1/notifications/unread-count", "xinsheng_laogan").get_json() == {"unread": 1}
    assert api.get("/api/v1/notifications/unread-count", "xinsheng_secretary").get_json() == {"unread": 0}
    [note] = api.get("/api/v1/notifications", "xinsheng_laogan").get_json()["items"]
    assert (note["kind"], note["title"], note["link"], note["read"]) == (
        "task_offered", f"新待办：{WRITE}", f"/tasks/{task['id']}", False)

    # a second pass sends nothing again and notifies nobody twice
    assert run(sessions, clock, nsettings) == {"events": 0, "notifications": 0, "outbox": 0, "reminders": 0,
                                               "sent": 0, "retry": 0, "failed": 0}
    assert len(receiver.requests) == 1
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 1
        [row] = s.scalars(select(Outbox)).all()
        assert (row.status, row.attempts, row.sent_at) == ("sent", 1, clock.now())


def test_receiver_errors_are_retried_with_backoff_and_sent_once(api, receiver, sessions, clock, nsettings):
    add_channel(api, name="群机器人", kind="wecom", node_id="xinsheng", url=f"{receiver.url}/hook?key=k",
                events=["task_offered"], msg_format="text")
    start_report(api)
    receiver.fail_next(500)
    assert run(sessions, clock, nsettings)["retry"] == 1
    with sessions() as s:
        [row] = s.scalars(select(Outbox)).all()
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500 from the webhook")
        assert row.next_attempt_at == clock.now() + timedelta(seconds=60)
    assert run(sessions, clock, nsettings)["sent"] == 0  # not due yet
    clock.advance(seconds=61)
    receiver.fail_next(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    assert run(sessions, clock, nsettings)["retry"] == 1
    with sessions() as s:
        [row] = s.scalars(select(Outbox)).all()
        assert row.last_error == "the robot refused the message: errcode 45009 api freq out of limit"
        assert row.next_attempt_at == clock.now() + timedelta(seconds=120)  # doubled
    clock.advance(seconds=121)
    assert run(sessions, clock, nsettings)["sent"] == 1
    assert run(sessions, clock, nsettings)["sent"] == 0
    clock.advance(hours=1)
    assert run(sessions, clock, nsettings)["sent"] == 0
    assert len(receiver.requests) == 3
    assert receiver.requests[0].body == receiver.requests[2].body
    assert receiver.requests[2].body["msgtype"] == "text"
    assert receiver.requests[2].body["text"]["content"].startswith(f"【三级联动】新待办：{WRITE}\n任务：{WRITE}\n")


def test_gives_up_after_max_attempts_and_an_admin_retries(api, receiver, sessions, clock, nsettings):
    add_channel(api, name="群机器人", kind="wecom", node_id="xinsheng", url=f"{receiver.url}/hook?key=k",
                events=["task_offered"])
    start_report(api)
    receiver.fail_next(503, times=3)
    for _ in range(3):
        run(sessions, clock, nsettings)
        clock.advance(hours=1)
    [row] = api.get("/api/v1/notification-outbox", "admin").get_json()["items"]
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert api.get("/api/v1/notification-outbox", "xinsheng_secretary").get_json()["total"] == 1
    assert api.get("/api/v1/notification-outbox", "xuchang_secretary").get_json()["total"] == 0
    assert api.post(f"/api/v1/notification-outbox/{row['id']}/retry", "xuchang_secretary").status_code == 404
    r = api.post(f"/api/v1/notification-outbox/{row['id']}/retry", "admin")
    assert r.get_json()["status"] == "pending"
    assert run(sessions, clock, nsettings)["sent"] == 1
    assert api.post(f"/api/v1/notification-outbox/{row['id']}/retry", "admin").status_code == 409
    assert len(receiver.requests) == 4


def test_dingtalk_robot_is_signed(api, receiver, sessions, clock, nsettings):
    add_channel(api, name="钉钉群", kind="dingtalk", node_id="xinsheng", url=f"{receiver.url}/robot/send?access_token=TOK",
                secret="SECabc123", events=["task_offered"])
    inst = start_report(api)
    run(sessions, clock, nsettings)
    [hook] = receiver.requests
    timestamp = str(int(clock.now().timestamp() * 1000))
    expected = base64.b64encode(hmac.new(b"SECabc123", f"{timestamp}\nSECabc123".encode(), hashlib.sha256).digest()).decode()
    assert hook.query == {"access_token": "TOK", "timestamp": timestamp, "sign": expected}
    title = f"【三级联动】新待办：{WRITE}"
    assert hook.body == {"msgtype": "markdown", "markdown": {"title": title, "text": "\n\n".join([
        f"#### {title}", f"> 任务：{WRITE}", "> 流程：月度书面报告（测试） · 老干家委党总支",
        "> 办理：老干家委党总支（新升实业老干家委党总支纪律检查委员）", "> 截止：2027-01-12 09:00",
        f"[去办理](http://sanji.test/tasks/{inst['open_tasks'][0]['id']})"])}}
    ch = api.get("/api/v1/notification-channels", "admin").get_json()["items"][0]
    assert ch["has_secret"] is True and "secret" not in ch


def test_email_to_configured_addresses_and_users_with_retry(api, smtp, sessions, clock, nsettings):
    with write_intent(), sessions() as s:
        s.execute(update(User).where(User.username == "xinsheng_laogan").values(email="laogan@xinsheng.example"))
        s.commit()
    add_channel(api, name="新升纪委邮箱", kind="email", node_id="xinsheng", recipients=["Office@xinsheng.example"],
                email_users=True, events=["task_offered"])
    inst = start_report(api)
    smtp.reject_next()
    result = run(sessions, clock, nsettings)
    assert (result["sent"], result["retry"]) == (1, 1)
    clock.advance(seconds=61)
    assert run(sessions, clock, nsettings)["sent"] == 1
    assert run(sessions, clock, nsettings)["sent"] == 0
    assert sorted(m.rcpt_to[0] for m in smtp.messages) == ["laogan@xinsheng.example", "office@xinsheng.example"]
    mail = smtp.messages[0]
    assert mail.mail_from == "sanji@xinsheng.example"
    assert mail.subject == f"【三级联动】新待办：{WRITE}"
    assert mail.message["From"] == "sanji@xinsheng.example"
    assert mail.text == "\n".join([
        f"任务：{WRITE}", "流程：月度书面报告（测试） · 老干家委党总支",
        "办理：老干家委党总支（新升实业老干家委党总支纪律检查委员）", "截止：2027-01-12 09:00", "",
        f"办理地址：http://sanji.test/tasks/{inst['open_tasks'][0]['id']}", "", "（本邮件由三级联动纪检工作平台自动发送）", ""])


def test_due_soon_and_overdue_are_told_once(api, receiver, sessions, clock, nsettings):
    add_channel(api, name="群", kind="wecom", node_id="xinsheng", url=f"{receiver.url}/h?key=k",
                events=["task_due_soon", "task_overdue"])
    start_report(api)
    assert run(sessions, clock, nsettings)["sent"] == 0  # offered: not a kind this channel takes
    clock.advance(days=6)  # due in 24 h
    for _ in range(2):
        run(sessions, clock, nsettings)
    assert [h.body["markdown"]["content"].splitlines()[0] for h in receiver.requests] == [f"**【三级联动】即将到期：{WRITE}**"]
    clock.advance(days=1, seconds=1)
    for _ in range(2):
        run(sessions, clock, nsettings)
    assert receiver.requests[-1].body["markdown"]["content"].splitlines()[0] == f"**【三级联动】已逾期：{WRITE}**"
    assert len(receiver.requests) == 2
    api.tokens.clear()  # a week later: sign in again
    kinds = [n["kind"] for n in api.get("/api/v1/notifications", "xinsheng_laogan").get_json()["items"]]
    assert sorted(kinds) == ["task_due_soon", "task_offered", "task_overdue"]


def test_a_task_offered_inside_its_last_day_gets_no_due_soon_reminder(api, sessions, clock, nsettings):
    start_report(api)
    [t] = api.tasks("xinsheng_laogan")
    api.post(f"/api/v1/tasks/{t['id']}/complete", "xinsheng_laogan", json={"data": {"comment": "本月无异常"}})
    with write_intent(), sessions() as s:
        review = s.scalars(select(HumanTask).where(HumanTask.status == "open")).one()
        review.created_at = review.due_at - timedelta(hours=20)  # offered 20 h before its deadline
        s.commit()
        clock.set(review.due_at - timedelta(hours=10))
    run(sessions, clock, nsettings)
    kinds = [n["kind"] for n in api.get("/api/v1/notifications", "xinsheng_secretary").get_json()["items"]]
    assert kinds == ["task_offered"]
    clock.advance(hours=11)
    run(sessions, clock, nsettings)
    kinds = [n["kind"] for n in api.get("/api/v1/notifications", "xinsheng_secretary").get_json()["items"]]
    assert kinds == ["task_overdue", "task_offered"]


def test_urge_and_escalation(api, receiver, session, sessions, clock, nsettings):
    add_channel(api, name="集团纪委群", kind="wecom", node_id="group", url=f"{receiver.url}/g?key=g",
                events=["escalation", "task_urged"], cover_subtree=True)
    add_channel(api, name="新升群", kind="wecom", node_id="xinsheng", url=f"{receiver.url}/x?key=x",
                events=["task_offered"])
    start_report(api)
    [t] = api.tasks("xinsheng_laogan")
    run(sessions, clock, nsettings)
    assert [h.path for h in receiver.requests] == ["/x"]
    # 催办 by the unit secretary, as the task actions log it
    events.log(session, clock.now(), "task_urged", instance_id=t["instance_id"], task_id=t["id"],
               actor=principal(session, "xinsheng_secretary"),
               payload={"name": WRITE, "message": "请于本周五前报送", "to": ["xinsheng_laogan"], "overdue": False})
    session.commit()
    run(sessions, clock, nsettings)
    hook = receiver.requests[-1]
    assert hook.path == "/g"  # the group's channel covers the subtree for urges
    assert hook.body["markdown"]["content"].splitlines()[0] == f"**【三级联动】催办：{WRITE}**"
    assert hook.body["markdown"]["content"].splitlines()[-3:-1] == ["> 催办人：新升实业纪委书记", "> 催办意见：请于本周五前报送"]
    [urge] = [n for n in api.get("/api/v1/notifications", "xinsheng_laogan").get_json()["items"] if n["kind"] == "task_urged"]
    assert "催办意见：请于本周五前报送" in urge["body"]

    api.post(f"/api/v1/tasks/{t['id']}/complete", "xinsheng_laogan", json={"data": {"comment": "发现重大问题"}})
    [review] = api.tasks("xinsheng_secretary")
    api.post(f"/api/v1/tasks/{review['id']}/complete", "xinsheng_secretary",
             json={"data": {"comment": "逐级上报", "approved": True}})
    run(sessions, clock, nsettings)
    # the review was offered and done between two passes: nobody is told about it any more
    assert [h.path for h in receiver.requests] == ["/x", "/g", "/g"]
    assert receiver.requests[-1].body["markdown"]["content"].splitlines()[0] == "**【三级联动】逐级上报：重大问题逐级上报**"
    for user in ("group_secretary", "group_deputy", "group_standing", "group_member"):
        items = api.get("/api/v1/notifications", user).get_json()["items"]
        assert [(n["kind"], n["title"]) for n in items] == [("escalation", "逐级上报：重大问题逐级上报")]


def test_completed_tasks_are_not_notified_and_nothing_is_lost_across_gaps(session, clock, nsettings, rt, forms):
    from tests.conftest import deploy_file

    deploy_file(session, BPMN / "monthly_report_like.bpmn", forms, clock)
    laogan = principal(session, "xinsheng_laogan")
    rt.start("monthly_report_like", {"branch_id": "xinsheng-laogan", "unit_id": "xinsheng"}, laogan)
    session.commit()
    [t] = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
    rt.complete(t.id, {"comment": "已报"}, laogan)  # done before the notifier looked
    session.commit()
    collect(session, clock, nsettings)
    session.commit()
    notified = session.scalars(select(User.username).join(Notification, Notification.user_id == User.id)).all()
    assert sorted(notified) == ["xinsheng_deputy", "xinsheng_member", "xinsheng_secretary", "xinsheng_standing"]

    # an event id becomes visible after a later one was read (concurrent commits on PostgreSQL)
    [review] = session.scalars(select(HumanTask).where(HumanTask.status == "open")).all()
    last = session.scalar(select(func.max(EventLog.id)))
    session.add(EventLog(id=last + 5, at=clock.now(), type="logout", actor="x", payload={}))
    session.commit()
    collect(session, clock, nsettings)
    session.commit()
    cursor = session.get(NotificationCursor, "event_log")
    assert cursor.last_event_id == last + 5 and sorted(map(int, cursor.gaps)) == [last + i for i in range(1, 5)]
    # the late event: an urge of the review, committed with an id below the cursor
    session.add(EventLog(id=last + 2, at=clock.now(), type="task_urged", task_id=review.id, instance_id=review.instance_id,
                         actor="group_secretary", payload={"to": ["xinsheng_deputy"], "message": "请审阅"}))
    session.commit()
    collect(session, clock, nsettings)
    session.commit()
    late = session.scalars(select(Notification).where(Notification.source_key == f"ev:{last + 2}")).all()
    assert [(n.kind, n.user_id) for n in late] == [("task_urged", principal(session, "xinsheng_deputy").id)]
    assert sorted(map(int, session.get(NotificationCursor, "event_log").gaps)) == [last + 1, last + 3, last + 4]
    clock.advance(GAP_TTL + timedelta(seconds=1))
    collect(session, clock, nsettings)
    session.commit()
    assert session.get(NotificationCursor, "event_log").gaps == {}


def test_notifications_api_unread_first_and_marking_read(api, sessions, clock, nsettings):
    start_report(api)
    run(sessions, clock, nsettings)
    [t] = api.tasks("xinsheng_laogan")
    api.post(f"/api/v1/tasks/{t['id']}/complete", "xinsheng_laogan", json={"data": {"comment": "ok"}})
    [review] = api.tasks("xinsheng_secretary")
    api.post(f"/api/v1/tasks/{review['id']}/complete", "xinsheng_secretary", json={"data": {"comment": "ok", "approved": False}})
    api.post("/api/v1/process-definitions/monthly_report_like/start", "xinsheng_laogan", json={"variables": {}})
    run(sessions, clock, nsettings)
    items = api.get("/api/v1/notifications", "xinsheng_laogan").get_json()["items"]
    assert len(items) == 2
    first = items[1]["id"]  # the older one
    r = api.post(f"/api/v1/notifications/{first}/read", "xinsheng_laogan")
    assert r.status_code == 200 and r.get_json()["read"] is True
    items = api.get("/api/v1/notifications", "xinsheng_laogan").get_json()["items"]
    assert [n["read"] for n in items] == [False, True]
    assert api.get("/api/v1/notifications?unread=true", "xinsheng_laogan").get_json()["total"] == 1
    assert api.post(f"/api/v1/notifications/{first}/read", "xinsheng_wuye").status_code == 404
    assert api.get("/api/v1/notifications?unread=maybe", "xinsheng_laogan").status_code == 422
    r = api.post("/api/v1/notifications/read-all", "xinsheng_laogan", json={"task_id": 999})
    assert r.get_json() == {"marked": 0, "unread": 1}
    r = api.post("/api/v1/notifications/read-all", "xinsheng_laogan", json={})
    assert r.get_json() == {"marked": 1, "unread": 0}
    assert api.get("/api/v1/notifications/unread-count").status_code == 401


def test_channel_administration_rules(api, receiver):
    url = f"{receiver.url}/h?key=secretkey"
    ok = dict(name="群", kind="wecom", url=url, events=["task_offered"])
    assert api.post("/api/v1/notification-channels", "xinsheng_secretary", json={**ok, "node_id": "xuchang"}).status_code == 403
    assert api.post("/api/v1/notification-channels", "xinsheng_member", json={**ok, "node_id": "xinsheng"}).status_code == 403
    r = api.post("/api/v1/notification-channels", "admin", json={**ok, "node_id": "xinsheng-laogan"})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "node_id"
    for bad, field_ in (({"events": ["task_offered", "nonsense"]}, "events"), ({"url": "ftp://x"}, "url"),
                        ({"secret": "s"}, "secret"), ({"kind": "sms"}, "kind"), ({"name": ""}, "name"),
                        ({"colour": "red"}, "colour")):
        r = api.post("/api/v1/notification-channels", "admin", json={**ok, "node_id": "xinsheng", **bad})
        assert r.status_code == 422 and r.get_json()["details"][0]["field"] == field_, bad
    r = api.post("/api/v1/notification-channels", "admin", json={"name": "邮件", "kind": "email", "node_id": "group",
                                                                  "recipients": ["not-an-address"], "events": ["task_overdue"]})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "recipients"
    mine = add_channel(api, "xinsheng_deputy", **ok, node_id="xinsheng")
    theirs = add_channel(api, "admin", **ok, node_id="xuchang")
    assert [c["id"] for c in api.get("/api/v1/notification-channels", "xinsheng_secretary").get_json()["items"]] == [mine["id"]]
    assert api.get(f"/api/v1/notification-channels/{theirs['id']}", "xinsheng_secretary").status_code == 404
    r = api.call("PATCH", f"/api/v1/notification-channels/{mine['id']}", "xinsheng_secretary",
                 json={"events": ["task_overdue"], "active": False})
    assert r.status_code == 200 and (r.get_json()["events"], r.get_json()["active"]) == (["task_overdue"], False)
    r = api.call("PATCH", f"/api/v1/notification-channels/{mine['id']}", "xinsheng_secretary", json={"kind": "email"})
    assert r.status_code == 422
    r = api.post(f"/api/v1/notification-channels/{mine['id']}/test", "xinsheng_secretary")
    assert r.status_code == 202 and r.get_json()["queued"][0]["payload"]["markdown"]["content"].startswith("**【三级联动】测试消息")
    assert api.call("DELETE", f"/api/v1/notification-channels/{theirs['id']}", "xinsheng_secretary").status_code == 404
    assert api.call("DELETE", f"/api/v1/notification-channels/{mine['id']}", "xinsheng_secretary").status_code == 200
    assert api.get("/api/v1/notification-outbox", "admin").get_json()["total"] == 0  # its queue went with it


def test_cli_runs_one_pass(app, api, receiver):
    add_channel(api, name="群", kind="wecom", node_id="xinsheng", url=f"{receiver.url}/h?key=k", events=["task_offered"])
    start_report(api)
    result = app.test_cli_runner().invoke(args=["notify-dispatch"])
    assert result.exit_code == 0, result.output
    assert '"sent": 1' in result.output and '"notifications": 1' in result.output
    assert len(receiver.requests) == 1


def test_dispatch_never_raises_and_the_cursor_stays_put_on_failure(api, receiver, sessions, clock, nsettings, caplog):
    add_channel(api, name="群", kind="wecom", node_id="xinsheng", url=f"{receiver.url}/h?key=k", events=["task_offered"])
    start_report(api)

    def broken() -> Any:
        raise RuntimeError("database went away")

    result = dispatch(broken, clock, nsettings)  # type: ignore[arg-type]
    assert result["errors"] == 2 and result["sent"] == 0
    assert "collecting notifications failed" in caplog.text
    assert run(sessions, clock, nsettings)["sent"] == 1  # nothing was lost
    assert len(receiver.requests) == 1


MONTHLY_REPORT = ROOT / "processes" / "monthly_report.bpmn"


@pytest.mark.skipif(not MONTHLY_REPORT.exists(), reason="processes/monthly_report.bpmn comes with the procedures branch")
def test_the_real_monthly_report_offer_reaches_the_units_wecom_robot(api, receiver, session, sessions, clock, nsettings, forms):
    """The issue's check on the built-in procedure: the month's report tasks are offered to the
    branch commissioners, and the unit's WeCom group robot hears of each of its branches."""
    from engine.core import repository
    from engine.core.runtime import Runtime

    add_channel(api, "xinsheng_secretary", name="新升纪委工作群", kind="wecom", node_id="xinsheng",
                url=f"{receiver.url}/cgi-bin/webhook/send?key=K", events=["task_offered"])
    repository.deploy(session, MONTHLY_REPORT.read_bytes(), MONTHLY_REPORT.name, "owner", clock.now(), forms, 5 << 20)
    session.commit()
    Runtime(session, clock, nsettings, forms).start("monthly_report", {}, None, start_event="start_timer")  # the 1st, 09:00
    session.commit()
    assert run(sessions, clock, nsettings)["sent"] == 3
    firsts = {h.body["markdown"]["content"].splitlines()[0] for h in receiver.requests}
    assert firsts == {"**【三级联动】新待办：撰写月度书面报告**"}
    handlers = sorted(line for h in receiver.requests for line in h.body["markdown"]["content"].splitlines()
                      if line.startswith("> 办理："))
    assert handlers == ["> 办理：机电维修车间党支部（新升实业机电维修车间党支部纪律检查委员）",
                        "> 办理：物业服务中心党支部（新升实业物业服务中心党支部纪律检查委员）",
                        "> 办理：老干家委党总支（新升实业老干家委党总支纪律检查委员）"]
    assert api.get("/api/v1/notifications/unread-count", "xinsheng_laogan").get_json() == {"unread": 1}


def _copies_of(session: Any, task: HumanTask) -> list[int]:
    """Copies of `task` on every org node, tier and a few candidate-role lists (rows only)."""
    from engine.models import OrgNode

    combos = [
        (n.id, tier, roles)
        for n in session.scalars(select(OrgNode))
        for tier in {"group": ["group"], "unit": ["unit", "department"], "branch": ["branch"]}[n.tier]
        for roles in (None, ",secretary,", ",deputy_secretary,member,", ",commissioner,")
    ]
    ids = []
    for i, (node, tier, roles) in enumerate(combos):
        copy = HumanTask(**{c.key: getattr(task, c.key) for c in HumanTask.__table__.columns if c.key != "id"})
        copy.task_guid, copy.node_id, copy.tier, copy.candidate_roles = f"copy-{i}", node, tier, roles
        session.add(copy)
        session.flush()
        ids.append(copy.id)
    return ids


def test_a_pass_finds_the_same_candidates_as_routing_for_every_node_tier_and_role_list(session, clock, rt, forms):
    from engine.org.routing import candidates
    from engine.platform.notify.messages import known_for
    from tests.conftest import deploy_file

    deploy_file(session, BPMN / "monthly_report_like.bpmn", forms, clock)
    rt.start(
        "monthly_report_like",
        {"branch_id": "xinsheng-laogan", "unit_id": "xinsheng"},
        principal(session, "xinsheng_laogan"),
    )
    session.get(User, principal(session, "xinsheng_member").id).active = False  # an inactive holder is left out
    [task] = session.scalars(select(HumanTask)).all()
    ids = _copies_of(session, task)
    session.commit()
    known = known_for(session, ids)
    compared = nonempty = 0
    for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids))):
        expected = [u.username for u in candidates(session, t)]
        assert [u.username for u in known.candidates(t) or []] == expected, (t.node_id, t.tier, t.candidate_roles)
        compared += 1
        nonempty += bool(expected)
    assert compared == len(ids) > 50 and nonempty > 10
    assert "xinsheng_member" not in {u.username for users in known.holders.values() for _r, u in users}


def test_a_pass_costs_as_many_statements_for_many_new_tasks_as_for_one(session, clock, rt, forms, nsettings, db_engine):
    from sqlalchemy import event

    from engine.org import confidential
    from tests.conftest import deploy_file

    deploy_file(session, BPMN / "monthly_report_like.bpmn", forms, clock)
    session.commit()
    collect(session, clock, nsettings)
    session.commit()
    counts = []
    # the first pass may read the deployed forms' confidential keys: the second and third compare
    for branches in (["xinsheng-laogan"], ["xinsheng-laogan"], ["xinsheng-jidian", "xinsheng-wuye", "xinsheng-laogan"]):
        for b in branches:
            rt.start(
                "monthly_report_like", {"branch_id": b, "unit_id": "xinsheng"}, principal(session, b.replace("-", "_"))
            )
        session.commit()
        seen: list[str] = []
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(db_engine, "before_cursor_execute", listener)
        try:
            with confidential.one_reading():  # as `dispatch` runs a pass: the confidential keys read once
                made = collect(session, clock, nsettings)
            session.commit()
        finally:
            event.remove(db_engine, "before_cursor_execute", listener)
        assert (made["events"], made["notifications"]) == (len(branches), len(branches))  # the commissioner each
        counts.append(len(seen))
    assert counts[1] == counts[2], counts
