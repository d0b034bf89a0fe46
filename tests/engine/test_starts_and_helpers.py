"""Several start events (a cron timer start and a manual one), and the script helpers
org_people, instance_id, get_record; a script that sets `title` renames the instance."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.core.spiff_timers import next_cron
from engine.errors import Invalid, NotFound
from engine.models import HumanTask, ProcessInstance
from engine.org import nodes as org
from tests.conftest import BPMN, deploy_file, principal, roundtrip_all


def test_manual_start_is_the_default_and_the_timer_start_can_be_chosen(session, rt, forms, clock):
    deploy_file(session, BPMN / "timer_and_manual.bpmn", forms, clock)
    by_hand = rt.start("timer_and_manual", {"unit_id": "xinsheng"}, principal(session, "xinsheng_secretary"))
    timed = rt.start("timer_and_manual", {"unit_id": "xuchang"}, None, start_event="yearly")
    session.commit()
    for inst in (by_hand, timed):
        assert inst.status == "running", inst.error_message
        [task] = session.scalars(select(HumanTask).where(HumanTask.instance_id == inst.id)).all()
        assert task.spec_id == "review"
        assert inst.data["people"] and inst.data["me"] == inst.id
        assert inst.data["missing"] is None and inst.data["found"] == {"people": 7}
        assert inst.title == f"实例 {inst.id}"
        # the timer start fired once for this instance: no timer keeps waiting in it
        assert inst.next_timer_at is None
    assert roundtrip_all(session) == 2
    with pytest.raises(Invalid):
        rt.start("timer_and_manual", {"unit_id": "xinsheng"}, None, start_event="nope")
    session.rollback()
    rt.complete(session.scalars(select(HumanTask).where(HumanTask.instance_id == timed.id)).one().id, {},
                principal(session, "xuchang_member"))
    session.commit()
    assert session.get(ProcessInstance, timed.id).status == "completed"


def test_org_people_counts_committee_members_and_commissioners_once(session):
    people = org.people(session, "xinsheng")
    # the committee first, then the branches' commissioners in the organisation's order
    assert [p["username"] for p in people] == [
        "xinsheng_deputy", "xinsheng_member", "xinsheng_secretary", "xinsheng_standing",
        "xinsheng_laogan", "xinsheng_wuye", "xinsheng_jidian"]
    assert {p["role"] for p in people} == {"secretary", "deputy_secretary", "standing_member", "member", "commissioner"}
    assert not any(p["username"] == "xinsheng_dept" for p in people)  # departments are not inspectors
    laogan = next(p for p in people if p["username"] == "xinsheng_laogan")
    assert (laogan["node_id"], laogan["node_name"], laogan["role_name"]) == ("xinsheng-laogan", "老干家委党总支", "纪律检查委员")
    # a second role of the same person does not count twice
    user = session.scalars(select(org.User).where(org.User.username == "xinsheng_laogan")).one()
    org.grant(session, user, "member", "xinsheng")
    session.flush()
    assert len(org.people(session, "xinsheng")) == 7
    with pytest.raises(NotFound):
        org.people(session, "xinsheng-laogan")


def test_next_cron_is_in_the_organisation_zone():
    shanghai = ZoneInfo("Asia/Shanghai")
    after = datetime(2027, 12, 19, 2, 0, tzinfo=UTC)
    assert next_cron("0 9 20 12 *", after, shanghai) == datetime(2027, 12, 20, 1, 0, tzinfo=UTC)
    assert next_cron("0 9 20 12 *", datetime(2027, 12, 20, 1, 0, tzinfo=UTC), shanghai).year == 2028


def test_cron_cycle_on_a_boundary_fires_at_every_occurrence(session, rt, forms, clock):
    deploy_file(session, BPMN / "daily_reminder.bpmn", forms, clock)
    inst = rt.start("daily_reminder", {"unit_id": "daizhuang"}, None)  # 2027-01-05 09:00 Shanghai
    session.commit()
    assert inst.next_timer_at == datetime(2027, 1, 6, 1, 0, tzinfo=UTC)
    clock.advance(hours=23)
    assert rt.fire_timers(inst.id) == 0
    clock.advance(hours=1)
    assert rt.fire_timers(inst.id) == 1
    session.commit()
    assert inst.next_timer_at == datetime(2027, 1, 7, 1, 0, tzinfo=UTC)
    clock.advance(days=1)
    assert rt.fire_timers(inst.id) == 1
    session.commit()
    open_ = session.scalars(select(HumanTask.spec_id).where(HumanTask.instance_id == inst.id,
                                                            HumanTask.status == "open")).all()
    assert sorted(open_) == ["remind", "remind", "report"]
    roundtrip_all(session)
