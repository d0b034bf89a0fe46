"""Deploying BPMN: versions, identical XML, hostile documents, real diagrams from other tools."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import ProcessDefinition
from tests.conftest import BPMN, MIWG



def count_definitions(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(ProcessDefinition))


def deploy_xml(api, xml: str | bytes, user: str = "owner", name: str = "x.bpmn"):
    return api.post(f"/api/v1/process-definitions?filename={name}", user,
                    data=xml.encode() if isinstance(xml, str) else xml, content_type="application/xml")


def test_versions_and_identical_xml(api, sessions):
    r = api.deploy(BPMN / "three_tier.bpmn")
    assert r.status_code == 201
    body = r.get_json()
    assert body["created"] is True
    assert {(d["key"], d["version"]) for d in body["definitions"]} == {("three_tier", 1), ("three_tier_branch", 1)}
    again = api.deploy(BPMN / "three_tier.bpmn")
    assert again.status_code == 200 and again.get_json()["created"] is False
    changed = (BPMN / "three_tier.bpmn").read_text().replace("集团下达", "集团下达任务")
    r = deploy_xml(api, changed, name="three_tier.bpmn")
    assert r.status_code == 201
    versions = api.get("/api/v1/process-definitions/three_tier/versions", "owner").get_json()
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert versions["items"][0]["deployed_by"] == "owner"
    xml1 = api.get("/api/v1/process-definitions/three_tier/xml?version=1", "owner")
    assert xml1.status_code == 200 and "集团下达任务" not in xml1.get_data(as_text=True)
    assert "集团下达任务" in api.get("/api/v1/process-definitions/three_tier/xml", "owner").get_data(as_text=True)
    assert api.get("/api/v1/process-definitions/three_tier/xml?version=9", "owner").status_code == 404
    detail = api.get("/api/v1/process-definitions/three_tier", "group_member").get_json()
    assert detail["version"] == 2
    assert {t["id"]: t["tier"] for t in detail["user_tasks"]} == {"group_task": "group", "unit_task": "unit"}
    # multipart upload works too; only process owners deploy (not the system administrator: 三员分立)
    with open(BPMN / "incident.bpmn", "rb") as f:
        r = api.post("/api/v1/process-definitions", "admin", data={"file": (f, "incident.bpmn")},
                     content_type="multipart/form-data")
    assert r.status_code == 403
    with open(BPMN / "incident.bpmn", "rb") as f:
        r = api.post("/api/v1/process-definitions", "owner", data={"file": (f, "incident.bpmn")},
                     content_type="multipart/form-data")
    assert r.status_code == 201
    assert api.deploy(BPMN / "message.bpmn", user="group_secretary").status_code == 403
    # all processes of a file deploy together: the unchanged child process got version 2 as well
    assert count_definitions(sessions) == 5


def test_running_instances_stay_on_their_version(api):
    api.deploy(BPMN / "three_tier.bpmn")
    inst = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                    json={"variables": {"unit_id": "xinsheng"}}).get_json()
    deploy_xml(api, (BPMN / "three_tier.bpmn").read_text().replace('name="单位落实"', 'name="单位落实方案"'))
    tid = inst["open_tasks"][0]["id"]
    assert api.post(f"/api/v1/tasks/{tid}/complete", "group_secretary", json={"data": {"comment": "x"}}).status_code == 200
    after = api.get(f"/api/v1/process-instances/{inst['id']}", "admin").get_json()
    assert after["definition_version"] == 1 and after["open_tasks"][0]["name"] == "单位落实"
    new = api.post("/api/v1/process-definitions/three_tier/start", "group_secretary",
                   json={"variables": {"unit_id": "xinsheng"}}).get_json()
    assert new["definition_version"] == 2


SECRET = Path("/etc/hostname").read_text().strip() or "localhost"

HOSTILE = {
    "external entity": f"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true"><bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process>
</bpmn:definitions>""",
    "billion laughs": """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true"><bpmn:documentation>&lol4;</bpmn:documentation></bpmn:process>
</bpmn:definitions>""",
    "malformed": "<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'><bpmn:process>",
    "not bpmn": "<html><body>hello</body></html>",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_is_refused_and_nothing_stored(api, sessions, name):
    r = deploy_xml(api, HOSTILE[name])
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["error"] == "invalid" and body["message"]
    text = r.get_data(as_text=True)
    if name == "external entity":
        assert SECRET not in text
    assert count_definitions(sessions) == 0


def test_ten_megabytes_is_413(api, sessions):
    big = "<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>" + " " * (10 * 1024 * 1024)
    r = deploy_xml(api, big)
    assert r.status_code == 413 and r.get_json()["error"] == "too_large"
    assert count_definitions(sessions) == 0


def test_forbidden_script_and_laneless_task_name_the_element(api, sessions):
    base = (BPMN / "incident.bpmn").read_text()
    r = deploy_xml(api, base.replace("ratio = 10 / divisor", "__import__('os').system('id')"))
    assert r.status_code == 422
    detail = r.get_json()["details"][0]
    assert detail["element_id"] == "divide" and "__import__" in detail["message"] and detail["line"] > 0
    r = deploy_xml(api, base.replace("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", ""))
    assert r.status_code == 422
    detail = r.get_json()["details"][0]
    assert detail["element_id"] == "review" and "lane" in detail["message"]
    r = deploy_xml(api, base.replace('name="集团公司纪委"', 'name="财务科"'))
    assert r.status_code == 422 and "does not name a tier" in r.get_json()["details"][0]["message"]
    bad_form = (BPMN / "three_tier.bpmn").read_text().replace('value="simple.schema.json" />\n          <spiffworkflow:property name="dueIn"',
                                                             'value="missing.json" />\n          <spiffworkflow:property name="dueIn"')
    r = deploy_xml(api, bad_form)
    assert r.status_code == 422 and "missing.json" in r.get_json()["message"]
    bad_timer = (BPMN / "deadline.bpmn").read_text().replace("<bpmn:timeDuration>P2D</bpmn:timeDuration>",
                                                            "<bpmn:timeDuration>two days</bpmn:timeDuration>")
    r = deploy_xml(api, bad_timer)
    assert r.status_code == 422 and r.get_json()["details"][0]["element_id"] == "late"
    bad_call = (BPMN / "three_tier.bpmn").read_text().replace('calledElement="three_tier_branch"', 'calledElement="ghost"')
    r = deploy_xml(api, bad_call)
    assert r.status_code == 422 and "ghost" in r.get_json()["message"]
    assert count_definitions(sessions) == 0


@pytest.mark.skipif(not MIWG.is_dir(), reason="BPMN MIWG reference diagrams are not on this machine")
@pytest.mark.parametrize("path", sorted(MIWG.glob("*.bpmn")) if MIWG.is_dir() else [], ids=lambda p: p.name)
def test_miwg_reference_diagrams_deploy_or_are_refused_clearly(api, path):
    r = api.deploy(path)
    assert r.status_code in (200, 201, 422), (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    if r.status_code == 422:
        assert body["error"] == "invalid" and len(body["message"]) > 10
        assert isinstance(body["details"], list) and body["details"]
