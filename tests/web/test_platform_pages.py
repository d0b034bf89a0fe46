"""The linkage platform's pages: notifications, channels and outbox, bulletin, study records,
profiles and the leading group — signed in as the demo roles through the login form. Each test
checks content and visibility, that a form posted without its CSRF token is refused, and that bad
input shows a field error and changes nothing."""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from engine.models import EventLog, Record, User
from engine.platform.models import (
    BulletinPost,
    BulletinRead,
    LeadingGroupDecision,
    Notification,
    NotificationChannel,
    Outbox,
    StudyEntry,
)
from tests.conftest import START
from tests.web.conftest import start_report

NOW = __import__("datetime").datetime.fromisoformat(START)


def html(r) -> str:
    return r.get_data(as_text=True)


def badge(page: str, badge_id: str) -> int:
    m = re.search(rf'id="{badge_id}"[^>]*>(\d+)<', page)
    assert m, f"no {badge_id} in the header"
    return int(m.group(1))


def count(reader, model, *where) -> int:
    return reader.scalar(select(func.count()).select_from(model).where(*where))


def user_id(reader, username: str) -> int:
    return reader.scalar(select(User.id).where(User.username == username))


def test_notifications_badge_open_and_read_all(web, report_app, sessions, reader):
    laogan = user_id(reader, "xinsheng_laogan")
    start_report(report_app)
    [task] = report_app.tasks("xinsheng_laogan")
    with sessions() as s:
        s.add(Notification(user_id=laogan, kind="task_urged", source_key="t:0", title="催办：支部报告", body="",
                           link=f"/tasks/{task['id']}", task_id=task["id"], created_at=NOW))
        s.add_all([Notification(user_id=laogan, kind="task_offered", source_key=f"t:{i}", title=f"新待办：月报{i}",
                                body="任务：月报", link=f"/bulletin?n={i}", task_id=None, created_at=NOW)
                   for i in (1, 2)])
        s.add(Notification(user_id=user_id(reader, "xuchang_zongcai"), kind="task_urged", source_key="t:9",
                           title="催办：别人的", body="", link="/tasks/1", created_at=NOW))
        s.commit()
        mine = [n.id for n in s.scalars(select(Notification).where(Notification.user_id == laogan,
                                                                   Notification.kind == "task_offered")
                                        .order_by(Notification.id))]
        other = s.scalar(select(Notification.id).where(Notification.user_id != laogan))
    web.login("xinsheng_laogan")
    page = html(web.get("/notifications"))
    assert badge(page, "note-badge") == 3 and badge(page, "task-badge") == 1
    # opening the task (from the task list, say) marks the notifications about it read
    assert web.get(f"/tasks/{task['id']}").status_code == 200
    page = html(web.get("/notifications"))
    assert badge(page, "note-badge") == 2 and 'data-read="yes"' in page
    assert "新待办：月报1" in page and "别人的" not in page and 'id="channels-link"' not in page
    # opening one marks it read and goes to what it concerns; another's is not found
    r = web.get(f"/notifications/{mine[0]}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/bulletin?n=1")
    assert badge(html(web.get("/notifications")), "note-badge") == 1
    assert web.get(f"/notifications/{other}").status_code == 404
    assert web.get(f"/notifications/{2**63 + 5}").status_code == 404
    # mark all read: refused without the CSRF token, done with it
    assert web.post("/notifications/read-all", csrf=False).status_code == 400
    assert count(reader, Notification, Notification.user_id == laogan, Notification.read_at.is_(None)) == 1
    assert web.post("/notifications/read-all").status_code == 302
    assert badge(html(web.get("/notifications")), "note-badge") == 0
    assert count(reader, Notification, Notification.read_at.is_(None)) == 1  # the other user's


def test_channels_and_outbox_for_secretaries_only(web, reader):
    web.login("xinsheng_laogan")
    assert web.get("/notifications/channels").status_code == 403
    web.logout()
    web.login("xinsheng_secretary")
    page = html(web.get("/notifications/channels"))
    assert 'id="no-channels"' in page and "许厂煤矿纪委" not in page  # only its own committee to choose
    good = {"name": "新升纪检群", "kind": "wecom", "node_id": "xinsheng", "events": ["task_offered", "task_urged"],
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123", "active": "1", "msg_format": "markdown"}
    assert web.post("/notifications/channels", good, csrf=False).status_code == 400
    bad = web.post("/notifications/channels", {**good, "url": "ftp://nope"})
    assert bad.status_code == 422 and 'id="error-url"' in html(bad) and 'value="新升纪检群"' in html(bad)
    bad = web.post("/notifications/channels", {**good, "events": []})
    assert bad.status_code == 422 and 'id="error-events"' in html(bad)
    assert web.post("/notifications/channels", {**good, "node_id": "xuchang"}).status_code == 302  # refused, flashed
    assert count(reader, NotificationChannel) == 0
    assert web.post("/notifications/channels", good).status_code == 302
    ch = reader.scalars(select(NotificationChannel))[0]
    page = html(web.get("/notifications/channels"))
    assert "新升纪检群" in page and "key=abc" not in page  # the robot's key is a credential: never shown
    # edit: blank address keeps it; a bad one is a field error and changes nothing
    assert web.post(f"/notifications/channels/{ch.id}", {"name": "", "events": ["task_offered"], "active": "1"}).status_code == 422
    assert reader.get(NotificationChannel, ch.id).name == "新升纪检群"
    assert web.post(f"/notifications/channels/{ch.id}", {"name": "新升群", "events": ["task_overdue"], "active": "1",
                                                         "msg_format": "text"}).status_code == 302
    changed = reader.get(NotificationChannel, ch.id)
    assert (changed.name, changed.events, changed.url) == ("新升群", ["task_overdue"], good["url"])
    # test send queues a message; retry puts a failed one back
    assert web.post(f"/notifications/channels/{ch.id}/test").status_code == 302
    [row] = reader.scalars(select(Outbox))
    assert row.status == "pending" and row.kind == "test"
    page = html(web.get("/notifications/channels?status=pending"))
    assert f'data-outbox-id="{row.id}"' in page
    web.logout()
    web.login("xuchang_secretary")
    assert web.get(f"/notifications/channels/{ch.id}").status_code == 404
    assert web.post(f"/notifications/outbox/{row.id}/retry").status_code == 302
    assert f'data-outbox-id="{row.id}"' not in html(web.get("/notifications/channels"))


def test_bulletin_post_search_read_receipts(web, reader):
    web.login("xinsheng_laogan")
    form = html(web.get("/bulletin/new"))
    assert 'value="notice"' not in form  # notices are for committees
    assert web.post("/bulletin/new", {"kind": "experience", "title": "x", "body": "y"}, csrf=False).status_code == 400
    bad = web.post("/bulletin/new", {"kind": "experience", "title": " ", "body": "正文"})
    assert bad.status_code == 422 and 'id="error-title"' in html(bad) and "正文" in html(bad)
    bad = web.post("/bulletin/new", {"kind": "notice", "title": "通知", "body": "正文"})
    assert bad.status_code == 403 and 'id="error-kind"' in html(bad)
    assert count(reader, BulletinPost) == 0
    r = web.post("/bulletin/new", {"kind": "experience", "title": "老干家委廉洁家风经验", "body": "每月一次廉洁家访"})
    assert r.status_code == 302
    post_id = reader.scalars(select(BulletinPost.id))[0]
    r = web.post("/bulletin/new", {"kind": "study", "title": "新升内部学习", "body": "只给新升",
                                   "audience_node_id": "xinsheng"})
    unit_post = reader.scalar(select(BulletinPost.id).where(BulletinPost.audience_node_id == "xinsheng"))
    web.logout()

    web.login("xuchang_zongcai")  # another unit: sees the group-wide post, unread, not the unit one
    page = html(web.get("/bulletin"))
    assert badge(page, "bulletin-badge") == 1 and "老干家委廉洁家风经验" in page and "新升内部学习" not in page
    assert web.get(f"/bulletin/{unit_post}").status_code == 404
    assert "老干家委" not in html(web.get("/bulletin?q=家访&kind=study"))
    assert "老干家委" in html(web.get("/bulletin?q=家访&kind=experience"))
    page = html(web.get(f"/bulletin/{post_id}"))
    assert "每月一次廉洁家访" in page and 'id="receipts"' not in page  # commissioners see no receipts
    assert badge(page, "bulletin-badge") == 0
    web.get(f"/bulletin/{post_id}")  # a second reading is one receipt
    assert count(reader, BulletinRead, BulletinRead.post_id == post_id) == 2  # the author's and this one
    web.logout()

    web.login("xuchang_secretary")  # a unit committee: counts per unit, names of its own unit's readers
    page = html(web.get(f"/bulletin/{post_id}"))
    assert 'id="receipts"' in page and 'data-unit="xuchang"' in page and "许厂煤矿综采一区党支部纪律检查委员" in page
    assert "新升实业老干家委党总支纪律检查委员" not in page.split('id="receipts"')[1]
    assert web.post(f"/bulletin/{post_id}/delete").status_code == 302  # not the author: refused
    assert reader.get(BulletinPost, post_id).deleted_at is None


def test_bulletin_edit_by_the_author_only(web, reader):
    web.login("xinsheng_laogan")
    assert web.post("/bulletin/new", {"kind": "experience", "title": "廉洁家风", "body": "每月一次家访"}).status_code == 302
    post_id = reader.scalars(select(BulletinPost.id))[0]
    page = html(web.get(f"/bulletin/{post_id}"))
    assert f'href="/bulletin/{post_id}/edit"' in page
    form = html(web.get(f"/bulletin/{post_id}/edit"))
    assert "每月一次家访" in form and 'value="notice"' not in form  # notices stay for committees
    bad = web.post(f"/bulletin/{post_id}/edit", {"kind": "experience", "title": " ", "body": "改后的正文"})
    assert bad.status_code == 422 and 'id="error-title"' in html(bad) and "改后的正文" in html(bad)
    bad = web.post(f"/bulletin/{post_id}/edit", {"kind": "notice", "title": "通知", "body": "正文"})
    assert bad.status_code == 403 and 'id="error-kind"' in html(bad)
    assert "通知公告只能由集团公司纪委或权属单位纪委发布" in html(bad)  # the engine's message, in the page's language
    bad = web.post(f"/bulletin/{post_id}/edit", {"kind": "gossip", "title": "t", "body": "b"})
    assert bad.status_code == 422 and "请从列出的选项中选择" in html(bad)
    assert web.post(f"/bulletin/{post_id}/edit", {"kind": "study", "title": "廉洁家风"}, csrf=False).status_code == 400
    row = reader.get(BulletinPost, post_id)
    assert (row.kind, row.title, row.body) == ("experience", "廉洁家风", "每月一次家访")  # nothing changed
    r = web.post(f"/bulletin/{post_id}/edit", {"kind": "study", "title": "廉洁家风（修订）", "body": "每月两次家访"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/bulletin/{post_id}")
    row = reader.get(BulletinPost, post_id)
    assert (row.kind, row.title, row.body) == ("study", "廉洁家风（修订）", "每月两次家访")
    assert "信息已修改" in html(web.get(f"/bulletin/{post_id}"))
    [changed] = reader.scalars(select(EventLog).where(EventLog.type == "bulletin_changed"))
    assert changed.payload["before"] == {"kind": "experience", "title": "廉洁家风"}
    web.logout()

    web.login("xinsheng_jidian")  # a reader, not the author: no edit link, the page refuses
    assert f'href="/bulletin/{post_id}/edit"' not in html(web.get(f"/bulletin/{post_id}"))
    assert web.get(f"/bulletin/{post_id}/edit").status_code == 302
    assert web.post(f"/bulletin/{post_id}/edit", {"kind": "work", "title": "x", "body": "y"}).status_code == 302
    assert reader.get(BulletinPost, post_id).title == "廉洁家风（修订）"


def test_study_entries_and_completion_rates(web, reader):
    web.login("xinsheng_laogan")
    page = html(web.get("/study"))
    assert 'id="stats-link"' not in page and 'id="study-form"' in page
    entry = {"day": "2027-01-05", "situation": "走访老干部三户", "knowledge": "", "insight": "廉洁从家风开始"}
    assert web.post("/study", entry, csrf=False).status_code == 400
    bad = web.post("/study", {**entry, "knowledge": "长" * 1001})
    assert bad.status_code == 422 and 'id="error-knowledge"' in html(bad) and "走访老干部三户" in html(bad)
    bad = web.post("/study", {**entry, "day": "2026-12-01"})
    assert bad.status_code == 422 and 'id="error-day"' in html(bad)
    assert web.post("/study", {"day": "2027-01-05"}).status_code == 422
    assert count(reader, StudyEntry) == 0  # all or nothing
    assert web.post("/study", entry).status_code == 302
    page = html(web.get("/study"))
    assert "走访老干部三户" in page and 'data-day="2027-01-05"' in page
    assert re.search(r'id="month-daily-rate">\s*67%', page)  # 2 of 3 on the one day since the account began
    assert web.get("/study/stats").status_code == 403
    web.logout()

    web.login("xinsheng_secretary")
    page = html(web.get("/study/stats"))
    assert 'data-unit="xinsheng"' in page and 'data-unit="xuchang"' not in page and 'data-unit="group"' not in page
    assert 'data-username="xinsheng_laogan"' in page  # its one unit, person by person
    assert web.get("/study/stats?unit=xuchang").status_code == 404
    web.logout()
    web.login("group_member")
    page = html(web.get("/study/stats?year=2027&month=1"))
    assert all(f'data-unit="{u}"' in page for u in ("xinsheng", "xuchang", "daizhuang", "group"))
    assert 'id="people-group"' in page and 'id="people-xinsheng"' not in page  # units' people one unit at a time
    assert 'data-username="xinsheng_laogan"' in html(web.get("/study/stats?unit=xinsheng"))


def test_profile_and_leading_group(web, sessions, reader):
    with sessions() as s:
        s.add(Record(kind="secondment", key="1:xinsheng_laogan", node_id="xinsheng-laogan", unit_id="xinsheng",
                     data={"username": "xinsheng_laogan", "batch_kind": "学习培训", "batch_title": "2027年第一期纪检业务培训",
                           "starts_on": "2027-03-01", "ends_on": "2027-03-03", "place": "集团党校", "status": "attended",
                           "remark": "结业考试优秀", "confirmed": True},
                     created_at=NOW, updated_at=NOW))
        s.commit()
    web.login("xinsheng_laogan")
    page = html(web.get("/people/xinsheng_laogan"))
    assert "2027年第一期纪检业务培训" in page and "结业考试优秀" in page and "老干家委党总支" in page
    assert 'href="/people/xinsheng_laogan"' in page  # the header name links to one's profile
    assert web.get("/people/xinsheng_wuye").status_code == 404
    page = html(web.get("/leading-group"))
    assert "集团公司纪委书记" in html(web.get("/leading-group")) and 'id="decision-form"' not in page
    assert web.post("/leading-group/decisions", {"meeting_date": "2027-01-04", "title": "t", "decisions": "d"}).status_code == 403
    web.logout()

    web.login("group_secretary")
    assert web.get("/people/xinsheng_laogan").status_code == 200
    assert 'id="lg-position"' in html(web.get("/people/group_secretary"))
    ok = {"meeting_date": "2027-01-04", "title": "领导小组第一次会议", "decisions": "一、审议通过第一季度联动任务。",
          "attendees": ["group_secretary", "group_deputy"], "others": ""}
    assert web.post("/leading-group/decisions", ok, csrf=False).status_code == 400
    bad = web.post("/leading-group/decisions", {**ok, "meeting_date": "2027-01-06"})
    assert bad.status_code == 422 and 'id="error-meeting_date"' in html(bad) and "领导小组第一次会议" in html(bad)
    assert "不能晚于今天。" in html(bad)  # the engine's field message, as the page says it
    bad = web.post("/leading-group/decisions", {**ok, "others": "ghost"})
    assert bad.status_code == 422 and 'id="error-attendees"' in html(bad)
    assert count(reader, LeadingGroupDecision) == 0
    assert web.post("/leading-group/decisions", {**ok, "others": "xinsheng_secretary"}).status_code == 302
    page = html(web.get("/leading-group"))
    assert "一、审议通过第一季度联动任务。" in page and "新升实业纪委书记" in page
    assert reader.scalars(select(LeadingGroupDecision.attendees))[0] == ["group_secretary", "group_deputy",
                                                                           "xinsheng_secretary"]
    assert date.fromisoformat("2027-01-04") == reader.scalars(select(LeadingGroupDecision.meeting_date))[0]
