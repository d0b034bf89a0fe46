"""Forms as deployed resources with versions (issue 15 item 1): deploy, same content, versions,
pins (an instance keeps the form version it started with), refusals naming the field."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from engine.core.form_models import DefinitionForm
from engine.models import ProcessDefinition

NOTE_V1 = {
    "title": "情况说明",
    "type": "object",
    "required": ["note"],
    "properties": {
        "note": {"type": "string", "title": "说明"},
        "level": {"type": "string", "title": "等级", "enum": ["low", "high"], "enumNames": ["一般", "重要"]},
    },
}
# v2 requires the level too: data valid under v1 (no level) is refused by v2
NOTE_V2 = {**NOTE_V1, "required": ["note", "level"]}


def diagram(form: str = "pin_note.json", key: str = "form_pin") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_{key}"
    targetNamespace="http://sanji.example/bpmn">
  <bpmn:process id="{key}" name="表单版本测试" isExecutable="true">
    <bpmn:laneSet id="LS">
      <bpmn:lane id="L_branch" name="基层党支部纪律检查委员">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>write_note</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="write_note" />
    <bpmn:userTask id="write_note" name="填写说明">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="{form}" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="write_note" targetRef="end" />
    <bpmn:endEvent id="end" name="结束" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_form(api, schema, key="pin_note.json", user="owner"):
    return api.post("/api/v1/forms", user, json={"key": key, "schema": schema})


def deploy_xml(api, xml: str, filename: str = "form_pin.bpmn"):
    return api.post(
        f"/api/v1/process-definitions?filename={filename}", "owner", data=xml.encode(), content_type="application/xml"
    )


def plan(api) -> list[tuple[str, int | None, int | None]]:
    """The modeler's validate: (process, current version, version a deploy would make)."""
    r = api.post("/api/v1/process-definitions/validate?filename=form_pin.bpmn", "owner",
                 data=diagram().encode(), content_type="application/xml")
    return [(p["key"], p["current_version"], p["new_version"]) for p in r.get_json()["processes"]]


def start(api):
    r = api.post("/api/v1/process-definitions/form_pin/start", "xinsheng_laogan", json={"variables": {}})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_deploy_same_content_and_new_versions(api):
    r = deploy_form(api, NOTE_V1)
    assert r.status_code == 201
    body = r.get_json()
    assert (body["key"], body["version"], body["created_by"]) == ("pin_note.json", 1, "owner")
    assert body["created_at"] == "2027-01-05T01:00:00+00:00"  # START (09:00 +08:00) in UTC
    # the same content (other key order, as text) → 200, the same version
    again = api.post("/api/v1/forms", "owner", json={"key": "pin_note.json", "schema": json.dumps(NOTE_V1, indent=4)})
    assert again.status_code == 200 and again.get_json()["version"] == 1
    # a .json file (multipart): the key is the file name
    r = api.post(
        "/api/v1/forms",
        "owner",
        data={"file": (io.BytesIO(json.dumps(NOTE_V2).encode()), "pin_note.json")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 201 and r.get_json()["version"] == 2
    listed = {f["key"]: f for f in api.get("/api/v1/forms", "xinsheng_laogan").get_json()["items"]}
    assert listed["pin_note.json"]["version"] == 2 and listed["pin_note.json"]["title"] == "情况说明"
    assert "web_report.json" in listed  # the fixtures deploy forms/ and tests/forms/ like init-db
    v1 = api.get("/api/v1/forms/pin_note.json?version=1", "xinsheng_laogan").get_json()
    assert v1["version"] == 1 and v1["schema"] == NOTE_V1
    assert api.get("/api/v1/forms/pin_note.json", "xinsheng_laogan").get_json()["schema"] == NOTE_V2
    r = api.get("/api/v1/forms/pin_note.json?version=9", "xinsheng_laogan")
    assert r.status_code == 404
    assert api.get("/api/v1/forms/nope.json", "xinsheng_laogan").status_code == 404


def test_bad_json_and_invalid_schema_are_422_naming_the_field(api):
    r = api.post("/api/v1/forms", "owner", json={"key": "bad.json", "schema": '{\n  "type": "object",\n  "title": }'})
    assert r.status_code == 422
    [d] = r.get_json()["details"]
    assert (d["field"], d["code"], d["line"], d["column"]) == ("schema", "json", 3, 12)
    bad = {"type": "object", "properties": {"name": {"type": "strin"}}}
    r = deploy_form(api, bad, key="bad.json")
    assert r.status_code == 422
    assert [d["field"] for d in r.get_json()["details"]] == ["schema/properties/name/type"]
    ext = {
        "type": "object",
        "properties": {"memo": {"type": "string", "x-widget": "bigbox"}},
        "required": ["memo", "x"],
    }
    r = deploy_form(api, ext, key="bad.json")
    assert r.status_code == 422
    assert [d["field"] for d in r.get_json()["details"]] == ["schema/required/1", "schema/properties/memo/x-widget"]
    r = deploy_form(api, NOTE_V1, key="../etc.json")
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "key"
    assert api.get("/api/v1/forms/bad.json", "owner").status_code == 404  # nothing written
    r = api.post("/api/v1/forms/check", "owner", json={"schema": bad})
    assert r.status_code == 422 and r.get_json()["details"][0]["field"] == "schema/properties/name/type"
    assert api.post("/api/v1/forms/check", "owner", json={"schema": NOTE_V1}).get_json() == {"problems": []}


def test_only_process_owners_deploy_forms(api):
    for user in ("admin", "xinsheng_secretary"):
        r = deploy_form(api, NOTE_V1, user=user)
        assert r.status_code == 403, user
    assert api.get("/api/v1/forms/pin_note.json", "owner").status_code == 404


def test_diagram_referencing_a_missing_form_is_refused_on_the_element(api):
    r = deploy_xml(api, diagram(form="missing_form.json"))
    assert r.status_code == 422
    [d] = [d for d in r.get_json()["details"] if "missing_form.json" in d["message"]]
    assert d["element_id"] == "write_note"
    r = api.post(
        "/api/v1/process-definitions/validate?filename=form_pin.bpmn",
        "owner",
        data=diagram(form="missing_form.json").encode(),
        content_type="application/xml",
    )
    assert r.status_code == 200
    errors = r.get_json()["errors"]
    assert [e["element_id"] for e in errors if "missing_form.json" in e["message"]] == ["write_note"]


def test_instance_keeps_the_form_version_it_started_with(api, sessions):
    # the diagram and its form, in one multipart deploy: the definition pins form v1
    r = api.post(
        "/api/v1/process-definitions",
        "owner",
        content_type="multipart/form-data",
        data={
            "file": (io.BytesIO(diagram().encode()), "form_pin.bpmn"),
            "forms": (io.BytesIO(json.dumps(NOTE_V1).encode()), "pin_note.json"),
        },
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert [(f["key"], f["version"]) for f in body["forms"]] == [("pin_note.json", 1)]
    first = start(api)
    # v2 is deployed, and the diagram again: the unchanged XML becomes a new version pinning v2
    assert deploy_form(api, NOTE_V2).status_code == 201
    # the modeler's plan says so before the deploy: a changed form alone makes a new version
    assert plan(api) == [("form_pin", 1, 2)]
    r = deploy_xml(api, diagram())
    assert r.status_code == 201 and r.get_json()["definitions"][0]["version"] == 2
    assert plan(api) == [("form_pin", 2, None)]
    with sessions() as s:
        pins = dict(
            s.execute(
                select(ProcessDefinition.version, DefinitionForm.form_version)
                .join(DefinitionForm, DefinitionForm.definition_id == ProcessDefinition.id)
                .where(ProcessDefinition.key == "form_pin")
            ).all()
        )
    assert pins == {1: 1, 2: 2}
    assert deploy_xml(api, diagram()).status_code == 200  # now unchanged
    second = start(api)
    t1, t2 = first["open_tasks"][0]["id"], second["open_tasks"][0]["id"]
    assert api.get(f"/api/v1/tasks/{t1}", "xinsheng_laogan").get_json()["form"] == {**NOTE_V1, "prefill": {}}  # the schema served, with its prefill (form-fields)
    assert api.get(f"/api/v1/tasks/{t2}", "xinsheng_laogan").get_json()["form"] == {**NOTE_V2, "prefill": {}}  # the schema served, with its prefill (form-fields)
    # the instance started on v1 still validates against v1: no level is fine there, refused by v2
    r = api.post(f"/api/v1/tasks/{t2}/complete", "xinsheng_laogan", json={"data": {"note": "已说明"}})
    assert r.status_code == 422
    assert [d["field"] for d in r.get_json()["details"]] == ["level"]
    r = api.post(f"/api/v1/tasks/{t1}/complete", "xinsheng_laogan", json={"data": {"note": "已说明"}})
    assert r.status_code == 200 and r.get_json()["instance_status"] == "completed"
    versions = api.get("/api/v1/forms/pin_note.json/versions", "owner").get_json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert versions["used_by"] == [
        {"process": "form_pin", "version": 1, "form_version": 1},
        {"process": "form_pin", "version": 2, "form_version": 2},
    ]


def test_confidential_fields_of_deployed_forms_are_redacted_too(api, app):
    from engine.org import confidential

    folder = app.extensions["sanji"].settings.forms_dir
    assert "whistle_name" not in confidential.confidential_keys(folder)
    secret = {"type": "object", "properties": {"whistle_name": {"type": "string", "x-confidential": True}}}
    assert deploy_form(api, secret, key="secret_form.json").status_code == 201
    assert "whistle_name" in confidential.confidential_keys(folder)
