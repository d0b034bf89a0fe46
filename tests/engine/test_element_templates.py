"""The modeler's element templates (issue 19, api/static/js/element-templates.json): every
template, as the modeler creates it (its name, properties and marker), validates once connected
in a tier lane; the catalogue is well-formed and Chinese first."""

from __future__ import annotations

import itertools
import json
from typing import Any
from xml.sax.saxutils import quoteattr

from engine.infra.settings import ROOT

CATALOGUE = ROOT / "api" / "static" / "js" / "element-templates.json"
TAGS = {"bpmn:UserTask": "userTask", "bpmn:CallActivity": "callActivity"}


def templates() -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in json.loads(CATALOGUE.read_text(encoding="utf-8"))["templates"]}


def element(t: dict[str, Any], element_id: str, called: str | None = None) -> str:
    """The XML the modeler writes for a template (modeler-templates.js createTemplateShape)."""
    tag = TAGS[t["type"]]
    props = "".join(
        f"<spiffworkflow:property name={quoteattr(k)} value={quoteattr(str(v))} />" for k, v in t["properties"].items()
    )
    marker = (
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(t["multiInstance"] == "sequential").lower()}" />'
        if t.get("multiInstance")
        else ""
    )
    attrs = f' calledElement="{called}"' if called else ""
    return (
        f"<bpmn:{tag} id={quoteattr(element_id)} name={quoteattr(t['name'])}{attrs}><bpmn:extensionElements>"
        f"<spiffworkflow:properties>{props}</spiffworkflow:properties></bpmn:extensionElements>{marker}</bpmn:{tag}>"
    )


def process(key: str, name: str, lane: str, steps: list[str]) -> str:
    """start → steps… → end, all in one lane (steps are (id, xml) in order)."""
    ids = ["s_" + key] + [s.split('id="', 1)[1].split('"', 1)[0] for s in steps] + ["e_" + key]
    flows = "".join(
        f'<bpmn:sequenceFlow id="f_{key}_{i}" sourceRef="{a}" targetRef="{b}" />'
        for i, (a, b) in enumerate(itertools.pairwise(ids))
    )
    refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
    return (
        f'<bpmn:process id="{key}" name="{name}" isExecutable="true"><bpmn:laneSet id="ls_{key}">'
        f'<bpmn:lane id="l_{key}" name="{lane}">{refs}</bpmn:lane></bpmn:laneSet>'
        f'<bpmn:startEvent id="s_{key}" />{"".join(steps)}<bpmn:endEvent id="e_{key}" />{flows}</bpmn:process>'
    )


def test_the_catalogue_is_chinese_first_and_complete() -> None:
    ts = templates()
    assert [t["label"] for t in ts.values()] == [
        "下达任务",
        "分发到各单位",
        "分发到本单位各支部",
        "支部报告",
        "单位汇总",
        "审批",
        "集体研究",
        "签收",
        "督办",
    ]
    assert ts["fan_units"]["properties"]["fanOut"] == "all_units"
    assert ts["fan_branches"]["properties"]["fanOut"] == "unit_branches"
    assert ts["branch_report"]["properties"]["dueIn"] == "P7D"
    assert ts["approve"]["properties"]["candidateRoles"] == "secretary"
    assert {"formJsonSchemaFilename", "dueIn"} <= set(ts["assign"]["properties"])
    for t in ts.values():
        assert t["type"] in TAGS and t["name"] and t["label_en"]
        form = t["properties"].get("formJsonSchemaFilename")
        assert t["type"] == "bpmn:CallActivity" or (form and (ROOT / "forms" / form).is_file()), t["id"]


def test_every_template_validates_once_connected(api: Any) -> None:
    ts = templates()
    group = process(
        "tpl",
        "专项整治",
        "集团公司纪委",
        [
            element(ts["assign"], "assign"),
            element(ts["fan_units"], "fan_units", "tpl_unit"),
            element(ts["unit_summary"], "unit_summary"),
            element(ts["approve"], "approve"),
            element(ts["discuss"], "discuss"),
            element(ts["urge"], "urge"),
        ],
    )
    unit = process(
        "tpl_unit",
        "单位办理",
        "权属单位纪委",
        [element(ts["receipt"], "receipt"), element(ts["fan_branches"], "fan_branches", "tpl_branch")],
    )
    branch = process(
        "tpl_branch", "支部办理", "基层党支部纪律检查委员", [element(ts["branch_report"], "branch_report")]
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Defs_tpl"'
        f' targetNamespace="http://sanji.example/bpmn">{group}{unit}{branch}</bpmn:definitions>'
    )
    used = {
        "assign",
        "fan_units",
        "unit_summary",
        "approve",
        "discuss",
        "urge",
        "receipt",
        "fan_branches",
        "branch_report",
    }
    assert used == set(ts)
    r = api.post(
        "/api/v1/process-definitions/validate?filename=tpl.bpmn",
        "owner",
        data=xml.encode(),
        content_type="application/xml",
    )
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    assert (data["valid"], data["errors"], data["warnings"]) == (True, [], []), data
