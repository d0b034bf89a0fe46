"""Script helpers act within the instance's own scope (issue 13 item 3).

A process owner (who reads no clue through the register) deploys diagrams whose scripts try to
read or rewrite another unit's clues: as a timer-started group instance, as a unit instance and
as a branch instance. Each attempt is an incident naming the helper; nothing reaches the
instance's variables and no record changes. The built-in procedures keep working (tests/procedures).
"""
from __future__ import annotations

import json
import zlib
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from engine.infra.db import write_intent
from engine.errors import ScriptError
from engine.models import ProcessInstance, Record
from engine.org.policy import ScriptScope
from engine.core.runtime import Runtime
from engine.core.scheduler import tick
from tests.engine.record_samples import sample

SECRET = "许厂某干部"
LANES = {"group": "集团公司纪委", "unit": "权属单位纪委", "branch": "基层党支部纪律检查委员",
         "department": "职能部门"}


def hostile(script: str, key: str = "hostile", lane: str = "group", timer: bool = False,
            extra_lane: str | None = None) -> bytes:
    """One script, then a user task in `lane` (and one in `extra_lane`, to bring its people in)."""
    start = ('<bpmn:startEvent id="start"><bpmn:timerEventDefinition id="t"><bpmn:timeCycle>0 9 * * *'
             '</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>' if timer else '<bpmn:startEvent id="start"/>')
    extra = (f'<bpmn:lane id="L2" name="{LANES[extra_lane]}"><bpmn:flowNodeRef>other</bpmn:flowNodeRef></bpmn:lane>'
             if extra_lane else "")
    tail = ('<bpmn:sequenceFlow id="f3" sourceRef="look" targetRef="other"/><bpmn:userTask id="other" name="另一层级"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="other" targetRef="end"/>' if extra_lane
            else '<bpmn:sequenceFlow id="f3" sourceRef="look" targetRef="end"/>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_{key}" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="{key}" name="敌意流程" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L1" name="{LANES[lane]}">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>steal</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>look</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>{extra}
    </bpmn:laneSet>
    {start}
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="steal"/>
    <bpmn:scriptTask id="steal" name="窃取"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="steal" targetRef="look"/>
    <bpmn:userTask id="look" name="查看"/>
    {tail}
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def deploy(api: Any, xml: bytes) -> None:
    r = api.post("/api/v1/process-definitions?filename=hostile.bpmn", "owner", data=xml, content_type="application/xml")
    assert r.status_code == 201, r.get_json()


@pytest.fixture
def clues(sessions: Any, clock: Any) -> dict[str, Any]:
    """Clues as clue_disposal registers them: one of 许厂煤矿, one of 新升实业."""
    with write_intent(), sessions() as s:
        for key, unit in (("clue-90", "xuchang"), ("clue-91", "xinsheng")):
            s.add(Record(kind="clue", key=key, node_id=unit, unit_id=unit, confidential=True,
                         data={"clue_no": key, "person": SECRET if unit == "xuchang" else "新升某干部",
                               "facts": "违规收受礼金", "status": "待研判"}, created_at=clock.now(), updated_at=clock.now()))
        s.commit()
    return snapshot(sessions)


def snapshot(sessions: Any) -> dict[str, Any]:
    with sessions() as s:
        return {(r.kind, r.key): (r.node_id, r.unit_id, r.confidential, r.instance_id, json.dumps(r.data, sort_keys=True))
                for r in s.scalars(select(Record))}


def leaked(sessions: Any, instance_id: int) -> bool:
    """Whether a clue's content reached the instance (its variables or its saved state)."""
    with sessions() as s:
        inst = s.get(ProcessInstance, instance_id)
        assert inst is not None
        return SECRET in json.dumps(inst.data, ensure_ascii=False) or SECRET in zlib.decompress(inst.state).decode()


def incident(sessions: Any, instance_id: int) -> str:
    with sessions() as s:
        inst = s.get(ProcessInstance, instance_id)
        assert inst is not None and inst.status == "error", (inst.status if inst else None)
        assert inst.error_task == "steal"
        return inst.error_message or ""


ATTACKS = [  # (script, helper, words of the reason)
    ('stolen = find_records("clue")', "find_records", "may not touch 'clue' records"),
    ('stolen = find_records("clue", unit_id="xuchang")', "find_records", "may not touch 'clue' records"),
    ('stolen = get_record("clue", "clue-90")', "get_record", "may not touch 'clue' records"),
    ('stolen = update_record("clue", "clue-90", {"status": "已了结"})', "update_record", "may not touch 'clue' records"),
    ('save_record("clue", "clue-90", {"person": "无"}, node_id=unit_id)', "save_record", "may not touch 'clue' records"),
]


@pytest.mark.parametrize("script, helper, words", ATTACKS)
def test_a_timer_started_group_instance_cannot_reach_clues(api, sessions, clock, settings, clues, script, helper, words):
    deploy(api, hostile(script.replace("node_id=unit_id", 'node_id="xinsheng"'), timer=True))
    clock.set("2027-01-06T09:00:00+08:00")
    [instance_id] = tick(sessions, clock, settings).started  # the scheduler, acting for no one
    message = incident(sessions, instance_id)
    assert helper in message and words in message and "clue_disposal" in message, message
    assert not leaked(sessions, instance_id)
    assert snapshot(sessions) == clues


@pytest.mark.parametrize("script, helper, words", ATTACKS)
def test_a_unit_instance_cannot_reach_clues(api, sessions, clues, script, helper, words):
    deploy(api, hostile(script, lane="unit"))
    r = api.post("/api/v1/process-definitions/hostile/start", "xinsheng_secretary", json={})
    assert r.status_code == 201 and r.get_json()["status"] == "error", r.get_json()
    message = incident(sessions, r.get_json()["id"])
    assert helper in message and words in message, message
    assert not leaked(sessions, r.get_json()["id"])
    assert snapshot(sessions) == clues


@pytest.mark.parametrize("script, helper, words", ATTACKS)
def test_a_branch_instance_cannot_reach_clues(api, sessions, clues, script, helper, words):
    deploy(api, hostile(script, lane="branch"))
    r = api.post("/api/v1/process-definitions/hostile/start", "xinsheng_laogan", json={})
    assert r.status_code == 201 and r.get_json()["status"] == "error", r.get_json()
    assert helper in incident(sessions, r.get_json()["id"])
    assert not leaked(sessions, r.get_json()["id"])
    assert snapshot(sessions) == clues


SCOPE_ATTACKS = [  # a new version of the clue process itself: declared for clues, still held to its scope
    ('stolen = get_record("clue", "clue-90")', "get_record", "belongs to 'xuchang', outside the scope of this instance ('xinsheng')"),
    ('stolen = update_record("clue", "clue-90", {"status": "已了结"})', "update_record", "belongs to 'xuchang'"),
    ('save_record("clue", "clue-90", {"person": "无"}, node_id="xinsheng")', "save_record", "belongs to 'xuchang'"),
    ('save_record("clue", "clue-92", {"person": "无"}, node_id="xuchang")', "save_record", "belongs to 'xuchang'"),
    ('stolen = find_records("clue", unit_id="xuchang")', "find_records", "unit_id='xuchang' is outside the scope"),
]


@pytest.mark.parametrize("script, helper, words", SCOPE_ATTACKS)
def test_a_new_version_of_the_clue_process_stays_in_its_unit(api, sessions, clues, script, helper, words):
    deploy(api, hostile(script, key="clue_disposal", lane="unit"))
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary", json={})
    assert r.status_code == 201 and r.get_json()["scope_node_id"] == "xinsheng", r.get_json()
    message = incident(sessions, r.get_json()["id"])
    assert helper in message and words in message, message
    assert not leaked(sessions, r.get_json()["id"])
    assert snapshot(sessions) == clues


def test_the_clue_process_reads_its_own_units_clues_only(api, sessions, clues):
    deploy(api, hostile('mine = [c["clue_no"] for c in find_records("clue")]\none = get_record("clue", "clue-91")["clue_no"]',
                        key="clue_disposal", lane="unit"))
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary", json={})
    assert r.status_code == 201 and r.get_json()["status"] == "running", r.get_json()
    assert (r.get_json()["variables"]["mine"], r.get_json()["variables"]["one"]) == (["clue-91"], "clue-91")


@pytest.mark.parametrize("lane, extra, user", [("group", "unit", "group_secretary"), ("unit", "department", "xinsheng_secretary")])
def test_confidential_records_are_not_read_where_a_lanes_people_may_not_see_them(api, sessions, clues, lane, extra, user):
    """A group instance with a unit lane (any unit's committee could hold its task), a unit
    instance with a 职能部门 lane: the clue process itself may not read clues there."""
    deploy(api, hostile('stolen = find_records("clue")', key="clue_disposal", lane=lane, extra_lane=extra))
    variables = {"unit_id": "xinsheng"} if lane == "unit" else {}
    r = api.post("/api/v1/process-definitions/clue_disposal/start", user, json={"variables": variables})
    message = incident(sessions, r.get_json()["id"])
    assert "find_records: 'clue' records are confidential" in message and extra in message, message
    assert not leaked(sessions, r.get_json()["id"])


def test_a_script_that_catches_the_refusal_gets_nothing(api, sessions, clues):
    deploy(api, hostile('try:\n    stolen = find_records("clue")\nexcept Exception:\n    stolen = "refused"', lane="unit"))
    r = api.post("/api/v1/process-definitions/hostile/start", "xinsheng_secretary", json={})
    assert r.status_code == 201 and r.get_json()["status"] == "running"
    assert r.get_json()["variables"]["stolen"] == "refused"
    assert not leaked(sessions, r.get_json()["id"]) and snapshot(sessions) == clues


@pytest.mark.parametrize("script, lane, user, words", [
    ('people = org_people("xuchang")', "unit", "xinsheng_secretary", "org_people: the people of 'xuchang'"),
    ('people = org_people("xinsheng")', "branch", "xinsheng_laogan", "org_people: the people of 'xinsheng'"),
    ('people = org_inspectors()', "unit", "xinsheng_secretary", "org_inspectors: the people of None"),
    ('people = org_inspectors("xuchang")', "unit", "xinsheng_secretary", "org_inspectors: the people of 'xuchang'"),
    ('rates = study_rates(2027)', "branch", "xinsheng_laogan", "study_rates: a branch instance"),
])
def test_people_stay_inside_the_scope(api, sessions, script, lane, user, words):
    deploy(api, hostile(script, lane=lane))
    r = api.post("/api/v1/process-definitions/hostile/start", user, json={})
    assert words in incident(sessions, r.get_json()["id"])


def test_people_of_the_own_unit_and_its_rates(api, sessions):
    deploy(api, hostile('people = [p["username"] for p in org_people(unit_id)]\n'
                        'mates = len(org_inspectors(unit_id))\n'
                        'rates = [u["unit_id"] for u in study_rates(2027)["units"]]', lane="unit"))
    r = api.post("/api/v1/process-definitions/hostile/start", "xinsheng_secretary", json={})
    variables = r.get_json()["variables"]
    assert r.get_json()["status"] == "running", r.get_json()
    assert "xinsheng_secretary" in variables["people"] and not [p for p in variables["people"] if "xuchang" in p]
    assert variables["mates"] == 7 and variables["rates"] == ["xinsheng"]


# ---- the rule itself, through the helpers of a (stand-in) instance -------------------------------------

def helpers(session: Any, clock: Any, settings: Any, forms: Any, key: str, node: str,
            lanes: tuple[str, ...]) -> dict[str, Any]:
    inst = SimpleNamespace(id=0, scope_node_id=node, process_key=key,
                           definition=SimpleNamespace(info={"lanes": [{"tier": t} for t in lanes]}))
    return Runtime(session, clock, settings, forms)._record_helpers(inst, ScriptScope.of(session, inst))


def test_a_confidential_kind_stays_confidential_when_rewritten(session, clock, settings, forms):
    h = helpers(session, clock, settings, forms, "clue_disposal", "xinsheng", ("group", "unit"))
    h["save_record"]("clue", "clue-1", sample("clue", person="某人"), node_id="xinsheng", confidential=False)
    h["save_record"]("note", "n-1", {"x": 1}, confidential=True)
    h["save_record"]("note", "n-1", {"x": 2})  # a rewrite never lowers confidentiality
    rows = {r.key: r.confidential for r in session.scalars(select(Record))}
    assert rows == {"clue-1": True, "n-1": True}


def test_a_branch_reaches_its_units_record_only_where_the_procedure_writes_upward(session, clock, settings, forms):
    # clue_disposal started by a branch's clue message is branch-scoped and registers on its unit
    h = helpers(session, clock, settings, forms, "clue_disposal", "xinsheng-laogan", ("group", "unit"))
    h["save_record"]("clue", "clue-5", sample("clue", person="某人"), node_id="xinsheng")
    assert h["get_record"]("clue", "clue-5") == sample("clue", person="某人")
    for node in ("xuchang", "xinsheng-wuye", "group"):
        with pytest.raises(ScriptError, match="save_record: the owner node belongs to"):
            h["save_record"]("clue", "clue-6", sample("clue", person="某人"), node_id=node)
    # a branch's own monthly report: no upward reach for that kind
    h = helpers(session, clock, settings, forms, "monthly_report_branch", "xinsheng-laogan", ("branch", "unit"))
    with pytest.raises(ScriptError, match="the owner node belongs to 'xinsheng'"):
        h["save_record"]("monthly_report", "m-1", sample("monthly_report"), node_id="xinsheng")
    h["save_record"]("monthly_report", "m-1", sample("monthly_report"))
    assert session.get(Record, session.scalar(select(Record.id).where(Record.key == "m-1"))).node_id == "xinsheng-laogan"
    # quarterly_tasks_branch updates its unit's status record, not another unit's
    for unit in ("xinsheng", "xuchang"):
        session.add(Record(kind="quarterly_unit_status", key=f"q:{unit}", node_id=unit, unit_id=unit,
                           data=sample("quarterly_unit_status"), created_at=clock.now(), updated_at=clock.now()))
    session.flush()
    h = helpers(session, clock, settings, forms, "quarterly_tasks_branch", "xinsheng-laogan", ("branch", "unit"))
    branch = {"branch_name": "老干家委党总支", "status": "implementing", "rounds": 0}
    assert h["update_record"]("quarterly_unit_status", "q:xinsheng", {"xinsheng-laogan": branch}, path=["branches"]) == \
        sample("quarterly_unit_status", branches={"xinsheng-laogan": branch})
    with pytest.raises(ScriptError, match="update_record: quarterly_unit_status record 'q:xuchang' belongs to 'xuchang'"):
        h["update_record"]("quarterly_unit_status", "q:xuchang", {"x": 1})
