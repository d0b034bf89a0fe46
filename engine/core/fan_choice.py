"""Fan-out by choice (`fanOut`) and roll-up by choice (`rollUp`): what a process owner picks in
the modeler instead of writing a script that computes the list to fan out over.

- `fanOut` on a call activity or a multi-instance user task names whom the element fans out
  to; the engine computes the list when the element is reached, with the script helpers the
  built-in scripts used (`org_units()`, `org_branches(unit_id)`, `org_people(unit_id)`), inside
  the instance's scope, and gives each child / instance its item under a fixed variable.
- `rollUp` on a call activity names fields of the children's data; when the last child ends,
  the caller gets `<callActivityId>_rollup`: one row per child, `{node_id, node_name, <fields>}`.

The deploy checks (`problems`) refuse a wrong value on the element, in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.errors import Msg, ScriptError


@dataclass(frozen=True)
class Choice:
    item: str  # the variable each child / instance gets its item under
    label: str  # the modeler's label (Chinese)
    needs_field: bool = False  # `fanOutField` names the variable holding the chosen ids


FAN_OUT: dict[str, Choice] = {
    "all_units": Choice("unit_id", "全部权属单位"),
    "unit_branches": Choice("branch_id", "本单位全部基层党支部"),
    "form_units": Choice("unit_id", "表单中选定的单位", needs_field=True),
    "form_branches": Choice("branch_id", "表单中选定的支部", needs_field=True),
    "unit_committee": Choice("member", "本单位纪委委员"),
    "zone_units": Choice("unit_id", "本分区成员单位"),
}
ROLLUP_SUFFIX = "_rollup"


def list_variable(bpmn_id: str) -> str:
    """The variable a fanned-out multi-instance user task keeps its computed list in."""
    return f"{bpmn_id}_fanout"


def rollup_variable(bpmn_id: str) -> str:
    return f"{bpmn_id}{ROLLUP_SUFFIX}"


def rollup_fields(value: str | None) -> list[str]:
    return [f.strip() for f in (value or "").split(",") if f.strip()]


def _chosen(task: Any, element: str, field: str) -> list[Any]:
    if field not in task.data:
        raise ScriptError(
            "{element}: fanOut reads the chosen ids from {field!r}, which the task data lacks",
            element=element,
            field=field,
        )
    value = task.data[field]
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ScriptError(
        "{element}: {field!r} must be a list of ids to fan out over, not {type}",
        element=element,
        field=field,
        type=type(value).__name__,
    )


def items(engine: Any, task: Any, element: str, choice: str, field: str | None) -> list[Any]:
    """The items of a `fanOut` choice for `task`, in the organisation's order. Chosen ids that are
    not units (branches of the instance's unit) are left out, so a form cannot widen the fan-out."""
    unit = task.data.get("unit_id")

    def call(expression: str) -> Any:
        return engine.evaluate(task, expression)

    def branches() -> list[str]:
        return list(call("org_branches(unit_id)" if unit else "org_branches()"))

    if choice == "all_units":
        return list(call("org_units()"))
    if choice == "unit_branches":
        return branches()
    if choice == "form_units":
        chosen = set(_chosen(task, element, field or ""))
        return [u for u in call("org_units()") if u in chosen]
    if choice == "form_branches":
        chosen = set(_chosen(task, element, field or ""))
        return [b for b in branches() if b in chosen]
    if choice == "unit_committee":
        if not unit:
            raise ScriptError("{element}: fanOut unit_committee needs the instance's unit_id", element=element)
        return [p["username"] for p in call("org_people(unit_id)") if p.get("node_id") == unit]
    if choice == "zone_units":  # 分区联创: the member units of the zone `zone_id` (engine/platform/meetings)
        zone = call("zone_info(zone_id)") if "zone_id" in task.data else None
        if not zone:
            raise ScriptError("{element}: fanOut zone_units needs the variable zone_id naming a zone", element=element)
        return list(zone["unit_ids"])
    raise ScriptError("{element}: unknown fanOut {choice!r}", element=element, choice=choice)


# ---- deploy checks -----------------------------------------------------------------------------------


def problems(el: etree._Element, props: dict[str, str]) -> list[Any]:
    """Refusals for `fanOut` / `fanOutField` / `rollUp` on one element (engine/core/deploy_checks.py)."""
    from engine.core.deploy_checks import finding

    out = []
    tag = etree.QName(el).localname
    choice = props.get("fanOut")
    mi = el.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}multiInstanceLoopCharacteristics")
    if choice is not None:
        choice = choice.strip()
        if tag not in ("callActivity", "userTask"):
            out.append(
                finding(
                    el,
                    "fan_out_element",
                    Msg("fanOut applies only to a call activity or a multi-instance user task, not to {tag}", tag=tag),
                )
            )
        elif choice not in FAN_OUT:
            out.append(
                finding(
                    el,
                    "fan_out_value",
                    Msg(
                        "fanOut {value!r} is not a choice; choose one of {choices}",
                        value=choice,
                        choices=", ".join(f"{k} ({c.label})" for k, c in FAN_OUT.items()),
                    ),
                )
            )
        elif tag == "userTask" and mi is None:
            out.append(
                finding(
                    el,
                    "fan_out_element",
                    Msg("fanOut on a user task needs the multi-instance marker (parallel or sequential)"),
                )
            )
        elif FAN_OUT[choice].needs_field and not (props.get("fanOutField") or "").strip():
            out.append(
                finding(
                    el,
                    "fan_out_field",
                    Msg("fanOut {value!r} needs fanOutField: the form field holding the chosen ids", value=choice),
                )
            )
        elif mi is not None and mi.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}loopDataInputRef") is not None:
            out.append(finding(el, "fan_out_element", Msg("fanOut replaces loopDataInputRef: remove one of them")))
        elif mi is not None and mi.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}loopCardinality") is not None:
            out.append(finding(el, "fan_out_element", Msg("fanOut replaces loopCardinality: remove one of them")))
    field = (props.get("fanOutField") or "").strip()
    if "fanOutField" in props and (choice is None or not field.isidentifier() or field.startswith("_")):
        out.append(
            finding(
                el,
                "fan_out_field",
                Msg(
                    "fanOutField {value!r} must name a variable and go with fanOut form_units or form_branches",
                    value=field,
                ),
            )
        )
    if "rollUp" in props:
        names = rollup_fields(props["rollUp"])
        if tag != "callActivity":
            out.append(finding(el, "roll_up", Msg("rollUp applies only to a call activity, not to {tag}", tag=tag)))
        elif not names or any(not n.isidentifier() or n.startswith("_") for n in names):
            out.append(
                finding(
                    el,
                    "roll_up",
                    Msg("rollUp {value!r} must list field names separated by commas", value=props["rollUp"]),
                )
            )
    return out
