"""三员分立 (issue 13, must deliver 2; item 10): the system administrator runs the system without
reading confidential content, the security administrator alone manages accounts and roles, the
security auditor alone reads the audit log, and nobody holds two of the three."""
from __future__ import annotations

import html
import io
import json
import re
import zipfile
from typing import Any

import pytest
from sqlalchemy import select

from engine.org import nodes as org
from engine.org.confidential import MARK
from engine.infra.db import write_intent
from engine.models import EventLog, HumanTask, ProcessInstance, Record, User
from engine.platform.notify import dispatch
from engine.infra.settings import ROOT
from tests.procedures.offers import api  # noqa: F401 - the api fixture with every demo user's token

PROCESSES = ROOT / "processes"
SECRETS = ("王某某SECRET", "收受礼金SECRET", "举报人SECRET", "研判SECRET",
           "敏感事项SECRET", "敏感情况SECRET", "李某某SECRET")
THREE = ("admin", "security_admin", "auditor")


@pytest.fixture
def web_for(app: Any) -> Any:
    """A signed-in browser session (cookie and CSRF token) per user."""
    from tests.web.conftest import Web

    def make(user: str) -> Web:
        w = Web(app.test_client())
        w.login(user)
        return w

    return make


def done(api: Any, sessions: Any, spec_id: str, node_id: str, data: dict[str, Any], user: str) -> int:
    with sessions() as s:
        tid = s.scalars(select(HumanTask.id).where(HumanTask.spec_id == spec_id, HumanTask.node_id == node_id,
                                                   HumanTask.status == "open")).one()
    r = api.post(f"/api/v1/tasks/{tid}/complete", user, json={"data": data})
    assert r.status_code == 200, r.get_json()
    return tid


def confidential_cases(api: Any, sessions: Any) -> dict[str, int]:
    """A clue registered by hand at 新升实业 (assessed, now being talked over) and a sensitive ad-hoc
    report from 许厂's 综采一区, acknowledged by the unit and waiting for the group."""
    for f in ("clue_disposal.bpmn", "adhoc_report.bpmn"):
        assert api.deploy(PROCESSES / f).status_code == 201
    r = api.post("/api/v1/process-definitions/clue_disposal/start", "xinsheng_secretary", json={"variables": {}})
    clue = r.get_json()["id"]
    done(api, sessions, "register_form", "xinsheng", {
        "clue_origin": "信访举报", "clue_person": "王某某SECRET（区队长）", "clue_facts": "收受礼金SECRET",
        "clue_reporter": "举报人SECRET", "received_date": "2027-01-05"}, "xinsheng_deputy")
    done(api, sessions, "assess", "xinsheng", {"clue_level": "一般", "disposal": "谈话函询",
                                                "assess_opinion": "研判SECRET"}, "xinsheng_member")
    done(api, sessions, "assess", "xinsheng", {"decision": "approve", "opinion": "同意"}, "xinsheng_secretary")
    r = api.post("/api/v1/process-definitions/adhoc_report/start", "xuchang_zongcai", json={"variables": {}})
    adhoc = r.get_json()["id"]
    done(api, sessions, "file_report", "xuchang-zongcai", {
        "severity": "sensitive", "subject": "敏感事项SECRET", "facts": "敏感情况SECRET", "occurred_on": "2027-01-04",
        "persons": "李某某SECRET", "area": "other"}, "xuchang_zongcai")
    with sessions() as s:
        unit_ack = s.scalars(select(HumanTask).where(HumanTask.instance_id == adhoc, HumanTask.status == "open")).one()
        spec = unit_ack.spec_id
    done(api, sessions, spec, "xuchang", {"unit_opinion": "已签收，逐级上报"}, "xuchang_secretary")
    with sessions() as s:
        talk = s.scalars(select(HumanTask.id).where(HumanTask.spec_id == "talk", HumanTask.status == "open")).one()
        register = s.scalars(select(HumanTask.id).where(HumanTask.spec_id == "register_form")).one()
        clue_record = s.scalars(select(Record.id).where(Record.kind == "clue")).one()
    return {"clue": clue, "adhoc": adhoc, "talk": talk, "register": register, "clue_record": clue_record}


def everything(api: Any, user: str, ids: dict[str, int], clue: bool = True, adhoc: bool = True) -> dict[str, str]:
    """What `user` reads through the API and the pages about the cases: path -> text."""
    out: dict[str, str] = {}

    def get(path: str, **kw: Any) -> None:
        r = api.get(path, user, **kw)
        assert r.status_code == 200, (user, path, r.status_code)
        if r.mimetype.endswith("spreadsheetml.sheet"):
            with zipfile.ZipFile(io.BytesIO(r.data)) as z:
                out[path] = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
        else:
            out[path] = r.get_data(as_text=True)

    for inst in [ids["clue"]] * clue + [ids["adhoc"]] * adhoc:
        for path in (f"/api/v1/process-instances/{inst}", f"/api/v1/process-instances/{inst}/history",
                     f"/api/v1/process-instances/{inst}/diagram", f"/instances/{inst}"):
            get(path)
    get("/api/v1/process-instances", query_string={"per_page": 500})
    get("/instances")
    if clue:
        for task in (ids["talk"], ids["register"]):
            get(f"/api/v1/tasks/{task}")
            get(f"/tasks/{task}")
        get(f"/api/v1/clues/{ids['clue_record']}")
        get(f"/registers/clues/{ids['clue_record']}")
        get("/api/v1/clues")
        get("/api/v1/clues", query_string={"format": "xlsx"})
        get("/registers/clues")
    return out


def test_the_system_administrator_reads_no_confidential_content(api, sessions, app, clock):
    ids = confidential_cases(api, sessions)
    # the committees handling the cases read the real text everywhere
    seen = everything(api, "xinsheng_secretary", ids, adhoc=False)
    seen.update({f"xuchang {k}": v for k, v in everything(api, "xuchang_secretary", ids, clue=False).items()})
    text = "\n".join(seen.values())
    assert all(s in text for s in SECRETS), [s for s in SECRETS if s not in text]
    # ... and so does the group committee, which oversees both units
    group = everything(api, "group_secretary", ids, clue=False)  # (the unit's own tasks are the unit's)
    group_text = "\n".join(group.values()) + api.get(f"/api/v1/clues/{ids['clue_record']}", "group_secretary",
                                                       ).get_data(as_text=True)
    assert all(s in group_text for s in ("王某某SECRET", "收受礼金SECRET", "敏感事项SECRET", "李某某SECRET"))
    # the system administrator reads every page and answer about them, and none of the secrets
    seen = everything(api, "admin", ids)
    for path, body in seen.items():
        leaked = [s for s in SECRETS if s in body]
        assert not leaked, (path, leaked)
    assert MARK in seen[f"/api/v1/clues/{ids['clue_record']}"] and MARK in seen[f"/tasks/{ids['talk']}"]
    # ... yet still operates: the instances, their status and the clue's disposal state are there
    detail = json.loads(seen[f"/api/v1/process-instances/{ids['clue']}"])
    assert detail["status"] == "running" and detail["title"] == f"问题线索：{MARK}"
    assert detail["variables"]["clue_person"] == MARK and detail["variables"]["unit_id"] == "xinsheng"
    clue = json.loads(seen[f"/api/v1/clues/{ids['clue_record']}"])
    assert (clue["data"]["status"], clue["data"]["disposal"], clue["data"]["person"]) == ("谈话函询", "谈话函询", MARK)
    task = json.loads(seen[f"/api/v1/tasks/{ids['talk']}"])
    assert [s["data"].get("clue_person") for s in task["previous"]][:1] == [MARK]
    assert api.post(f"/api/v1/process-instances/{ids['clue']}/suspend", "admin", json={"reason": "维护"}).status_code == 200
    assert api.post(f"/api/v1/process-instances/{ids['clue']}/resume", "admin", json={"reason": "维护"}).status_code == 200
    with sessions() as s:  # redaction is of the view only: the stored case is untouched
        inst = s.get(ProcessInstance, ids["clue"])
        assert inst.data["clue_person"] == "王某某SECRET（区队长）"


def test_notifications_quote_no_confidential_value(api, sessions, app, clock):
    ids = confidential_cases(api, sessions)
    r = api.post("/api/v1/notification-channels", "admin", json={
        "name": "新升群", "kind": "wecom", "node_id": "xinsheng", "url": "http://127.0.0.1:9/hook",
        "events": ["task_offered"]})
    assert r.status_code == 201, r.get_json()
    done(api, sessions, "talk", "xinsheng", {"talk_method": "谈话", "talk_date": "2027-01-05",
                                              "talk_record": "情况说明", "talk_result": "转初步核实"}, "xinsheng_member")
    dispatch(sessions, clock, app.extensions["sanji"].settings)
    notes = api.get("/api/v1/notifications", "xinsheng_secretary", query_string={"per_page": 100}).get_json()["items"]
    outbox = api.get("/api/v1/notification-outbox", "admin", query_string={"per_page": 100}).get_json()["items"]
    assert notes and outbox
    text = json.dumps([notes, outbox], ensure_ascii=False)
    assert "问题线索：【已隐去】" in text
    assert not [s for s in SECRETS if s in text]


def test_only_the_security_administrator_manages_accounts_and_roles(api, web_for):
    body = {"role": "member", "node_id": "xinsheng"}
    assert api.post("/api/v1/users/xinsheng_laogan/roles", "admin", json=body).status_code == 403
    assert api.post("/api/v1/users/xinsheng_laogan/roles", "group_secretary", json=body).status_code == 403
    r = api.post("/api/v1/users/xinsheng_laogan/roles", "security_admin", json=body)
    assert r.status_code == 200, r.get_json()
    assert {(x["role"], x["node_id"]) for x in r.get_json()["roles"]} == {
        ("commissioner", "xinsheng-laogan"), ("member", "xinsheng")}
    r = api.post("/api/v1/users/xinsheng_laogan/roles/revoke", "security_admin", json=body)
    assert r.status_code == 200 and [x["role"] for x in r.get_json()["roles"]] == ["commissioner"]
    new = {"username": "new_inspector", "display_name": "新纪检员", "password": "Correct-Horse-42"}
    assert api.post("/api/v1/users", "admin", json=new).status_code == 403
    assert api.post("/api/v1/users", "security_admin", json=new).status_code == 201
    assert api.post("/api/v1/users", "security_admin", json=new).status_code == 409
    assert api.post("/api/v1/auth/login", json={"username": "new_inspector",
                                                "password": "Correct-Horse-42"}).status_code == 200
    assert api.call("PATCH", "/api/v1/users/new_inspector", "admin", json={"active": False}).status_code == 403
    r = api.call("PATCH", "/api/v1/users/new_inspector", "security_admin", json={"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert api.post("/api/v1/auth/login", json={"username": "new_inspector",
                                                "password": "Correct-Horse-42"}).status_code == 401
    # the system administrator still knows which accounts exist
    users = api.get("/api/v1/users", "admin", query_string={"per_page": 500}).get_json()["items"]
    assert {"new_inspector", "security_admin", "auditor"} <= {u["username"] for u in users}
    # the page: the security administrator's, nobody else's
    assert web_for("security_admin").get("/security/users").status_code == 200
    assert web_for("admin").get("/security/users").status_code == 403
    assert web_for("auditor").get("/security/users/xinsheng_laogan").status_code == 403


def test_nobody_holds_two_of_the_three(api, sessions, web_for, app, clock):
    with sessions() as s:
        held = {u.username: sorted(r.role for r in u.roles) for u in s.scalars(select(User))}
    assert {u: held[u] for u in THREE} == {u: [u] for u in THREE}
    for user, extra in (("admin", "auditor"), ("auditor", "security_admin"), ("security_admin", "admin"),
                        ("admin", "process_owner"), ("owner", "admin")):
        r = api.post(f"/api/v1/users/{user}/roles", "security_admin", json={"role": extra})
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["error"] == "separation_of_duties" and extra in r.get_json()["message"]
    # the page refuses it too, and says why in Chinese
    web = web_for("security_admin")
    page = web.get("/security/users/auditor")
    r = web.post("/security/users/auditor/grant", {"role": "admin", "node_id": ""}, follow_redirects=True)
    assert r.status_code == 200 and "三员分立" in r.get_data(as_text=True)
    # the command line and the org import go through the same grant
    result = app.test_cli_runner().invoke(args=["create-user", "it_person", "--password", "Correct-Horse-42",
                                                "--role", "admin", "--role", "auditor"])
    assert result.exit_code != 0 and "auditor" in result.output
    with write_intent(), sessions() as s:
        with pytest.raises(org.SeparationOfDuties, match="security_admin"):
            org.import_rows(s, [{"kind": "role", "username": "auditor", "role": "security_admin"}],
                            lambda p: p, clock.now())
        s.rollback()
    with sessions() as s:  # nothing was granted anywhere
        held = {u.username: sorted(r.role for r in u.roles) for u in s.scalars(select(User))}
    assert {u: held[u] for u in THREE} == {u: [u] for u in THREE} and "it_person" not in held
    assert page.status_code == 200


def test_only_the_auditor_reads_the_audit_log(api, sessions, web_for):
    ids = confidential_cases(api, sessions)
    assert api.get(f"/api/v1/clues/{ids['clue_record']}", "xinsheng_secretary").status_code == 200
    assert api.get("/api/v1/clues", "group_member", query_string={"format": "xlsx"}).status_code == 200
    assert api.get(f"/tasks/{ids['talk']}", "admin").status_code == 200
    assert api.post("/api/v1/users/xinsheng_laogan/roles", "security_admin",
                    json={"role": "member", "node_id": "xinsheng"}).status_code == 200
    for user in ("admin", "security_admin", "group_secretary", "xinsheng_laogan"):
        assert api.get("/api/v1/audit-events", user).status_code == 403, user
        assert web_for(user).get("/audit").status_code == 403, user
    r = api.get("/api/v1/audit-events", "auditor", query_string={"per_page": 500})
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert r.get_json()["total"] == len(items) and [e["id"] for e in items] == sorted((e["id"] for e in items),
                                                                                       reverse=True)
    kinds = {(e["type"], e["actor"]) for e in items}
    assert {("confidential_viewed", "xinsheng_secretary"), ("exported", "group_member"),
            ("confidential_viewed", "admin"), ("role_granted", "security_admin"), ("access_refused", "admin"),
            ("task_completed", "xinsheng_deputy")} <= kinds
    viewed = [e for e in items if e["type"] == "confidential_viewed" and e["actor"] == "admin"]
    assert viewed[0]["payload"]["redacted"] is True and viewed[0]["task_id"] == ids["talk"]
    text = json.dumps(items, ensure_ascii=False)
    assert MARK in text and not [s for s in SECRETS if s in text]
    # filters: type, actor, dates
    only = api.get("/api/v1/audit-events", "auditor", query_string={"type": "exported", "per_page": 500})
    assert {e["type"] for e in only.get_json()["items"]} == {"exported"}
    mine = api.get("/api/v1/audit-events", "auditor", query_string={"actor": "security_admin"}).get_json()["items"]
    assert {e["actor"] for e in mine} == {"security_admin"} and mine
    assert api.get("/api/v1/audit-events", "auditor", query_string={"from": "2027-01-06"}).get_json()["items"] == []
    assert api.get("/api/v1/audit-events", "auditor", query_string={"from": "1月"}).status_code == 422
    with sessions() as s:
        assert s.scalars(select(EventLog).where(EventLog.type == "confidential_viewed")).first() is not None
    page = web_for("auditor").get("/audit?type=role_granted")
    assert page.status_code == 200 and "role_granted" in page.get_data(as_text=True)


def body_text(r: Any) -> str:
    if r.mimetype.endswith("spreadsheetml.sheet"):
        with zipfile.ZipFile(io.BytesIO(r.data)) as z:
            return "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
    return r.get_data(as_text=True)


def test_the_system_administrator_sweeps_every_page_and_endpoint(api, sessions):
    """Every GET endpoint of the OpenAPI document (lists, and by id every instance, task and clue)
    and every page reachable by links from the task list, as the system administrator: the
    confidential texts appear nowhere, though the objects holding them do."""
    ids = confidential_cases(api, sessions)
    with sessions() as s:
        by_kind = {"process-instances": list(s.scalars(select(ProcessInstance.id))),
                   "tasks": list(s.scalars(select(HumanTask.id))),
                   "clues": list(s.scalars(select(Record.id).where(Record.kind == "clue")))}
    doc = api.get("/api/v1/openapi.json", "admin").get_json()
    fetched: dict[str, int] = {}
    for path, ops in doc["paths"].items():
        if "get" not in ops:
            continue
        params = {p["name"] for p in ops["get"].get("parameters", []) if p.get("in") == "query"}
        urls = [path]
        if "{" in path:
            kind = path.split("/")[3]
            urls = [path.replace("{id}", str(i)) for i in by_kind.get(kind, [])] if path.count("{") == 1 else []
        for url in urls:
            for query in ({"per_page": 500} if "per_page" in params else {},
                          {"format": "xlsx"} if "format" in params else None):
                if query is None:
                    continue
                r = api.get(url, "admin", query_string=query)
                fetched[f"{url}?{query}"] = r.status_code
                if r.status_code == 200:
                    leaked = [s for s in SECRETS if s in body_text(r)]
                    assert not leaked, (url, query, leaked)
    assert fetched[f"/api/v1/process-instances/{ids['clue']}?{{}}"] == 200
    assert fetched[f"/api/v1/clues/{ids['clue_record']}?{{}}"] == 200
    assert fetched["/api/v1/clues?{'format': 'xlsx'}"] == 200
    assert sum(1 for code in fetched.values() if code == 200) >= 40
    # the pages: breadth-first from the task list, every link of this site
    queue, seen = ["/tasks"], {"/tasks"}
    pages = 0
    while queue and pages < 400:
        url = queue.pop(0)
        r = api.get(url, "admin")
        if r.status_code != 200:
            continue
        pages += 1
        text = body_text(r)
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, (url, leaked)
        if r.mimetype == "text/html":
            for link in re.findall(r'href="(/[^"#]*)', text):
                link = html.unescape(link)
                if link.startswith(("/static", "/logout")) or link in seen:
                    continue
                seen.add(link)
                queue.append(link)
    assert {f"/instances/{ids['clue']}", f"/instances/{ids['adhoc']}", "/registers/clues",
            f"/registers/clues/{ids['clue_record']}"} <= seen
    assert pages >= 30, (pages, sorted(seen))


INCIDENT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_leaky" targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="leaky_incident" name="线索故障" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_group" name="集团公司纪委">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>lookup</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="startVariables" value="clue_person" />
    </spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="lookup" />
    <bpmn:scriptTask id="lookup" name="查找被反映人">
      <bpmn:script>title = "线索：" + clue_person
found = {}[clue_person]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="lookup" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_incidents_quote_no_confidential_value_to_the_administrator(api):
    """A script failing on a confidential value: the operator reads where and why it failed, and the
    traceback, with the value replaced; the committee reads it as it is."""
    r = api.post("/api/v1/process-definitions?filename=leaky.bpmn", "owner", data=INCIDENT.encode(),
                 content_type="application/xml")
    assert r.status_code == 201, r.get_json()
    r = api.post("/api/v1/process-definitions/leaky_incident/start", "group_secretary",
                 json={"variables": {"clue_person": "王某某SECRET"}})
    assert r.status_code == 201 and r.get_json()["status"] == "error", r.get_json()
    iid = r.get_json()["id"]
    mine = api.get(f"/api/v1/process-instances/{iid}", "group_secretary").get_json()
    assert "王某某SECRET" in mine["incident"]["message"]
    detail = api.get(f"/api/v1/process-instances/{iid}", "admin").get_json()
    assert detail["incident"]["task"] == "lookup" and MARK in detail["incident"]["message"]
    assert "KeyError" in detail["incident"]["traceback"] and MARK in detail["incident"]["traceback"]
    for path in (f"/api/v1/process-instances/{iid}", f"/api/v1/process-instances/{iid}/history",
                 "/api/v1/process-instances?incident=1", f"/instances/{iid}", "/instances?incident=1",
                 f"/instances/{iid}/retry"):
        r = api.get(path, "admin")
        assert r.status_code == 200, path
        assert "王某某SECRET" not in r.get_data(as_text=True), path
