"""One test per hook of engine/core/spiff_seam.py: the SpiffWorkflow behaviour each relies on.

After upgrading SpiffWorkflow run this file first: a failure here names the private API that
changed, before diagrams misbehave elsewhere. Pure SpiffWorkflow objects, no database.
"""
from __future__ import annotations

import inspect
import json
import zlib

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.core import spiff, spiff_seam
from engine.core.bounds import BoundExceeded
from engine.core.scripts import RestrictedEnvironment

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="http://sanji.example/bpmn">')


def diagram(body: str, process: str = "p", messages: str = "") -> str:
    return f'{HEAD}{messages}<bpmn:process id="{process}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'


def parse(xml: str, process: str = "p") -> tuple[object, dict[str, object]]:
    parser = spiff.SanjiBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename="seam.bpmn")
    return parser.get_spec(process), parser.get_subprocess_specs(process)


def workflow(xml: str, process: str = "p", **data: object) -> BpmnWorkflow:
    spec, subs = parse(xml, process)
    wf = BpmnWorkflow(spec, subs)
    wf.get_next_task(spec_name="Start").set_data(**data)
    return wf


LINE = diagram('<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a" />'
               '<bpmn:scriptTask id="a"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'
               '<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="u" /><bpmn:userTask id="u" />'
               '<bpmn:sequenceFlow id="f3" sourceRef="u" targetRef="e" /><bpmn:endEvent id="e" />')


def by_id(wf: BpmnWorkflow, bpmn_id: str) -> object:
    return next(t for t in wf.tasks.values() if t.task_spec.bpmn_id == bpmn_id)


def test_internal_data_is_kept_per_task_and_survives_serialization() -> None:
    wf = workflow(LINE)
    wf.do_engine_steps()
    u = by_id(wf, "u")
    assert spiff_seam.internal(u, "spawned") is None
    assert spiff_seam.internal(u, "spawned", "no") == "no"
    spiff_seam.set_internal(u, spawned=True, event_value={"next": "2027-01-01T00:00:00+00:00", "cycles": 2})
    spec, subs = parse(LINE)
    again = spiff.load_state(spiff.dump_state(wf), spec, subs, None)
    u2 = again.get_task_from_id(u.id)
    assert spiff_seam.internal(u2, "spawned") is True
    assert spiff_seam.internal(u2, "event_value") == {"next": "2027-01-01T00:00:00+00:00", "cycles": 2}
    spiff_seam.drop_internal(u2, "spawned")
    spiff_seam.drop_internal(u2, "never_set")
    assert spiff_seam.internal(u2, "spawned") is None


TWO_STARTS = diagram(
    '<bpmn:startEvent id="by_timer"><bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">'
    'R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>'
    '<bpmn:startEvent id="by_hand" />'
    '<bpmn:sequenceFlow id="t1" sourceRef="by_timer" targetRef="mt" /><bpmn:sequenceFlow id="t2" sourceRef="by_hand" targetRef="mh" />'
    '<bpmn:scriptTask id="mt"><bpmn:script>how = "timer"</bpmn:script></bpmn:scriptTask>'
    '<bpmn:scriptTask id="mh"><bpmn:script>how = "hand"</bpmn:script></bpmn:scriptTask>'
    '<bpmn:sequenceFlow id="t3" sourceRef="mt" targetRef="u" /><bpmn:sequenceFlow id="t4" sourceRef="mh" targetRef="u" />'
    '<bpmn:userTask id="u" /><bpmn:sequenceFlow id="t5" sourceRef="u" targetRef="e" /><bpmn:endEvent id="e" />')

ONE_TIMER_START = diagram(
    '<bpmn:startEvent id="by_timer"><bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">'
    'R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>'
    '<bpmn:sequenceFlow id="t1" sourceRef="by_timer" targetRef="u" />'
    '<bpmn:userTask id="u" /><bpmn:sequenceFlow id="t5" sourceRef="u" targetRef="e" /><bpmn:endEvent id="e" />')


def test_several_start_events_sit_behind_a_start_split_and_meet_in_a_start_join() -> None:
    wf = workflow(TWO_STARTS)
    start = wf.get_next_task(spec_name="Start")
    [split] = start.children
    assert spiff_seam.is_start_split(split.task_spec)
    assert sorted(c.task_spec.bpmn_id for c in split.children) == ["by_hand", "by_timer"]
    assert [n for n, s in wf.spec.task_specs.items() if spiff_seam.is_start_join(s)] != []
    plain = [c.task_spec.bpmn_id for c in split.children if spiff_seam.is_plain_event(c.task_spec)]
    assert plain == ["by_hand"]
    assert not spiff_seam.is_start_split(start.task_spec)
    assert not spiff_seam.is_start_join(split.task_spec)


def test_a_chosen_cycle_timer_start_fires_at_once_behind_the_split() -> None:
    wf = workflow(TWO_STARTS)
    start = wf.get_next_task(spec_name="Start")
    [split] = start.children
    chosen = next(c for c in split.children if c.task_spec.bpmn_id == "by_timer")
    for c in split.children:
        if c is not chosen:
            c.cancel()
    spiff_seam.fire_start_event(chosen)
    assert spiff_seam.internal(chosen, "event_fired") is True
    start.run()
    wf.do_engine_steps()
    [u] = wf.get_tasks(state=TaskState.READY)
    assert (u.task_spec.bpmn_id, u.data.get("how")) == ("u", "timer")


def test_a_lone_cycle_timer_start_fires_at_once_when_updated_by_hand() -> None:
    wf = workflow(ONE_TIMER_START)
    start = wf.get_next_task(spec_name="Start")
    [chosen] = start.children
    spiff_seam.fire_start_event(chosen)
    start.run()
    spiff_seam.ready_behind_split(chosen)
    wf.do_engine_steps()
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY)] == ["u"]


MI = diagram('<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="m" />'
             '<bpmn:scriptTask id="m"><bpmn:multiInstanceLoopCharacteristics>'
             '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef><bpmn:inputDataItem id="item" name="item" />'
             '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>y = item</bpmn:script></bpmn:scriptTask>'
             '<bpmn:sequenceFlow id="f2" sourceRef="m" targetRef="e" /><bpmn:endEvent id="e" />')


def test_the_multi_instance_check_runs_before_any_instance_exists() -> None:
    assert MultiInstanceTask._update_hook.sanji_check is spiff._check_instance_count
    seen: list[tuple[str, int]] = []

    def check(spec: object, my_task: object) -> None:
        seen.append((spec.bpmn_id, [c.task_spec.name for c in my_task.children]))
        raise BoundExceeded("too many")

    spiff_seam.install_multi_instance_check(check)
    try:
        wf = workflow(MI, items=[1, 2, 3])
        with pytest.raises(Exception) as err:
            wf.do_engine_steps()
    finally:
        spiff_seam.install_multi_instance_check(spiff._check_instance_count)
    assert seen == [("m", ["e"])]  # the predicted next element only: no "m [child]" instance yet
    cause = err.value if isinstance(err.value, BoundExceeded) else err.value.__cause__ or err.value.__context__
    assert isinstance(cause, BoundExceeded)
    assert [t for t in wf.tasks.values() if t.task_spec.name == "m [child]"] == []


def test_the_multi_instance_bound_reads_max_branches_from_the_script_engine() -> None:
    spec, subs = parse(MI)
    engine = PythonScriptEngine()
    engine.max_branches = 2
    wf = BpmnWorkflow(spec, subs, script_engine=engine)
    wf.get_next_task(spec_name="Start").set_data(items=[1, 2, 3])
    with pytest.raises(Exception) as err:
        wf.do_engine_steps()
    chain = [err.value, err.value.__cause__, err.value.__context__]
    assert any(isinstance(e, BoundExceeded) and "would run 3 instances; at most 2" in str(e) for e in chain)


FAN = diagram('<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c" />'
              '<bpmn:callActivity id="c" calledElement="child"><bpmn:multiInstanceLoopCharacteristics>'
              '<bpmn:loopDataInputRef>ids</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>outs</bpmn:loopDataOutputRef>'
              '<bpmn:inputDataItem id="one" name="one" /><bpmn:outputDataItem id="res" name="res" />'
              '</bpmn:multiInstanceLoopCharacteristics></bpmn:callActivity>'
              '<bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e" /><bpmn:endEvent id="e" />')


def test_the_parser_hands_a_call_activitys_multi_instance_to_us() -> None:
    spec, _subs = parse(FAN)
    c = spec.task_specs["c"]
    assert isinstance(c, spiff.DetachedCallActivity)
    assert (c.called_element, c.collection, c.item, c.output_collection, c.output_item) == (
        "child", "ids", "one", "outs", "res")
    wf = workflow(FAN, ids=["a", "b"])
    wf.do_engine_steps()  # manual: engine steps leave it ready for the runtime
    assert [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY)] == ["c"]


def test_a_parsed_message_definition_becomes_a_data_message() -> None:
    xml = diagram('<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e" />'
                  '<bpmn:endEvent id="e"><bpmn:messageEventDefinition messageRef="m1" /></bpmn:endEvent>',
                  messages='<bpmn:message id="m1" name="clue_found" />')
    spec, _subs = parse(xml)
    definition = spec.task_specs["e"].event_definition
    assert type(definition) is spiff.DataMessage
    assert definition.name == "clue_found"
    wf = workflow(xml, facts="x")
    wf.do_engine_steps()
    [event] = wf.get_events()
    assert (event.event_definition.name, event.payload) == ("clue_found", {"facts": "x"})


def test_the_bpmn_schema_validator_refuses_an_invalid_document() -> None:
    good = etree.fromstring(LINE.encode())
    spiff_seam.VALIDATOR.validate(good, "good.bpmn")
    bad = etree.fromstring(LINE.replace('<bpmn:userTask id="u" />', '<bpmn:userTask id="u" bogus="1" />').encode())
    with pytest.raises(ValidationException):
        spiff_seam.VALIDATOR.validate(bad, "bad.bpmn")


LOOP = diagram('<bpmn:startEvent id="s" /><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="i" />'
               '<bpmn:scriptTask id="i"><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>'
               '<bpmn:sequenceFlow id="f2" sourceRef="i" targetRef="step" />'
               '<bpmn:scriptTask id="step"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>'
               '<bpmn:sequenceFlow id="f3" sourceRef="step" targetRef="g" />'
               '<bpmn:exclusiveGateway id="g" default="back" />'
               '<bpmn:sequenceFlow id="back" sourceRef="g" targetRef="step" />'
               '<bpmn:sequenceFlow id="out" sourceRef="g" targetRef="e">'
               '<bpmn:conditionExpression>n &gt;= limit</bpmn:conditionExpression></bpmn:sequenceFlow>'
               '<bpmn:endEvent id="e" />')


def test_task_iterators_look_as_deep_as_the_seam_says_and_no_deeper() -> None:
    for cls in (TaskIterator, BpmnTaskIterator):
        assert inspect.signature(cls.__init__).parameters["max_depth"].default == spiff_seam.TASK_TREE_DEPTH
    assert spiff_seam.iterator_depth() == spiff_seam.TASK_TREE_DEPTH
    # What the limit means: a loop deeper than it hides its next task, and the workflow says it
    # is completed while that task waits (SpiffWorkflow's default limit was 1,000: ~500 rounds).
    spiff_seam.set_iterator_depth(60)
    try:
        wf = workflow(LOOP, limit=100)
        wf.do_engine_steps()
        hidden = [t for t in wf.tasks.values() if t.state == TaskState.READY]
        assert wf.is_completed() and [t.task_spec.bpmn_id for t in hidden] == ["step"]
        assert spiff_seam.tree_depth(wf)[0] >= 60
    finally:
        spiff_seam.set_iterator_depth(spiff_seam.TASK_TREE_DEPTH)
    wf = workflow(LOOP, limit=100)
    wf.do_engine_steps()
    assert wf.is_completed() and wf.last_task.data["n"] == 100


def test_tree_depth_counts_from_the_root() -> None:
    wf = workflow(LINE)
    wf.do_engine_steps()
    depth, deepest = spiff_seam.tree_depth(wf)
    chain, t = 0, deepest
    while t.parent is not None:
        chain, t = chain + 1, t.parent
    assert t is wf.task_tree and depth == chain
    assert depth == max(spiff_seam.tree_depth(wf)[0] for _ in range(2))


def test_state_is_serialized_without_its_spec_and_restored_from_the_cached_one() -> None:
    wf = workflow(LINE, title="t")
    wf.do_engine_steps()
    serializer = spiff._serializers.serializer
    dct = json.loads(spiff_seam.state_json(serializer, wf))
    assert dct[serializer.VERSION_KEY] == serializer.VERSION
    assert "spec" not in dct and "subprocess_specs" not in dct
    assert {"tasks", "root", "subprocesses", "bpmn_events", "data"} <= set(dct)
    spec, subs = parse(LINE)
    again = spiff_seam.state_from_dict(serializer, json.loads(json.dumps(dct)), spec, subs)
    assert again.spec is spec and set(again.tasks) == set(wf.tasks)
    assert [t.task_spec.bpmn_id for t in again.get_tasks(state=TaskState.READY)] == ["u"]
    assert by_id(again, "u").data == {"title": "t", "x": 1}
    blob = spiff.dump_state(again)
    assert json.loads(zlib.decompress(blob)) == json.loads(spiff_seam.state_json(serializer, again))


def test_our_script_environment_is_what_the_script_engine_calls() -> None:
    env = RestrictedEnvironment({"double": lambda v: 2 * v})
    engine = PythonScriptEngine(env)
    spec, subs = parse(LINE)
    wf = BpmnWorkflow(spec, subs, script_engine=engine)
    wf.get_next_task(spec_name="Start").set_data(v=4)
    wf.do_engine_steps()
    u = by_id(wf, "u")
    assert engine.evaluate(u, "double(v) + x") == 9
    assert u.data == {"v": 4, "x": 1}  # the script's result, without helpers or guards
