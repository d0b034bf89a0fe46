"""Who may start which process by hand (issue 13 item 2, issue 14 "Must deliver" 2).

The matrix: every process in processes/*.bpmn (the called ones too) × every demo user × the
relevant org nodes, through the API (an exact status, and no instance on refusal) and the 发起
page (exactly the same offer). The oracle below is written from the procedures, not from the
policy code: which processes a person starts by hand, and from which tier.
Then the red team's reproductions, each of which started an instance on e3f511d.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select

from api.extensions import state
from engine.org import auth as engine_auth
from engine.infra.db import write_intent
from engine.org.demo import UNITS, demo_users
from engine.models import COMMITTEE_ROLES, HumanTask, ProcessInstance, Record, User
from engine.infra.settings import ROOT
from tests.conftest import BPMN
from tests.web.conftest import Reader, Web

PROCESSES = ROOT / "processes"
BRANCHES = {b: unit for unit, _n, _s, branches in UNITS for b, _bn in branches}
UNIT_IDS = [u for u, *_ in UNITS]
USERS = [(username, role, node) for username, _d, role, node in demo_users()]

# The processes a person starts by hand, and the tier of their start lane. Every other process
# in processes/ is started only by the engine: a call activity, a timer or a message.
BY_HAND = {"adhoc_report": "branch", "adhoc_report_unit": "unit", "annual_assessment": "group",
           "linkage_ledger": "group", "clue_disposal": "unit",
           "document_forwarding": "unit", "monthly_article": "group", "monthly_report": "group",
           "quarterly_report": "group", "quarterly_tasks": "group", "secondment": "group",
           "special_inspection": "group", "zone_activity": "group"}
ENGINE_ONLY = {
    "annual_assessment_unit", "document_forwarding_receipt", "monthly_article_write",
    "monthly_report_branch", "monthly_report_finding", "quarterly_report_unit",
    "quarterly_report_feedback", "quarterly_tasks_unit", "quarterly_tasks_branch", "secondment_nominate",
    "secondment_notice", "special_inspection_unit", "special_inspection_visit", "special_inspection_followup",
    "special_inspection_clue", "zone_activity_unit"}


def built_in_processes() -> set[str]:
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    return {p.get("id") for f in PROCESSES.glob("*.bpmn")
            for p in etree.parse(str(f)).getroot().xpath("./bpmn:process", namespaces=ns)}


def allowed(username: str, key: str, node: str | None) -> bool:
    """The oracle: may `username` start `key` for `node` (None: the group)?"""
    tier = BY_HAND.get(key)
    if tier is None:
        return False
    for user, role, held in USERS:
        if user != username:
            continue
        if tier == "group" and node is None and role in COMMITTEE_ROLES and held == "group":
            return True
        if tier == "unit" and node == held and node in UNIT_IDS and role in COMMITTEE_ROLES:
            return True
        if tier == "branch" and node == held and role == "commissioner":
            return True
    return False


def own_nodes(username: str) -> list[str]:
    return [node for user, _role, node in USERS if user == username and node and node != "group"]


def attempts(username: str, key: str) -> list[str | None]:
    """The org nodes to try: every node of the start tier for a process started by hand; for
    the engine's processes the person's own nodes (where a refusal could only be the rule)."""
    tier = BY_HAND.get(key)
    if tier == "group":
        return [None]
    if tier == "unit":
        return list(UNIT_IDS)
    if tier == "branch":
        return list(BRANCHES)
    return [None, *own_nodes(username)]


def scope_variables(node: str | None) -> dict[str, str]:
    if node is None:
        return {}
    return {"branch_id": node} if node in BRANCHES else {"unit_id": node}


@pytest.fixture
def reader(sessions: Any) -> Reader:
    return Reader(sessions)


@pytest.fixture
def deployed(api: Any) -> Any:
    for f in sorted(PROCESSES.glob("*.bpmn")):
        r = api.deploy(f)
        assert r.status_code == 201, r.get_json()
    return api


def fast_tokens(api: Any, app: Any, clock: Any) -> None:
    """Tokens without 30 password hashes (the login itself is tested elsewhere)."""
    st = state(app)
    with write_intent(), st.sessions() as s:
        for user in s.scalars(select(User)):
            api.tokens[user.username] = engine_auth.issue_token(s, user, clock.now(), 24)
        s.commit()


def count_instances(reader: Any) -> int:
    return reader.scalar(select(func.count()).select_from(ProcessInstance))


CARD = re.compile(r'<section class="card" id="start-([a-z0-9_]+)"(?: data-node="([^"]+)")?>(.*?)</section>', re.S)
OPTION = re.compile(r'<option value="([^"]+)"')


def page_offer(html: str) -> set[tuple[str, str | None]]:
    """(process, node) pairs the 发起 page offers: a fixed node, each option, or the group."""
    out: set[tuple[str, str | None]] = set()
    for key, fixed, body in CARD.findall(html):
        options = OPTION.findall(body)
        if options:
            out |= {(key, o) for o in options}
        else:
            out.add((key, fixed or None))
    return out


def test_the_oracle_covers_every_built_in_process():
    assert built_in_processes() == set(BY_HAND) | ENGINE_ONLY
    assert not set(BY_HAND) & ENGINE_ONLY


@pytest.mark.once  # the policy matrix is the same on every database (.ci/run: SQLite pass)
def test_start_matrix_every_process_every_role_every_node(deployed, app, client, clock, reader):
    api = deployed
    fast_tokens(api, app, clock)
    keys = sorted(built_in_processes())
    granted: dict[str, set[tuple[str, str | None]]] = {u: set() for u, _r, _n in USERS}
    for username, _role, _node in USERS:
        for key in keys:
            for node in attempts(username, key):
                before = count_instances(reader)
                r = api.post(f"/api/v1/process-definitions/{key}/start", username,
                             json={"variables": scope_variables(node)})
                body = r.get_json()
                where = (username, key, node, body)
                if allowed(username, key, node):
                    assert r.status_code == 201, where
                    assert body["process_key"] == key and body["scope_node_id"] == (node or "group"), where
                    assert reader.get(ProcessInstance, body["id"]) is not None
                    granted[username].add((key, node))
                else:
                    assert r.status_code == 403, where
                    assert body["error"] == ("not_startable" if key in ENGINE_ONLY else "forbidden"), where
                    if key in ENGINE_ONLY:
                        assert key in body["message"] and "cannot be started by hand" in body["message"], where
                    assert count_instances(reader) == before, where
    # the 发起 page offers exactly what the API let each person start, and refuses the rest
    web = Web(client)
    for username, _role, _node in USERS:
        web.login(username)
        offer = page_offer(web.get("/start").get_data(as_text=True))
        assert offer == granted[username], username
        before = count_instances(reader)
        assert web.post("/start/special_inspection_clue", {}).status_code == 403
        if not any(k == "special_inspection" for k, _n in granted[username]):
            assert web.post("/start/special_inspection", {}).status_code == 403
        assert count_instances(reader) == before
        web.logout()
    assert granted["admin"] == granted["owner"] == set()
    assert granted["xinsheng_member"] == {("adhoc_report_unit", "xinsheng"), ("clue_disposal", "xinsheng"),
                                          ("document_forwarding", "xinsheng")}
    assert granted["xinsheng_laogan"] == {("adhoc_report", "xinsheng-laogan")}
    assert granted["xinsheng_dept"] == set()


# ---- the red team's reproductions (each answered 201 on e3f511d) ------------------------------------

def add_record(app: Any, clock: Any, kind: str, key: str, node_id: str, unit_id: str, data: dict[str, Any],
               confidential: bool = False) -> None:
    st = state(app)
    with write_intent(), st.sessions() as s:
        s.add(Record(kind=kind, key=key, node_id=node_id, unit_id=unit_id, confidential=confidential,
                     data=data, created_at=clock.now(), updated_at=clock.now()))
        s.commit()


def record_row(reader: Any, kind: str, key: str) -> tuple[str, bool, dict[str, Any]]:
    [r] = reader.scalars(select(Record).where(Record.kind == kind, Record.key == key))
    return r.node_id, r.confidential, r.data


def refused(r: Any, code: str = "not_startable") -> bool:
    return r.status_code == 403 and r.get_json()["error"] == code


def test_a_member_cannot_start_the_clue_transfer_with_another_units_finding(deployed, app, clock, reader):
    finding = {"inspection_id": "si-7", "no": 1, "unit_id": "xuchang", "unit_name": "许厂煤矿纪委",
               "person": "许厂某干部", "problem": "违规收受礼金", "handling": "移交问题线索", "status": "待移交线索"}
    add_record(app, clock, "inspection_finding", "si-7:1", "xuchang", "xuchang", finding, confidential=True)
    r = deployed.post("/api/v1/process-definitions/special_inspection_clue/start", "xinsheng_member",
                      json={"variables": {"finding_key": "si-7:1", "inspection_id": "si-7", "topic_name": "作风"}})
    assert refused(r), r.get_json()
    assert "special_inspection_clue" in r.get_json()["message"]
    assert count_instances(reader) == 0
    assert record_row(reader, "inspection_finding", "si-7:1") == ("xuchang", True, finding)
    assert reader.scalars(select(Record).where(Record.kind == "clue")) == []


def test_a_member_cannot_close_another_units_monthly_finding(deployed, app, clock, reader):
    report = {"branch_id": "xuchang-zongcai", "unit_id": "xuchang", "period": "2027-01", "status": "reviewed",
              "findings": [{"no": 1, "title": "交接班记录不全", "facts": "……", "classification": "tendency",
                            "state": "measures_pending"}]}
    add_record(app, clock, "monthly_report", "xuchang-zongcai:2027-01", "xuchang-zongcai", "xuchang", report)
    r = deployed.post("/api/v1/process-definitions/monthly_report_finding/start", "xinsheng_member", json={"variables": {
        "report_key": "xuchang-zongcai:2027-01", "finding": {"no": 1, "classification": "none"},
        "branch_name": "综采一区党支部"}})
    assert refused(r), r.get_json()
    assert count_instances(reader) == 0
    assert record_row(reader, "monthly_report", "xuchang-zongcai:2027-01")[2] == report


def test_a_member_cannot_restart_the_units_quarterly_report(deployed, app, clock, reader):
    acknowledged = {"year": 2026, "quarter": 4, "unit_id": "xinsheng", "status": "acknowledged",
                    "group_opinion": "继续加强", "acknowledged_at": "2027-01-03T10:00:00+08:00"}
    add_record(app, clock, "quarterly_report", "2026Q4:xinsheng", "xinsheng", "xinsheng", acknowledged)
    r = deployed.post("/api/v1/process-definitions/quarterly_report_unit/start", "xinsheng_member", json={"variables": {
        "year": 2026, "quarter": 4, "quarter_key": "2026Q4", "report_due": "2027-01-10"}})
    assert refused(r), r.get_json()
    assert count_instances(reader) == 0
    assert reader.scalars(select(HumanTask)) == []
    assert record_row(reader, "quarterly_report", "2026Q4:xinsheng")[2] == acknowledged


def test_a_secretary_cannot_start_the_groups_assessment_of_their_unit(deployed, reader):
    r = deployed.post("/api/v1/process-definitions/annual_assessment_unit/start", "xinsheng_secretary",
                      json={"variables": {"year": 2026}})
    assert refused(r), r.get_json()
    assert count_instances(reader) == 0 and reader.scalars(select(HumanTask)) == []


@pytest.mark.parametrize("user", ["owner", "admin"])
def test_owner_and_admin_without_a_role_cannot_start_work_for_a_unit(deployed, reader, user):
    r = deployed.post("/api/v1/process-definitions/clue_disposal/start", user, json={"variables": {"unit_id": "xinsheng"}})
    assert refused(r, "forbidden"), r.get_json()
    assert count_instances(reader) == 0


def test_start_variables_are_only_the_title_the_scope_and_the_declared_ones(deployed, reader):
    api = deployed
    # clue_disposal asks for the clue in its first form: the clue's person cannot be handed in
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary",
                 json={"variables": {"clue_person": "某人", "clue_key": "clue-1"}})
    assert r.status_code == 422, r.get_json()
    assert [d["field"] for d in r.get_json()["details"]] == ["variables/clue_key", "variables/clue_person"]
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary",
                 json={"variables": {"branch_id": "xinsheng-laogan"}})  # a unit lane names its unit, not a branch
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "variables/branch_id"
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary",
                 json={"variables": {"title": 7}})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "variables/title"
    # only the plain start event starts by hand
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary",
                 json={"start_event": "start_message", "variables": {}})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "start_event"
    assert count_instances(reader) == 0
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary",
                 json={"variables": {"title": "线索：某事"}})
    assert r.status_code == 201 and r.get_json()["title"] == "线索：某事"


def test_declared_start_variables_pass(api, reader):
    assert api.deploy(BPMN / "incident.bpmn").status_code == 201  # declares startVariables="divisor"
    r = api.post("/api/v1/process-definitions/incident_test/start", "group_secretary",
                 json={"variables": {"divisor": 2, "ratio": 99}})
    assert r.status_code == 422 and r.get_json()["details"] == [
        {"field": "variables/ratio", "code": "invalid", "params": {}, "message": "not a start variable of this process"}]
    r = api.post("/api/v1/process-definitions/incident_test/start", "group_secretary", json={"variables": {"divisor": 2}})
    assert r.status_code == 201 and r.get_json()["variables"]["ratio"] == 5


def test_start_variables_property_is_checked_at_deploy(api):
    xml = (BPMN / "incident.bpmn").read_text().replace('value="divisor"', 'value="divisor, _state"')
    r = api.post("/api/v1/process-definitions?filename=bad.bpmn", "owner", data=xml.encode(),
                 content_type="application/xml")
    assert r.status_code == 422 and r.get_json()["details"][0]["element_id"] == "start"
    assert "'_state' is not a variable name" in r.get_json()["message"]


CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_caller" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="ops_caller" name="调用测试" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:callActivity id="call" calledElement="ops_two_step" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_process_called_from_another_file_is_not_started_by_hand(api, reader):
    """`called_only` is computed per file; a caller deployed from another file makes a process
    just as internal."""
    assert api.deploy(BPMN / "ops_two_step.bpmn").status_code == 201
    assert api.post("/api/v1/process-definitions/ops_two_step/start", "group_member", json={}).status_code == 201
    r = api.post("/api/v1/process-definitions?filename=caller.bpmn", "owner", data=CALLER.encode(),
                 content_type="application/xml")
    assert r.status_code == 201, r.get_json()
    before = count_instances(reader)
    r = api.post("/api/v1/process-definitions/ops_two_step/start", "group_member", json={})
    assert refused(r), r.get_json()
    assert "a call activity of another process starts it" in r.get_json()["message"]
    assert count_instances(reader) == before
