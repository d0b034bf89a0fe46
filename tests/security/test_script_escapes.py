"""Sandbox escapes in deployed BPMN: refused at deploy, or an incident within a time bound —
never run. Every attempt tries to create a sentinel file; it must never appear."""
from __future__ import annotations

import time
from xml.sax.saxutils import escape

import pytest

from tests.conftest import BPMN

TEMPLATE = (BPMN / "incident.bpmn").read_text()


def diagram(script: str, key: str = "escape_test", rule: str | None = None, due: str | None = None) -> bytes:
    xml = TEMPLATE.replace("ratio = 10 / divisor", escape(script)).replace("incident_test", key)
    props = []
    if rule:
        props.append(f'<spiffworkflow:property name="validate" value="{escape(rule, {chr(34): "&quot;"})}" />')
    if due:
        props.append(f'<spiffworkflow:property name="dueAt" value="{escape(due, {chr(34): "&quot;"})}" />')
    if props:
        xml = xml.replace('<bpmn:userTask id="review" name="审阅" />',
                          '<bpmn:userTask id="review" name="审阅"><bpmn:extensionElements><spiffworkflow:properties>'
                          + "".join(props) + "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>")
    return xml.encode()


def deploy(api, xml: bytes):
    return api.post("/api/v1/process-definitions?filename=escape.bpmn", "owner", data=xml,
                    content_type="application/xml")


@pytest.fixture
def sentinel(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a script escaped the sandbox"


@pytest.mark.parametrize("script", [
    "__import__('os').system('touch {s}')",
    "import os\nos.system('touch {s}')",
    "from os import system\nsystem('touch {s}')",
    "x = ().__class__.__subclasses__()",
    "x = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0](['touch', '{s}'])",
    "open('{s}', 'w').write('x')",
    "f = getattr(__builtins__, 'open')\nf('{s}', 'w')",
    "x = globals()['__builtins__']",
    "g = (i for i in [1])\nx = g.gi_frame.f_globals",
    "f = lambda: 1\nx = f()",
    "eval(\"__import__('os').system('touch {s}')\")",
    "exec(\"open('{s}', 'w')\")",
    "x = type(1).__subclasses__()",
    "x = 10 ** 100000000",
])
def test_escape_attempts_are_refused_at_deploy(api, sentinel, script):
    r = deploy(api, diagram(script.format(s=sentinel)))
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["error"] == "invalid" and any("divide" == d.get("element_id") for d in body["details"]), body
    assert api.get("/api/v1/process-definitions/escape_test", "owner").status_code == 404


@pytest.mark.parametrize("where", ["validate", "dueAt"])
def test_escapes_in_expressions_are_refused_at_deploy(api, sentinel, where):
    attack = f"__import__('os').system('touch {sentinel}')"
    xml = diagram("ratio = 1", rule=attack if where == "validate" else None, due=attack if where == "dueAt" else None)
    r = deploy(api, xml)
    assert r.status_code == 422, r.get_json()
    assert any(d.get("element_id") == "review" for d in r.get_json()["details"])


@pytest.mark.parametrize("script, words", [
    ("n = 0\nwhile True:\n    n = n + 1", "time bound"),
    ("n = 0\nwhile n >= 0:\n    pass", "time bound"),
    ("x = '{{0.__class__.__mro__}}'.format(1)", "format"),
    ("x = sorted(range(200000))", "range"),
])
def test_runaway_scripts_become_incidents_within_a_time_bound(api, sentinel, script, words):
    r = deploy(api, diagram(script))
    assert r.status_code == 201, r.get_json()
    began = time.monotonic()
    r = api.post("/api/v1/process-definitions/escape_test/start", "group_secretary", json={"variables": {"divisor": 1}})
    elapsed = time.monotonic() - began
    assert r.status_code == 201, r.get_json()
    inst = r.get_json()
    assert inst["status"] == "error" and inst["incident"]["task"] == "divide"
    assert words in inst["incident"]["message"], inst["incident"]
    assert elapsed < 10, f"the incident took {elapsed:.1f} s (script bound: 1 s)"
    assert inst["open_tasks"] == []  # the process did not go past the script
