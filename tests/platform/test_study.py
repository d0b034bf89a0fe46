"""Study records (四个一): daily entries, the monthly_article process with assigneeVariable,
completion rates by unit, and the figures kept for the year-end assessment."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.core import repository
from engine.models import HumanTask, ProcessInstance, Record, User
from engine.infra.settings import ROOT
from tests.conftest import principal

ARTICLE = "本月学习了党章和纪律处分条例，结合本单位实际，体会到监督工作必须前移，做到早发现、早提醒、早纠正，把问题解决在萌芽状态。"


def deploy_article(session: Any, forms: Any, clock: Any) -> None:
    """processes/monthly_article.bpmn: a cron timer start (1st of the month, 09:00; fired by the
    scheduler) and a plain start for asking by hand, which these tests use."""
    xml = (ROOT / "processes" / "monthly_article.bpmn").read_text(encoding="utf-8")
    assert "<bpmn:timeCycle>0 9 1 * *</bpmn:timeCycle>" in xml
    repository.deploy(session, xml, "monthly_article.bpmn", "owner", clock.now(), forms, 5 << 20)
    session.commit()


def open_tasks(session: Any) -> list[HumanTask]:
    return list(session.scalars(select(HumanTask).where(HumanTask.status == "open").order_by(HumanTask.id)))


def test_monthly_article_asks_every_inspector_personally(session, rt, forms, clock):
    deploy_article(session, forms, clock)
    inst = rt.start("monthly_article", {}, principal(session, "group_secretary"))
    session.commit()
    tasks = open_tasks(session)
    users = {u.id: u.username for u in session.scalars(select(User))}
    by_user = {users[t.assignee_id]: t for t in tasks}
    # 4 group committee members, 4 committee members in each of 3 units, 9 branch commissioners
    assert len(tasks) == len(by_user) == 25
    assert "xinsheng_dept" not in by_user and "admin" not in by_user
    assert (by_user["group_standing"].tier, by_user["group_standing"].node_id) == ("group", "group")
    assert (by_user["xuchang_member"].tier, by_user["xuchang_member"].node_id) == ("unit", "xuchang")
    laogan = by_user["xinsheng_laogan"]
    assert (laogan.tier, laogan.node_id, laogan.unit_id) == ("branch", "xinsheng-laogan", "xinsheng")
    assert laogan.due_at.isoformat() == "2027-01-31T15:59:59+00:00"  # end of January, Beijing time
    # personal: a colleague on the same node can neither act on it nor is it offered to them
    with pytest.raises(Exception):
        rt.complete(by_user["xinsheng_member"].id, {"title": "t", "body": ARTICLE}, principal(session, "xinsheng_deputy"))
    session.rollback()

    rt.complete(laogan.id, {"title": "监督前移的体会", "body": ARTICLE}, principal(session, "xinsheng_laogan"))
    session.commit()
    rec = session.scalars(select(Record).where(Record.kind == "study_article", Record.key == "2027-01:xinsheng_laogan")).one()
    assert (rec.node_id, rec.unit_id) == ("xinsheng-laogan", "xinsheng")
    assert {k: rec.data[k] for k in ("status", "title", "on_time", "period", "due")} == {
        "status": "submitted", "title": "监督前移的体会", "on_time": True, "period": "2027-01", "due": "2027-01-31"}
    asked = session.scalars(select(Record).where(Record.kind == "study_article", Record.key == "2027-01:xuchang_member")).one()
    assert asked.data["status"] == "asked"

    # asked again in the same month (by hand): nobody is asked twice
    again = rt.start("monthly_article", {}, principal(session, "group_secretary"))
    session.commit()
    assert len(open_tasks(session)) == 24 and again.status == "completed"
    for t in open_tasks(session):
        rt.complete(t.id, {"title": "学习体会", "body": ARTICLE}, principal(session, users[t.assignee_id]))
        session.commit()
    session.refresh(inst)
    assert inst.status == "completed"


def test_assignee_variable_needs_a_role_on_the_node(session, rt, forms, clock):
    deploy_article(session, forms, clock)
    inspector = {"username": "xuchang_member", "display_name": "x", "tier": "unit", "node_id": "xinsheng", "unit_id": "xinsheng"}
    inst = rt.start("monthly_article_write", {"inspector": inspector, "period": "2027-01", "due": "2027-01-31"}, None)
    session.commit()
    assert inst.status == "error"
    assert "assigneeVariable: xuchang_member holds no unit role on xinsheng" in inst.error_message
    inspector = {**inspector, "username": "nobody"}
    inst = rt.start("monthly_article_write", {"inspector": inspector, "period": "2027-01", "due": "2027-01-31"}, None)
    session.commit()
    assert inst.status == "error" and "'nobody' is not an active user" in inst.error_message
    assert open_tasks(session) == []


def test_daily_entries_api(api, clock):
    r = api.post("/api/v1/study/entries", "xinsheng_laogan", json={"kind": "situation", "text": "了解本区队工资分配公示情况"})
    assert r.status_code == 201
    assert {k: r.get_json()[k] for k in ("kind", "kind_name", "day", "username")} == {
        "kind": "situation", "kind_name": "每日明一情", "day": "2027-01-05", "username": "xinsheng_laogan"}
    r = api.post("/api/v1/study/entries", "xinsheng_laogan", json={"kind": "situation", "text": "改写：公示无异常"})
    assert r.status_code == 200 and r.get_json()["text"] == "改写：公示无异常"
    for bad, field_ in (({"kind": "gossip", "text": "x"}, "kind"), ({"kind": "insight", "text": "  "}, "text"),
                        ({"kind": "insight", "text": "长" * 1001}, "text"),
                        ({"kind": "insight", "text": "x", "day": "2027-01-06"}, "day"),
                        ({"kind": "insight", "text": "x", "day": "2026-12-28"}, "day"),
                        ({"kind": "insight", "text": "x", "day": "5 Jan"}, "day"),
                        ({"kind": "insight", "text": "x", "mood": "good"}, "mood")):
        r = api.post("/api/v1/study/entries", "xinsheng_laogan", json=bad)
        assert r.status_code == 422 and r.get_json()["details"][0]["field"] == field_, bad
    assert api.post("/api/v1/study/entries", "xinsheng_laogan",
                    json={"kind": "knowledge", "text": "补记", "day": "2026-12-29"}).status_code == 201
    items = api.get("/api/v1/study/entries", "xinsheng_laogan").get_json()["items"]
    assert [(e["day"], e["kind"]) for e in items] == [("2027-01-05", "situation"), ("2026-12-29", "knowledge")]
    # the unit committee and the group see their people; another unit does not (404)
    assert api.get("/api/v1/study/entries?username=xinsheng_laogan", "xinsheng_member").get_json()["total"] == 2
    assert api.get("/api/v1/study/entries?username=xinsheng_laogan&from=2027-01-01", "group_member").get_json()["total"] == 1
    assert api.get("/api/v1/study/entries?username=xinsheng_laogan", "xuchang_secretary").status_code == 404
    assert api.get("/api/v1/study/entries?username=xinsheng_laogan", "xinsheng_wuye").status_code == 404
    assert api.get("/api/v1/study/entries?username=ghost", "group_secretary").status_code == 404


def test_completion_rates_by_unit_and_for_the_group(api, session, rt, forms, clock):
    for kind in ("situation", "knowledge", "insight"):
        assert api.post("/api/v1/study/entries", "xinsheng_laogan", json={"kind": kind, "text": "今日" + kind}).status_code == 201
    api.post("/api/v1/study/entries", "group_member", json={"kind": "insight", "text": "感悟"})
    deploy_article(session, forms, clock)
    rt.start("monthly_article", {}, principal(session, "group_secretary"))
    session.commit()
    [t] = [t for t in open_tasks(session) if t.node_id == "xinsheng-laogan"]
    rt.complete(t.id, {"title": "体会", "body": ARTICLE}, principal(session, "xinsheng_laogan"))
    session.commit()

    mine = api.get("/api/v1/study/stats?year=2027&month=1", "xinsheng_secretary").get_json()
    assert mine["group"] is None and [u["unit_id"] for u in mine["units"]] == ["xinsheng"]
    [unit] = mine["units"]
    # accounts exist since 5 January: 1 day × 3 kinds × 7 inspectors = 21 expected entries
    assert {k: unit[k] for k in ("people_count", "daily_entries", "daily_expected", "daily_rate", "articles_asked",
                                 "articles_submitted", "article_rate")} == {
        "people_count": 7, "daily_entries": 3, "daily_expected": 21, "daily_rate": 0.1429, "articles_asked": 7,
        "articles_submitted": 1, "article_rate": 0.1429}
    laogan = next(p for p in unit["people"] if p["username"] == "xinsheng_laogan")
    assert (laogan["daily_rate"], laogan["article_rate"], laogan["articles_on_time"]) == (1.0, 1.0, 1)
    assert laogan["entries"] == {"situation": 1, "knowledge": 1, "insight": 1}

    everyone = api.get("/api/v1/study/stats?year=2027&month=1", "group_deputy").get_json()
    assert [u["unit_id"] for u in everyone["units"]] == ["xinsheng", "xuchang", "daizhuang"]
    assert (everyone["group"]["people_count"], everyone["group"]["daily_entries"]) == (4, 1)
    assert everyone["total"]["people_count"] == 25 and everyone["total"]["articles_asked"] == 25
    year = api.get("/api/v1/study/stats?year=2027", "group_deputy").get_json()
    assert year["period"] == "2027" and year["total"]["daily_entries"] == 4
    assert api.get("/api/v1/study/stats?year=2027&unit_id=xuchang", "xinsheng_secretary").status_code == 404
    assert api.get("/api/v1/study/stats", "xinsheng_laogan").status_code == 403
    assert api.get("/api/v1/study/stats?month=13", "group_deputy").status_code == 422

    arts = api.get("/api/v1/study/articles?period=2027-01", "xinsheng_secretary").get_json()
    assert arts["total"] == 7 and all("body" not in a for a in arts["items"])
    [a] = api.get("/api/v1/study/articles?username=xinsheng_laogan", "xinsheng_secretary").get_json()["items"]
    assert api.get(f"/api/v1/study/articles/{a['id']}", "xinsheng_secretary").get_json()["body"] == ARTICLE
    assert api.get(f"/api/v1/study/articles/{a['id']}", "xuchang_secretary").status_code == 404
    assert api.get("/api/v1/study/articles?period=2027-1", "group_member").status_code == 422


def test_monthly_article_keeps_last_month_figures_for_the_assessment(api, session, rt, forms, clock):
    api.post("/api/v1/study/entries", "xinsheng_laogan", json={"kind": "insight", "text": "一月五日的感悟"})
    deploy_article(session, forms, clock)
    clock.set("2027-02-01T09:00:00+08:00")
    rt.start("monthly_article", {}, None)
    session.commit()
    stats = {r.key: r for r in session.scalars(select(Record).where(Record.kind == "study_stats"))}
    assert sorted(stats) == ["2027-01:daizhuang", "2027-01:group", "2027-01:xinsheng", "2027-01:xuchang"]
    x = stats["2027-01:xinsheng"]
    assert (x.node_id, x.data["period"], x.data["people_count"], x.data["daily_expected"], x.data["daily_entries"]) == (
        "xinsheng", "2027-01", 7, 7 * 3 * 27, 1)  # 5–31 January: 27 days
    assert len(open_tasks(session)) == 25
    assert session.scalars(select(ProcessInstance).where(ProcessInstance.status == "error")).all() == []
