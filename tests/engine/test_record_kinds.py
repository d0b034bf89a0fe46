"""Record kinds have schemas (engine/linkage/kinds): every kind the built-in diagrams write is
declared, each schema is a valid JSON Schema, and `save_record` / `update_record` refuse a wrong
shape with an incident naming the kind and the field, writing nothing. (That the built-in
diagrams' records fit their schemas is shown by tests/procedures: every write there is checked.)"""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from engine.core.runtime import Runtime
from engine.errors import ScriptError
from engine.linkage import kinds, records
from engine.linkage.kinds.typed import Clue, MonthlyReport
from engine.models import Record
from engine.org.policy import ScriptScope
from engine.infra.settings import ROOT
from tests.conftest import BPMN, deploy_file
from tests.engine.record_samples import sample

WRITE = re.compile(r"""(?:save_record|update_record)\(\s*["']([a-z_]+)["']""")


def written_kinds() -> set[str]:
    return {k for path in (ROOT / "processes").glob("*.bpmn") for k in WRITE.findall(path.read_text())}


def test_every_kind_the_diagrams_write_has_a_schema_and_a_chinese_title():
    written = written_kinds()
    assert len(written) == 21  # + assessment_round (issue 17)
    # form_findings is written by the engine (a form field marked "x-record": "findings"), no diagram's script
    assert written | {"form_findings"} == set(kinds.SCHEMAS) == set(records.KINDS)
    for kind in written:
        assert re.fullmatch(r"[\u4e00-\u9fff]+", kinds.TITLES[kind]), kind


@pytest.mark.parametrize("kind", sorted(kinds.SCHEMAS))
def test_each_schema_is_valid_and_closed(kind):
    schema = kinds.SCHEMAS[kind]
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    kinds.check(kind, sample(kind))  # the smallest record of the kind passes


@pytest.mark.parametrize("kind, data, field, problem", [
    ("clue", sample("clue", statu="已了结"), "statu", "is not a field of this kind"),
    ("clue", {k: v for k, v in sample("clue").items() if k != "registered_at"}, "registered_at", "is required"),
    ("clue", sample("clue", status="办结"), "status", "must be one of 待研判, 报集团公司纪委, 谈话函询, 初步核实, 暂存待查, "
                                                    "拟予了结, 拟立案审查, 已立案审查, 已了结, 已澄清正名, "
                                                    "已给予党纪处分, 已组织处理"),
    ("clue", sample("clue", level="很大"), "level", "must be one of 一般, 重大, null"),
    ("monthly_report", sample("monthly_report", month="1"), "month", "must be integer"),
    ("monthly_report", sample("monthly_report", on_time=None), "on_time", "must be boolean"),
    ("monthly_report", sample("monthly_report", findings=[sample("monthly_report")["findings"], {"no": 1}]),
     "findings[0]", "must be object"),
    ("quarterly_unit_status", sample("quarterly_unit_status", branches={"b1": {"status": "confirmed", "rounds": 0}}),
     "branches.b1.branch_name", "is required"),
    ("adhoc_report", sample("adhoc_report", acks={"unit": {"acknowledged_at": "t"}}),
     "acks.unit.opinion", "is required"),
])
def test_a_wrong_shape_names_the_kind_and_the_field(kind, data, field, problem):
    with pytest.raises(ScriptError) as err:
        kinds.check(kind, data)
    assert err.value.template == "record {kind}: field {field}: {problem}"
    assert err.value.params == {"kind": kind, "field": field, "problem": problem}


WRONG = [
    ("clue", sample("clue", statu="已了结")),
    ("clue", {k: v for k, v in sample("clue").items() if k != "registered_at"}),
    ("clue", sample("clue", level="很大")),
    ("monthly_report", sample("monthly_report", month="1")),
    ("monthly_report", sample("monthly_report", month=1.5)),
    ("monthly_report", sample("monthly_report", on_time=None)),
    ("quarterly_unit_status", sample("quarterly_unit_status", branches={"b1": {"status": "confirmed", "rounds": 0}})),
    ("adhoc_report", sample("adhoc_report", acks={"unit": {"acknowledged_at": "t"}})),
]


@pytest.mark.parametrize("kind, data", [(k, sample(k)) for k in sorted(kinds.SCHEMAS)] + WRONG)
def test_the_fast_validator_judges_as_the_reference_one(kind, data):
    """`check` asks jsonschema-rs first and jsonschema only for the message: both must agree."""
    reference = Draft202012Validator(kinds.SCHEMAS[kind]).is_valid(data)
    assert kinds.is_valid(kind, data) is reference
    assert reference is (not any(kind == k and data is d for k, d in WRONG))


def test_undeclared_kinds_are_not_checked():
    kinds.check("tally", {"anything": [1, "x"]})


def helpers(session: Any, clock: Any, settings: Any, forms: Any, key: str, node: str) -> dict[str, Any]:
    inst = SimpleNamespace(id=0, scope_node_id=node, process_key=key,
                           definition=SimpleNamespace(info={"lanes": [{"tier": "group"}, {"tier": "unit"}]}))
    return Runtime(session, clock, settings, forms)._record_helpers(inst, ScriptScope.of(session, inst))


def test_save_and_update_write_nothing_when_the_shape_is_wrong(session, clock, settings, forms):
    h = helpers(session, clock, settings, forms, "clue_disposal", "xinsheng")
    with pytest.raises(ScriptError, match=r"record clue: field persn: is not a field of this kind"):
        h["save_record"]("clue", "clue-1", sample("clue", persn="某人"), node_id="xinsheng")
    assert session.scalars(select(Record)).all() == []
    h["save_record"]("clue", "clue-1", sample("clue", person="某人"), node_id="xinsheng")
    session.flush()
    with pytest.raises(ScriptError, match=r"record clue: field reported_to_group: must be boolean"):
        h["update_record"]("clue", "clue-1", {"reported_to_group": "是"})
    h["update_record"]("clue", "clue-1", {"history": [{"step": "登记", "at": "t"}]})
    with pytest.raises(ScriptError, match=r"record clue: field history\[0\]\.stage: is not a field of this kind"):
        h["update_record"]("clue", "clue-1", {"stage": "研判"}, path=["history", 0])
    session.expire_all()
    row = session.scalars(select(Record)).one()
    assert row.data == sample("clue", person="某人", history=[{"step": "登记", "at": "t"}])


def test_a_diagram_writing_a_misspelt_key_becomes_an_incident_naming_the_field(session, rt, forms, clock, tmp_path):
    # secondment's scripts may write secondment_batch records (records.KINDS)
    script = ('save_record("secondment_batch", "b1", {"batch_key": "b1", "batch_kind": "学习培训", '
              '"batch_title": "培训", "starts_on": "2027-03-01", "ends_on": "2027-03-03", "place": "党校", '
              '"nominated": 3, "selected": 2, "atended": 1}, node_id=unit_id)')
    xml = (BPMN / "record_update.bpmn").read_text().replace('id="record_update"', 'id="secondment"')
    start = xml.index("<bpmn:script>") + len("<bpmn:script>")
    xml = xml[:start] + script.replace('"', "&quot;") + xml[xml.index("</bpmn:script>"):]
    path = tmp_path / "secondment.bpmn"
    path.write_text(xml)
    deploy_file(session, path, forms, clock)
    inst = rt.start("secondment", {"unit_id": "xuchang"}, None)
    session.commit()
    assert inst.status == "error"
    assert "record secondment_batch: field atended: is not a field of this kind" in inst.error_message
    assert session.scalars(select(Record)).all() == []


def test_typed_readers_tolerate_rows_written_before_the_schemas():
    clue = Clue.of({"status": "已了结", "level": 3, "reported_to_group": 1})
    assert clue == Clue(None, None, "已了结", None, True)
    report = MonthlyReport.of({"month": "2", "on_time": True, "findings": [{"classification": "tendency"}, "x"]})
    assert (report.month, report.on_time, [f.classification for f in report.findings]) == (None, True, ["tendency"])
