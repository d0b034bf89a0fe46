"""SpiffWorkflow, adapted: our parser, our task specs, clock-aware timers, a lean serializer.

- Timers read the injectable clock (engine/core/spiff_timers.py).
- A `callActivity` never runs inside its caller: it is a `DetachedCallActivity` that the
  runtime turns into separate child instances, one per item of a parallel multi-instance,
  so that an instance stays small however many branches a cycle fans out to.
- Workflow state is serialized without its spec; specs are restored once per definition
  version and cached.
"""

from __future__ import annotations

import json
import threading
import zlib
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffEndEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ScriptTaskParser, SpiffTaskParser, UserTaskParser
from SpiffWorkflow.spiff.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ScriptTask, UserTask
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessage
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

from engine.core import fan_choice
from engine.core.bounds import BoundExceeded, state_too_large
from engine.core.spiff_seam import (
    MultiInstanceParserHook,
    computed_multi_instance,
    default_multi_instance,
    first,
    install_multi_instance_check,
    make_serializer,
    retype,
    state_from_dict,
    state_json,
)
from engine.core.spiff_timers import ClockCycle, ClockDuration, ClockTimeDate, TimerParserMixin


class DataMessage(SpiffMessage):
    """A message whose payload, without a `messagePayload` expression, is the thrower's data."""

    def throw(self, my_task: Any) -> None:
        if self.expression is not None:
            super().throw(my_task)
            return
        payload = deepcopy(my_task.data)
        event = BpmnEvent(self, payload=payload, correlations={})
        my_task.workflow.top_workflow.catch(event)


class MessageParserMixin:
    def parse_message_event(self, message_event: Any) -> Any:
        definition = super().parse_message_event(message_event)  # type: ignore[misc]
        return retype(definition, DataMessage)


class StartEventParser(MessageParserMixin, TimerParserMixin, SpiffStartEventParser):
    pass


class BoundaryEventParser(MessageParserMixin, TimerParserMixin, SpiffBoundaryEventParser):
    pass


class IntermediateCatchEventParser(MessageParserMixin, TimerParserMixin, SpiffIntermediateCatchEventParser):
    pass


class IntermediateThrowEventParser(MessageParserMixin, SpiffIntermediateThrowEventParser):
    pass


class EndEventParser(MessageParserMixin, SpiffEndEventParser):
    pass


# ---- in-instance multi-instance: bounded before SpiffWorkflow creates the instances --------------


def _instance_count(spec: Any, my_task: Any) -> int | None:
    if spec.data_input is not None:
        if not spec.data_input.exists(my_task):
            return None  # SpiffWorkflow reports the missing input
        items = spec.data_input.get(my_task)
        return len(items) if hasattr(items, "__len__") else None
    count = my_task.workflow.script_engine.evaluate(my_task, spec.cardinality)
    return count if isinstance(count, int) else None


def _fill_signers(spec: Any, my_task: Any) -> None:
    """会签 / 或签 with the property `signers` (`committee`, or committee roles such as
    `secretary,deputy_secretary`): the engine fills the task's `loopDataInputRef` with the
    usernames of the committee of the task's unit (`unit_id`; the group committee in the group
    lane), through the script helper `committee_members` and so within the instance's scope."""
    from engine.org.routing import lane_tier  # not at the top: engine.org imports the models

    inner = my_task.workflow.spec.task_specs.get(spec.task_spec) if isinstance(spec.task_spec, str) else None
    props = (getattr(inner, "extensions", None) or {}).get("properties") or {}
    signers = (props.get("signers") or "").strip()
    if not signers or spec.data_input is None:
        return
    roles = None if signers == "committee" else signers
    node = "None" if lane_tier(getattr(inner, "lane", None)) == "group" else "unit_id"
    value = my_task.workflow.script_engine.evaluate(my_task, f"committee_members({node}, {roles!r})")
    my_task.data[spec.data_input.bpmn_id] = value
    if type(spec.data_input).__name__ == "DataObject":
        spec.data_input.set(my_task)


def _check_instance_count(self: Any, my_task: Any) -> None:
    """SpiffWorkflow creates all instances of a parallel multi-instance at once, from data (and
    a sequential one runs its script instances in one request): count them first, against the
    script engine's `max_branches` (SANJI_MAX_BRANCHES). A `fanOut` user task's list is computed
    here first (engine/core/fan_choice.py); 会签's `signers` fill theirs."""
    _fill_signers(self, my_task)
    inner = my_task.workflow.spec.task_specs.get(self.task_spec)
    props = ((getattr(inner, "extensions", None) or {}).get("properties")) or {}
    choice = props.get("fanOut")
    if choice and self.data_input is not None and self.data_input.bpmn_id == fan_choice.list_variable(self.bpmn_id):
        engine = my_task.workflow.top_workflow.script_engine
        self.data_input.set(
            my_task, fan_choice.items(engine, my_task, self.bpmn_id, choice.strip(), props.get("fanOutField"))
        )
    limit = getattr(my_task.workflow.top_workflow.script_engine, "max_branches", None)
    if limit is not None:
        count = _instance_count(self, my_task)
        if count is not None and count > limit:
            exc = BoundExceeded(
                "multi-instance {element} would run {count} instances; at most {limit} "
                "may run inside one instance (SANJI_MAX_BRANCHES); use a multi-instance "
                "call activity for larger fan-outs",
                element=self.bpmn_id,
                count=count,
                limit=limit,
            )
            exc.task = my_task
            raise exc


install_multi_instance_check(_check_instance_count)


# ---- detached call activities ----------------------------------------------------------------


class DetachedCallActivity(SpiffBpmnTask):
    """Runs `called_element` as separate instances; the runtime completes it when all finish.

    It is `manual`, so engine steps leave it READY; the runtime spawns the children (one per
    item of `collection`, or one) and, when the last child ends, stores the children's
    `output_item` values in `output_collection` and runs the task.
    """

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        called_element: str,
        collection: str | None = None,
        item: str | None = None,
        output_collection: str | None = None,
        output_item: str | None = None,
        asynchronous: bool | None = None,
        fan_out: str | None = None,
        fan_out_field: str | None = None,
        roll_up: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["manual"] = True
        super().__init__(wf_spec, bpmn_id, **kwargs)
        # `fanOut`: the runtime computes the items (engine/core/fan_choice.py) instead of reading `collection`
        self.fan_out = fan_out
        self.fan_out_field = fan_out_field
        self.roll_up = roll_up  # `rollUp`: the children's fields the caller gets as `<id>_rollup`
        self.called_element = called_element
        self.collection = collection
        self.item = item
        self.output_collection = output_collection
        self.output_item = output_item
        # the `async` property: True/False decide; None: async when the fan-out exceeds the threshold
        self.asynchronous = asynchronous


class DetachedCallActivityParser(MultiInstanceParserHook, SpiffTaskParser):
    def create_task(self) -> DetachedCallActivity:
        called = self.node.get("calledElement")
        if not called:
            self.raise_validation_exception("callActivity needs a calledElement")
        extensions = self.parse_extensions()
        flag = (extensions.get("properties") or {}).get("async")
        asynchronous = None
        if flag is not None:
            if flag.strip().lower() not in ("true", "false"):
                self.raise_validation_exception("the async property of a call activity must be true or false")
            asynchronous = flag.strip().lower() == "true"
        props = extensions.get("properties") or {}
        choice = (props.get("fanOut") or "").strip() or None
        if choice is not None and choice not in fan_choice.FAN_OUT:
            self.raise_validation_exception(f"unknown fanOut {choice!r}")
        return DetachedCallActivity(
            self.spec,
            self.bpmn_id,
            called_element=called,
            asynchronous=asynchronous,
            item=fan_choice.FAN_OUT[choice].item if choice else None,
            fan_out=choice,
            fan_out_field=(props.get("fanOutField") or "").strip() or None,
            roll_up=fan_choice.rollup_fields(props.get("rollUp")) or None,
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )

    def parse_multi_instance(self, loop_characteristics: Any) -> None:
        if loop_characteristics.get("isSequential") == "true":
            self.raise_validation_exception(
                "sequential multi-instance call activities are not supported; use a parallel one"
            )
        prefix = "./bpmn:multiInstanceLoopCharacteristics"

        def text(tag: str) -> str | None:
            node = first(self.xpath(f"{prefix}/bpmn:{tag}"))
            if node is None:
                return None
            return (node.text or node.get("name") or node.get("id") or "").strip() or None

        task: DetachedCallActivity = self.task
        collection = text("loopDataInputRef")
        if task.fan_out is not None:
            if collection is not None:
                self.raise_validation_exception("fanOut replaces loopDataInputRef: remove one of them")
        elif collection is None:
            self.raise_validation_exception(
                "a multi-instance call activity needs a loopDataInputRef (the list variable to fan out over)"
            )
        else:
            task.collection = collection
            task.item = text("inputDataItem") or "item"
        task.output_collection = text("loopDataOutputRef")
        task.output_item = text("outputDataItem")


class DetachedCallActivityConverter(SpiffBpmnTaskConverter):
    def to_dict(self, spec: DetachedCallActivity) -> dict[str, Any]:
        dct = super().to_dict(spec)
        dct.update(
            called_element=spec.called_element,
            collection=spec.collection,
            item=spec.item,
            output_collection=spec.output_collection,
            output_item=spec.output_item,
        )
        if spec.asynchronous is not None:  # absent in specs stored before the property existed
            dct["asynchronous"] = spec.asynchronous
        if spec.fan_out is not None:
            dct.update(fan_out=spec.fan_out, fan_out_field=spec.fan_out_field)
        if spec.roll_up:
            dct["roll_up"] = spec.roll_up
        return dct


# ---- user tasks: fanOut on a multi-instance user task ------------------------------------------


class FanOutUserTaskParser(MultiInstanceParserHook, UserTaskParser):
    """A multi-instance user task with `fanOut` runs over a list the engine computes when the task
    is reached (`_check_instance_count`), each instance getting its item as `unit_id`, `branch_id`
    or `member`; any other multi-instance user task is SpiffWorkflow's own."""

    def parse_multi_instance(self, loop_characteristics: Any) -> None:
        props = (self.parse_extensions().get("properties") or {}) if self.node is not None else {}
        choice = (props.get("fanOut") or "").strip()
        if not choice:
            default_multi_instance(self, loop_characteristics)
            return
        if choice not in fan_choice.FAN_OUT:
            self.raise_validation_exception(f"unknown fanOut {choice!r}")
        if self.xpath("./bpmn:multiInstanceLoopCharacteristics/bpmn:loopDataInputRef"):
            self.raise_validation_exception("fanOut replaces loopDataInputRef: remove one of them")
        computed_multi_instance(
            self, loop_characteristics, fan_choice.list_variable(self.bpmn_id), fan_choice.FAN_OUT[choice].item
        )


# ---- asynchronous script tasks ---------------------------------------------------------------


def async_before(spec: Any) -> bool:
    """A script task marked `async`: engine steps stop before it (it is `manual`, which a script
    task never is otherwise) and the scheduler's worker runs it (engine/core/async_jobs.py)."""
    return spec.manual and isinstance(spec, ScriptTask)


class AsyncScriptTaskParser(ScriptTaskParser):
    def create_task(self) -> Any:
        spec = super().create_task()
        flag = (self.parse_extensions().get("properties") or {}).get("async")
        if flag is not None:
            if flag.strip().lower() not in ("true", "false"):
                self.raise_validation_exception("the async property of a script task must be true or false")
            if flag.strip().lower() == "true":
                spec.manual = True  # serialized with the spec: no attribute of our own to carry
        return spec


# ---- parser ------------------------------------------------------------------------------------


class SanjiBpmnParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = dict(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES)
    OVERRIDE_PARSER_CLASSES.update(
        {
            full_tag("callActivity"): (DetachedCallActivityParser, DetachedCallActivity),
            full_tag("scriptTask"): (AsyncScriptTaskParser, ScriptTask),
            full_tag("userTask"): (FanOutUserTaskParser, UserTask),
            full_tag("startEvent"): (StartEventParser, StartEvent),
            full_tag("boundaryEvent"): (BoundaryEventParser, BoundaryEvent),
            full_tag("intermediateCatchEvent"): (IntermediateCatchEventParser, IntermediateCatchEvent),
            full_tag("intermediateThrowEvent"): (IntermediateThrowEventParser, IntermediateThrowEvent),
            full_tag("endEvent"): (EndEventParser, EndEvent),
        }
    )

    def get_spec(self, process_id: str, required: bool = True) -> Any:
        spec = super().get_spec(process_id, required)
        if spec is not None:
            sign_any(spec)
        return spec

    def get_subprocess_specs(
        self, name: str, specs: dict[str, Any] | None = None, require_call_activity_specs: bool = True
    ) -> Any:
        subs = super().get_subprocess_specs(name, specs, require_call_activity_specs)
        for sub in subs.values():
            if sub is not None:
                sign_any(sub)
        return subs


def sign_any(spec: Any) -> None:
    """或签 (`sign` = `any` on a parallel multi-instance user task): the first signature completes
    the task and cancels its other instances, SpiffWorkflow's completion condition (engine/core/decisions.py)."""
    for ts in spec.task_specs.values():
        inner = (
            spec.task_specs.get(getattr(ts, "task_spec", None) or "")
            if isinstance(getattr(ts, "task_spec", None), str)
            else None
        )
        props = (getattr(inner, "extensions", None) or {}).get("properties") or {}
        if props.get("sign") == "any" and hasattr(ts, "condition") and ts.condition is None:
            ts.condition = "True"


# ---- serialization -------------------------------------------------------------------------------


def _config() -> dict[Any, Any]:
    config: dict[Any, Any] = {}
    config[DetachedCallActivity] = DetachedCallActivityConverter
    for cls in (ClockTimeDate, ClockDuration, ClockCycle):
        config[cls] = TimerConditionalEventDefinitionConverter
    config[DataMessage] = MessageEventDefinitionConverter
    return config


class _Serializers(threading.local):
    def __init__(self) -> None:
        self.serializer = make_serializer(_config())


_serializers = _Serializers()

SPEC_FORMAT = 1


def dump_specs(spec: Any, subprocess_specs: dict[str, Any]) -> bytes:
    s = _serializers.serializer
    dct = {
        "format": SPEC_FORMAT,
        "spec": s.to_dict(spec),
        "subprocess_specs": {k: s.to_dict(v) for k, v in subprocess_specs.items()},
    }
    return zlib.compress(json.dumps(dct, separators=(",", ":")).encode(), 6)


def load_specs(blob: bytes) -> tuple[Any, dict[str, Any]]:
    s = _serializers.serializer
    dct = json.loads(zlib.decompress(blob))
    spec = s.from_dict(dct["spec"])
    subs = {k: s.from_dict(v) for k, v in dct["subprocess_specs"].items()}
    return spec, subs


def dump_state(workflow: BpmnWorkflow, max_bytes: int | None = None) -> bytes:
    """Compact state: JSON of the task tree and data, zlib level 1 (fast, ~5× smaller).
    Above `max_bytes` of JSON (SANJI_MAX_INSTANCE_BYTES) raise BoundExceeded naming the largest variable."""
    raw = state_json(_serializers.serializer, workflow).encode("utf-8")
    if max_bytes is not None and len(raw) > max_bytes:
        raise state_too_large(workflow, len(raw), max_bytes)
    return zlib.compress(raw, 1)


def load_state(blob: bytes, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any) -> BpmnWorkflow:
    dct = json.loads(zlib.decompress(blob))
    workflow = state_from_dict(_serializers.serializer, dct, spec, subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
