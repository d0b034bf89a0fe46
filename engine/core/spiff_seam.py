"""The seam: every use of SpiffWorkflow's private API (underscore methods and attributes,
internal modules, patches, serializer internals) lives here and nowhere else in engine/ or api/.

Each hook is pinned by a test in tests/engine/test_spiff_seam.py that states the behaviour we
rely on. Upgrading SpiffWorkflow (pyproject pins the minor version tested): run that file
first; a failure there names the hook that changed, before a diagram misbehaves elsewhere.

Hooks:
- task internal data (`_get_internal_data`, `_set_internal_data`, `internal_data`): timers keep
  their due time there, detached call activities their `spawned` flag;
- start events: the `StartEventSplit`/`StartEventJoin` control specs, and firing a chosen start
  event by hand (`_sync_children`, `_predict`, `_update`);
- multi-instance: `MultiInstanceTask._update_hook` patched to count instances before creating
  them; the parser's `_add_multiinstance_task` overridden for detached call activities and for
  user tasks whose list the engine computes (`fanOut`, built like SpiffWorkflow builds one);
- message definitions re-typed after parsing (`__class__`);
- the BPMN XSD validator of SpiffWorkflow's spiff parser (`VALIDATOR`);
- task-tree depth: `TaskIterator` stops at depth 1000 by default, so a loop that ran ~500 times
  hid its next task and the workflow reported itself completed (issue 14). We raise the
  default to `TASK_TREE_DEPTH` and the runtime refuses a deeper tree with an incident;
- serialization: state without its spec (`BpmnWorkflowConverter` internals) and the
  serializer's private encoder settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.control import StartEventJoin, StartEventSplit
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskIterator, TaskState

__all__ = [
    "TASK_TREE_DEPTH",
    "VALIDATOR",
    "MultiInstanceParserHook",
    "computed_multi_instance",
    "default_multi_instance",
    "drop_internal",
    "fire_start_event",
    "first",
    "install_multi_instance_check",
    "internal",
    "is_plain_event",
    "is_start_join",
    "is_start_split",
    "iterator_depth",
    "make_serializer",
    "ready_behind_split",
    "retype",
    "set_internal",
    "set_iterator_depth",
    "state_from_dict",
    "state_json",
    "tree_depth",
]

# ---- task internal data ------------------------------------------------------------------------


def internal(task: Any, key: str, default: Any = None) -> Any:
    """A value SpiffWorkflow or we keep on a task, serialized with it (e.g. a timer's due time)."""
    return task._get_internal_data(key, default)


def set_internal(task: Any, **values: Any) -> None:
    task._set_internal_data(**values)


def drop_internal(task: Any, key: str) -> None:
    task.internal_data.pop(key, None)


# ---- start events -----------------------------------------------------------------------------------


def is_start_split(spec: Any) -> bool:
    """The split SpiffWorkflow puts before several start events of one process."""
    return isinstance(spec, StartEventSplit)


def is_start_join(spec: Any) -> bool:
    """The join without outputs where several start events meet again."""
    return isinstance(spec, StartEventJoin)


def is_plain_event(spec: Any) -> bool:
    """A none (plain) start event: no timer, message or other trigger."""
    return type(getattr(spec, "event_definition", None)).__name__ == "NoneEventDefinition"


def fire_start_event(chosen: Any) -> None:
    """Mark a start event fired before it is first updated (whoever starts the instance fires a
    timer or message start); a cycle timer adds its outputs only when a cycle completes, so
    predict them as if one had."""
    chosen._set_internal_data(event_fired=True)
    if isinstance(chosen.task_spec.event_definition, CycleTimerEventDefinition):
        chosen._sync_children(chosen.task_spec.outputs, TaskState.LIKELY)
        for child in chosen.children:
            child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)


def ready_behind_split(chosen: Any) -> None:
    """Update a start event that lies behind the start split (the split readies it when run)."""
    chosen.task_spec._update(chosen)


# ---- multi-instance ------------------------------------------------------------------------------


def install_multi_instance_check(check: Callable[[Any, Any], None]) -> None:
    """Run `check(spec, my_task)` after a multi-instance task's own update hook (its preScript may
    set the input) and before SpiffWorkflow creates its instances."""

    def _update_hook(self: Any, my_task: Any) -> Any:
        result = super(MultiInstanceTask, self)._update_hook(my_task)
        check(self, my_task)
        return result

    _update_hook.sanji_check = check  # type: ignore[attr-defined]
    MultiInstanceTask._update_hook = _update_hook


class MultiInstanceParserHook:
    """Lets a task parser handle `multiInstanceLoopCharacteristics` itself, through
    `parse_multi_instance` (SpiffWorkflow calls the private `_add_multiinstance_task`)."""

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        self.parse_multi_instance(loop_characteristics)  # type: ignore[attr-defined]


def default_multi_instance(parser: Any, loop_characteristics: Any) -> None:
    """SpiffWorkflow's own parsing of a multi-instance marker (for a parser with the hook above)."""
    TaskParser._add_multiinstance_task(parser, loop_characteristics)


def computed_multi_instance(parser: Any, loop_characteristics: Any, data_input: str, input_item: str) -> None:
    """A multi-instance task over the list in variable `data_input` (which the engine computes,
    `fanOut`), each instance getting its item as `input_item`; the marker's output reference,
    output item and completion condition are read as SpiffWorkflow reads them."""
    prefix = "./bpmn:multiInstanceLoopCharacteristics"

    def node(tag: str) -> Any:
        found = parser.xpath(f"{prefix}/bpmn:{tag}")
        return found[0] if len(found) > 0 else None

    loop_output, output_item, condition = node("loopDataOutputRef"), node("outputDataItem"), node("completionCondition")
    original = parser.spec.task_specs.pop(parser.task.name)
    params = {
        "task_spec": "",
        "cardinality": None,
        "data_input": TaskDataReference(data_input),
        "data_output": TaskDataReference(loop_output.text) if loop_output is not None else None,
        "input_item": TaskDataReference(input_item),
        "output_item": parser.create_data_spec(output_item, TaskDataReference) if output_item is not None else None,
        "condition": condition.text if condition is not None else None,
    }
    if loop_characteristics.get("isSequential") == "true":
        parser.task = parser.SEQUENTIAL_MI_CLASS(
            parser.spec, original.name, description="Sequential MultiInstance", **params
        )
    else:
        parser.task = parser.PARALLEL_MI_CLASS(
            parser.spec, original.name, description="Parallel MultiInstance", **params
        )
    parser._copy_task_attrs(original, loop_characteristics)


def retype(obj: Any, cls: type) -> Any:
    """Make a parsed object an instance of our subclass (parsers build SpiffWorkflow's own)."""
    obj.__class__ = cls
    return obj


# ---- task-tree depth -------------------------------------------------------------------------------

TASK_TREE_DEPTH = 100_000  # far beyond what SANJI_ENGINE_MAX_SECONDS and SANJI_MAX_INSTANCE_BYTES allow


def set_iterator_depth(depth: int) -> None:
    """The depth up to which SpiffWorkflow's task iterators (ready tasks, completion) look."""
    for cls in (TaskIterator, BpmnTaskIterator):
        defaults = list(cls.__init__.__defaults__ or ())
        defaults[1] = depth  # (end_at_spec, max_depth, depth_first, …)
        cls.__init__.__defaults__ = tuple(defaults)


def iterator_depth() -> int:
    return int(TaskIterator.__init__.__defaults__[1])


set_iterator_depth(TASK_TREE_DEPTH)


def tree_depth(workflow: Any) -> tuple[int, Any]:
    """The deepest task of a workflow and its subprocesses, and its depth (the root's is 0).

    A loop back through a gateway adds its tasks below the previous round's, so the tree
    deepens with every round."""
    deepest: tuple[int, Any] = (0, None)
    for wf in (workflow, *getattr(workflow, "subprocesses", {}).values()):
        depth: dict[Any, int] = {}
        for task in wf.tasks.values():
            chain = []
            current = task
            while current is not None and current.id not in depth:
                chain.append(current)
                current = current.parent
            base = depth[current.id] if current is not None else -1
            for t in reversed(chain):
                base += 1
                depth[t.id] = base
                if base > deepest[0]:
                    deepest = (base, t)
    return deepest


# ---- serialization -----------------------------------------------------------------------------------


class _SpecHolder(threading.local):
    spec: Any = None
    subprocess_specs: Any = None


_holder = _SpecHolder()


class StateConverter(BpmnWorkflowConverter):
    """Workflow state without the spec: the spec comes from the per-version cache."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        dct["spec"] = None
        workflow = self.target_class(_holder.spec, _holder.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def make_serializer(extra: dict[Any, Any]) -> BpmnWorkflowSerializer:
    """SpiffWorkflow's serializer with the spiff converters, our state converter and `extra`."""
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = StateConverter
    config.update(extra)
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def state_json(serializer: BpmnWorkflowSerializer, workflow: BpmnWorkflow) -> str:
    """A workflow's state as compact JSON, versioned as SpiffWorkflow's own serializer does."""
    s = serializer
    s.registry._encoder_mode = True
    try:
        dct = s.to_dict(workflow)
        dct[s.VERSION_KEY] = s.VERSION
        return json.dumps(dct, cls=s._encoder_cls, separators=(",", ":"), ensure_ascii=False)
    finally:
        s.registry._encoder_mode = False


def state_from_dict(
    serializer: BpmnWorkflowSerializer, dct: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any]
) -> BpmnWorkflow:
    """A workflow from its state (migrated from older serializer versions) and the cached spec."""
    serializer.migrate(dct)
    _holder.spec, _holder.subprocess_specs = spec, subprocess_specs
    try:
        workflow: BpmnWorkflow = serializer.from_dict(dct)
    finally:
        _holder.spec = _holder.subprocess_specs = None
    return workflow
