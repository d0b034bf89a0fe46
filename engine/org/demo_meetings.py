"""The demo history's unit meetings and training and its 分区联创 zones (engine/org/demo_history.py
plans them): every unit committee holds a monthly 例会 (a 学习培训 at the end of each quarter, a
业务交流 in May and November) with all its people, recorded by its secretary through the
service; the group committee sets up two zones in the first week, whose member units record an
activity every quarter. Nothing here draws on the history's random numbers, so the rest of the
history is the same with or without it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine.services import meetings as meetings_service

ZONES = [
    ("东部片区联创组", "xinsheng", ["xinsheng", "xuchang"], "xuchang_secretary"),
    ("西部片区联创组", "daizhuang", ["daizhuang", "xuchang"], "daizhuang_secretary"),
]
UNITS = ("xinsheng", "xuchang", "daizhuang")
TOPICS = {
    "regular": "{month}月份纪检工作例会：通报本月联动任务落实情况",
    "training": "{quarter}季度学习培训：《中国共产党纪律处分条例》专题辅导",
    "exchange": "业务交流：支部纪律检查委员监督经验交流",
}


def kind_of(month: date) -> str:
    if month.month in (3, 6, 9, 12):
        return "training"
    return "exchange" if month.month in (5, 11) else "regular"


def plan(sim: Any, months: list[date]) -> None:
    """Plan the meetings and the zones on the history's calendar (`sim` is its `_History`)."""
    zone_ids: dict[str, int] = {}
    sim.at(sim.local(months[0] + timedelta(days=5), 15, 10), set_up_zones, sim, zone_ids)
    for m in months:
        for i, unit in enumerate(UNITS):
            sim.at(sim.local(m + timedelta(days=19 + i), 15, 30), unit_meeting, sim, unit, m)
        if m.month in (2, 5, 8, 11):
            for name, _lead, _units, _recorder in ZONES:
                sim.at(sim.local(m + timedelta(days=24), 15, 40), zone_activity, sim, zone_ids, name, m)


def unit_meeting(sim: Any, unit: str, month: date) -> None:
    kind = kind_of(month)
    with sim.acting(f"{unit}_secretary") as (s, p):
        people = [person["username"] for person in meetings_service.people_of(s, unit)]
        data = {
            "unit_id": unit,
            "kind": kind,
            "held_on": sim.today().isoformat(),
            "topic": TOPICS[kind].format(month=month.month, quarter=(month.month - 1) // 3 + 1),
            "attendees": people,
            "notes": "传达上级纪委部署，听取各支部纪律检查委员工作汇报，安排下一步监督重点。",
        }
        meetings_service.create_meeting(s, p, data, sim.clock.now(), sim.zone)
    sim.done["meetings"] += 1


def set_up_zones(sim: Any, zone_ids: dict[str, int]) -> None:
    for name, lead, units, _recorder in ZONES:
        with sim.acting("group_secretary") as (s, p):
            data = {"name": name, "lead_unit_id": lead, "unit_ids": units, "note": "分区联创，协同监督"}
            zone_ids[name] = int(meetings_service.create_zone(s, p, data, sim.clock.now())["id"])


def zone_activity(sim: Any, zone_ids: dict[str, int], name: str, month: date) -> None:
    _name, _lead, units, recorder = next(z for z in ZONES if z[0] == name)
    if name not in zone_ids:
        return
    with sim.acting(recorder) as (s, p):
        data = {
            "held_on": sim.today().isoformat(),
            "topic": f"{month.month}月联创活动：职工薪酬分配交叉检查",
            "unit_ids": units,
            "summary": "各单位纪委委员交叉查看薪酬分配公示，交流发现的问题和整改做法。",
        }
        meetings_service.record_activity(s, p, zone_ids[name], data, sim.clock.now(), sim.zone)
    sim.done["zone_activities"] += 1
