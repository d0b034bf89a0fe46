"""The diagram endpoints: validate without storing, version diff, instance diagram, heatmap, modeler config."""
from __future__ import annotations

from sqlalchemy import delete, func, select

from engine.models import ElementState, HumanTask, ProcessDefinition, ProcessInstance
from tests.conftest import BPMN

TRACED = BPMN / "traced.bpmn"
XML = "application/xml"


def definition_count(app) -> int:
    from api.extensions import state

    with state(app).sessions() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition))


def open_task(api, user, spec_id, instance_id=None):
    [task] = [t for t in api.tasks(user) if t["spec_id"] == spec_id
              and (instance_id is None or t["instance_id"] == instance_id)]
    return task


def start_traced(api, approved=True, complete_group=True):
    r = api.post("/api/v1/process-definitions/traced/start", "group_secretary", json={"variables": {"unit_id": "xinsheng"}})
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    if complete_group:
        task = open_task(api, "group_secretary", "group_task", inst["id"])
        r = api.post(f"/api/v1/tasks/{task['id']}/complete", "group_secretary",
                     json={"data": {"comment": "下达", "approved": approved}})
        assert r.status_code == 200, r.get_json()
    return inst


# ---- validate --------------------------------------------------------------------------------------

def test_validate_accepts_a_good_diagram_and_stores_nothing(api, app):
    r = api.post("/api/v1/process-definitions/validate?filename=traced.bpmn", "owner", data=TRACED.read_bytes(),
                 content_type=XML)
    assert r.status_code == 200
    body = r.get_json()
    assert body["valid"] is True and body["errors"] == []
    assert [p["key"] for p in body["processes"]] == ["traced", "traced_branch"]
    assert definition_count(app) == 0


def test_validate_lists_problems_with_element_and_line(api, app):
    xml = TRACED.read_text(encoding="utf-8")
    bad = (xml.replace('name="权属单位纪委"', 'name="某某部门"')
              .replace("branch_ids = org_branches(unit_id)", "import os"))
    r = api.post("/api/v1/process-definitions/validate", "owner", data=bad.encode(), content_type=XML)
    assert r.status_code == 200
    body = r.get_json()
    assert body["valid"] is False
    by_element = {e["element_id"]: e for e in body["errors"]}
    assert "某某部门" in by_element["unit_task"]["message"]
    assert "import" in by_element["pick"]["message"]
    lines = xml.splitlines()
    assert 'id="unit_task"' in lines[by_element["unit_task"]["line"] - 1]
    assert 'id="pick"' in lines[by_element["pick"]["line"] - 1]
    assert definition_count(app) == 0


def test_validate_reports_malformed_xml_with_its_line(api):
    doc = b'<?xml version="1.0"?>\n<definitions>\n  <process id="p">\n</definitions>\n'
    r = api.post("/api/v1/process-definitions/validate", "owner", data=doc, content_type=XML)
    assert r.status_code == 200
    body = r.get_json()
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 4 and "mismatch" in body["errors"][0]["message"]


def test_validate_needs_process_owner_and_xml(api):
    r = api.post("/api/v1/process-definitions/validate", "xinsheng_laogan", data=TRACED.read_bytes(), content_type=XML)
    assert r.status_code == 403
    # 三员分立: the system administrator reads instances, so it does not author diagrams
    assert api.post("/api/v1/process-definitions/validate", "admin", data=TRACED.read_bytes(),
                    content_type=XML).status_code == 403
    r = api.post("/api/v1/process-definitions/validate", "owner", json={"xml": "x"})
    assert r.status_code == 415
    assert api.post("/api/v1/process-definitions/validate", data=TRACED.read_bytes(), content_type=XML).status_code == 401


# ---- diff --------------------------------------------------------------------------------------------

def test_diff_between_two_versions(api):
    assert api.deploy(TRACED).status_code == 201
    xml = TRACED.read_text(encoding="utf-8")
    changed = (xml.replace('name="单位落实"', 'name="单位研究落实"')
                  .replace('value="P10D"', 'value="P7D"')
                  .replace("approved == True</bpmn", "approved is True</bpmn")
                  .replace("<bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">P5D", "<bpmn:timeDuration xsi:type=\"bpmn:tFormalExpression\">P3D")
                  .replace('<dc:Bounds x="650" y="240"', '<dc:Bounds x="660" y="250"'))
    r = api.post("/api/v1/process-definitions?filename=traced.bpmn", "owner", data=changed.encode(), content_type=XML)
    assert r.status_code == 201, r.get_json()
    r = api.get("/api/v1/process-definitions/traced/diff", "owner")
    assert r.status_code == 200
    d = r.get_json()
    assert (d["from"]["version"], d["to"]["version"]) == (1, 2)
    changes = {c["id"]: {x["field"]: (x["from"], x["to"]) for x in c["changes"]} for c in d["changed"]}
    assert changes["unit_task"] == {"name": ("单位落实", "单位研究落实")}
    assert changes["group_task"] == {"property.dueIn": ("P10D", "P7D")}
    assert changes["f_yes"] == {"condition": ("approved == True", "approved is True")}
    assert changes["remind"] == {"timer.timeDuration": ("P5D", "P3D")}
    assert d["added"] == [] and d["removed"] == []
    assert d["layout_changed"] == ["pick"]
    # explicit versions, the other way round
    r = api.get("/api/v1/process-definitions/traced/diff?from=2&to=1", "xinsheng_member")
    assert r.get_json()["summary"]["changed"] == 4
    assert api.get("/api/v1/process-definitions/traced/diff?from=1&to=9", "owner").status_code == 404
    assert api.get("/api/v1/process-definitions/traced/diff?from=x", "owner").status_code == 422
    assert api.get("/api/v1/process-definitions/nope/diff", "owner").status_code == 404


# ---- instance diagram --------------------------------------------------------------------------------

def test_instance_diagram_states_and_visibility(api):
    api.deploy(TRACED)
    inst = start_traced(api)
    r = api.get(f"/api/v1/process-instances/{inst['id']}/diagram", "admin")
    assert r.status_code == 200
    d = r.get_json()
    assert d["xml"].startswith("<?xml") and "unit_task" in d["xml"]
    assert {"start", "group_task", "gw", "f1", "f2", "f_yes"} <= set(d["completed"])
    assert "unit_task" in d["active"] and "remind" in d["active"]  # the armed boundary timer too
    assert "f_no" not in d["completed"] and "end_no" not in d["completed"] and "unit_task" not in d["completed"]
    assert d["failed"] == []
    assert [t["spec_id"] for t in d["open_tasks"]] == ["unit_task"]
    # the unit's committee sees it; another unit's committee and the commissioners do not
    assert api.get(f"/api/v1/process-instances/{inst['id']}/diagram", "xinsheng_member").status_code == 200
    assert api.get(f"/api/v1/process-instances/{inst['id']}/diagram", "xuchang_member").status_code == 404
    assert api.get(f"/api/v1/process-instances/{inst['id']}/diagram", "xinsheng_laogan").status_code == 404
    assert api.get("/api/v1/process-instances/999999/diagram", "admin").status_code == 404


def test_instance_diagram_marks_the_failed_element(api):
    api.deploy(BPMN / "incident.bpmn")
    r = api.post("/api/v1/process-definitions/incident_test/start", "group_secretary", json={"variables": {"divisor": 0}})
    assert r.status_code == 201
    inst = r.get_json()
    assert inst["status"] == "error"
    d = api.get(f"/api/v1/process-instances/{inst['id']}/diagram", "admin").get_json()
    assert d["failed"] == ["divide"]
    assert "divide" not in d["active"]
    # the state is kept as it was before the failing engine steps: the start event is ready again
    assert "start" in d["active"] + d["completed"]
    assert d["incident"]["task"] == "divide"


def test_fan_out_children_have_their_own_diagram(api, app):
    api.deploy(TRACED)
    inst = start_traced(api)
    task = open_task(api, "xinsheng_member", "unit_task")
    assert api.post(f"/api/v1/tasks/{task['id']}/complete", "xinsheng_member", json={"data": {"comment": "落实"}}).status_code == 200
    parent = api.get(f"/api/v1/process-instances/{inst['id']}/diagram", "admin").get_json()
    assert "fan" in parent["active"] and {"pick", "unit_task", "f_pick", "f_fan"} <= set(parent["completed"])
    children = api.get(f"/api/v1/process-instances?parent_id={inst['id']}", "admin").get_json()["items"]
    assert len(children) == 3
    child = api.get(f"/api/v1/process-instances/{children[0]['id']}/diagram", "admin").get_json()
    assert child["process_key"] == "traced_branch"
    assert child["active"] == ["branch_task"] and "b_start" in child["completed"]


# ---- heatmap -----------------------------------------------------------------------------------------

def test_heatmap_counts_instances_at_and_through_each_element(api, app):
    api.deploy(TRACED)
    start_traced(api)                        # at unit_task
    start_traced(api, complete_group=False)  # at group_task
    rejected = start_traced(api, approved=False)  # ended at end_no
    assert api.get(f"/api/v1/process-instances/{rejected['id']}", "admin").get_json()["status"] == "completed"
    r = api.get("/api/v1/process-definitions/traced/heatmap", "owner")
    assert r.status_code == 200
    h = r.get_json()
    assert h["version"] == 1 and "<bpmn:definitions" in h["xml"]
    assert h["instances"]["total"] == 3 and h["instances"]["running"] == 2 and h["instances"]["completed"] == 1
    e = h["elements"]
    assert e["start"]["completed"] == 3
    assert e["group_task"] == {"active": 1, "completed": 2, "failed": 0}
    assert e["unit_task"]["active"] == 1 and e["unit_task"]["completed"] == 0
    assert e["end_no"]["completed"] == 1
    assert h["max"]["active"] == 1 and h["max"]["completed"] == 3
    # a unit committee counts only what it may trace
    other = api.get("/api/v1/process-definitions/traced/heatmap?version=1", "xuchang_member").get_json()
    assert other["instances"]["total"] == 0 and other["elements"] == {}
    assert api.get("/api/v1/process-definitions/traced/heatmap?version=7", "owner").status_code == 404


def test_heatmap_reads_instances_without_recorded_states(api, app):
    """Instances saved before element states were recorded are read from their workflow."""
    from api.extensions import state

    api.deploy(TRACED)
    start_traced(api)
    before = api.get("/api/v1/process-definitions/traced/heatmap", "owner").get_json()["elements"]
    with state(app).sessions() as s:
        assert s.scalar(select(func.count()).select_from(ElementState)) > 0
        s.execute(delete(ElementState))
        s.commit()
    after = api.get("/api/v1/process-definitions/traced/heatmap", "owner").get_json()["elements"]
    assert after == before


def test_element_states_follow_the_runtime(api, app):
    from api.extensions import state

    api.deploy(TRACED)
    inst = start_traced(api, complete_group=False)
    with state(app).sessions() as s:
        rows = set(s.execute(select(ElementState.element_id, ElementState.state)
                             .where(ElementState.instance_id == inst["id"])).all())
    assert ("group_task", "active") in rows and ("start", "completed") in rows
    api.post(f"/api/v1/process-instances/{inst['id']}/terminate", "admin", json={"reason": "test"})
    h = api.get("/api/v1/process-definitions/traced/heatmap", "owner").get_json()
    assert h["elements"].get("group_task", {}).get("active", 0) == 0  # ended instances are at no element
    assert h["elements"]["start"]["completed"] == 1
    with state(app).sessions() as s:
        assert s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open")) == 0
        assert s.get(ProcessInstance, inst["id"]).status == "terminated"


# ---- modeler config ------------------------------------------------------------------------------------

def test_modeler_config(api):
    r = api.get("/api/v1/modeler/config", "owner")
    assert r.status_code == 200
    c = r.get_json()
    assert {"filename": "simple.schema.json", "title": "测试表单"} in c["forms"]
    assert c["lane_tiers"]["基层党支部纪律检查委员"] == "branch"
    assert "commissioner" in c["roles"]
    assert "formJsonSchemaFilename" in [p["name"] for p in c["task_properties"]]
    assert api.get("/api/v1/modeler/config").status_code == 401
