"""Deploy-time checks that catch what would otherwise fail only when an instance runs.

Called by engine/core/validation.py after its own checks. Two severities:

- errors (the deploy is refused), only where the check is certain: a call of a script helper
  that does not exist, an extension property the engine does not read, a candidate role that
  no one on the lane's tier can hold, a `dueIn` / `dueAt` that is neither a duration nor a date;
- warnings (the deploy goes through; validate and deploy report them), where the check is a
  guess about the data flow: a script reads a variable that no step of the process writes (for
  a user task's postScript: that its form lacks), a multi-instance output variable that no step
  of the called process (or the task's form) writes.

Every problem carries a `code` and a catalog message (engine.errors.Msg), so the reader gets it
in Chinese. Nothing here touches the database.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from lxml import etree

from engine.core.calendar import validate_timer
from engine.core.forms import FormStore
from engine.core.script_names import AVAILABLE, Names, names
from engine.core.scripts import check_source
from engine.core.validation import BPMN_NS, HUMAN_TAGS, NS, Problem, _local, _props
from engine.errors import Msg

# The extension properties the engine reads (docs/bpmn-conventions.md); any other is a typo.
KNOWN_PROPERTIES = frozenset(
    {
        "formJsonSchemaFilename",
        "dueIn",
        "dueAt",
        "candidateRoles",
        "nodeVariable",
        "assigneeVariable",
        "notifyKind",
        "validate",
        "startVariables",
    }
)
# Variables the engine itself gives an instance (docs/bpmn-conventions.md, "Instance variables").
ENGINE_VARIABLES = frozenset({"unit_id", "branch_id", "title", "scheduled_at"})
_CN_DURATION = re.compile(r"^\s*(\d+)\s*(天|日|个工作日|工作日|周|星期|个星期|个月|月|年)\s*$")
_CN_UNITS = {"天": "D", "日": "D", "工作日": "D", "个工作日": "D", "周": "W", "星期": "W", "个星期": "W"}
_CN_UNITS.update({"个月": "M", "月": "M", "年": "Y"})


# What a source is, in the reader's language.
WHERE = {
    "script": Msg("the script"),
    "condition": Msg("the condition"),
    "messagePayload": Msg("the message payload"),
    "dueAt": Msg("the deadline expression (dueAt)"),
    "validate": Msg("the validation rule (validate)"),
    "preScript": Msg("the preScript"),
    "postScript": Msg("the postScript"),
}


def _problem(el: etree._Element, code: str, msg: Msg, line: int | None = None, *, warning: bool = False) -> Problem:
    return Problem(
        str(msg), el.get("id"), line or el.sourceline, code=code, severity="warning" if warning else "error", msg=msg
    )


def _close(name: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return found[0] if found else None


# ---- dueIn / dueAt ---------------------------------------------------------------------------------


def due_problems(el: etree._Element, props: dict[str, str]) -> list[Problem]:
    """`dueIn` must be an ISO duration, `dueAt` an ISO date or an expression: the message says how."""
    out: list[Problem] = []
    due_in = props.get("dueIn", "").strip()
    if due_in:
        found = validate_timer("timeDuration", due_in)
        if found and (not due_in.upper().startswith("P") or any("syntax error" in m for m in found)):
            match = _CN_DURATION.match(due_in)
            if match:
                suggestion = f"P{match.group(1)}{_CN_UNITS[match.group(2)]}"
                msg = Msg(
                    "dueIn {value!r} is not a duration: write {suggestion}; durations are written as "
                    "P7D (7 days) or P1M (1 month)",
                    value=due_in,
                    suggestion=suggestion,
                )
            else:
                msg = Msg(
                    "dueIn {value!r} is not a duration: durations are written as P7D (7 days) or P1M (1 month)",
                    value=due_in,
                )
            out.append(_problem(el, "bad_duration", msg))
        else:
            out.extend(Problem(m, el.get("id"), el.sourceline) for m in found)
    due_at = props.get("dueAt", "").strip()
    if due_at and _date_ok(due_at):
        out.extend(Problem(f"dueAt: {m}", el.get("id"), el.sourceline) for m in check_source(due_at, "eval"))
    elif due_at:
        out.append(
            _problem(
                el,
                "bad_date",
                Msg(
                    'dueAt {value!r} is not a date: write a date in quotes such as "2027-01-10" '
                    "or an expression such as add_days(today(), 7) or month_end()",
                    value=due_at,
                ),
            )
        )
    return out


def _date_ok(source: str) -> bool:
    """An expression that parses; a literal string must be an ISO date or date-time."""
    try:
        tree = ast.parse(source, "<dueAt>", "eval")
    except SyntaxError:
        return False
    body = tree.body
    if isinstance(body, ast.Constant):
        if not isinstance(body.value, str):
            return False
        for parse in (date.fromisoformat, datetime.fromisoformat):
            try:
                parse(body.value)
                return True
            except ValueError:
                continue
        return False
    return True


# ---- properties and roles ----------------------------------------------------------------------------


def property_problems(proc: etree._Element) -> list[Problem]:
    out = []
    for node in proc.xpath(".//spiffworkflow:properties/spiffworkflow:property", namespaces=NS):
        name = node.get("name") or ""
        if name in KNOWN_PROPERTIES:
            continue
        owner = node.getparent().getparent().getparent()
        close = _close(name, KNOWN_PROPERTIES)
        msg = (
            Msg("unknown property {name!r}: did you mean {suggestion}?", name=name, suggestion=close)
            if close
            else Msg("unknown property {name!r}: the engine reads only {known}", name=name, known=_known_list())
        )
        out.append(_problem(owner, "unknown_property", msg, node.sourceline))
    return out


def _known_list() -> str:
    return ", ".join(sorted(KNOWN_PROPERTIES))


def role_problems(el: etree._Element, lane: str | None, candidate_roles: str) -> list[Problem]:
    """A candidate role that no one on the lane's tier holds offers the task to nobody."""
    from engine.models import ROLES  # not at the top: engine.models imports the repository
    from engine.org.nodes import ROLE_NAMES
    from engine.org.routing import TIER_ROLES, lane_tier

    tier = lane_tier(lane)
    if tier is None:
        return []
    there = TIER_ROLES[tier]
    out = []
    for role in (r.strip() for r in candidate_roles.split(",")):
        if role and role in ROLES and role not in there:
            msg = Msg(
                "candidateRoles: nobody in lane {lane} holds the role {role_name} ({role}); there: {roles}",
                lane=lane,
                role=role,
                role_name=ROLE_NAMES.get(role, role),
                roles="、".join(f"{ROLE_NAMES.get(r, r)} ({r})" for r in there),
            )
            out.append(_problem(el, "role_not_on_tier", msg))
    return out


# ---- scripts and data flow -----------------------------------------------------------------------------


class _Source:
    """One piece of script text of a process and what it does with names."""

    def __init__(self, el: etree._Element, where: str, text: str, mode: str, line: int | None) -> None:
        self.el, self.where, self.text, self.line = el, where, text, line
        self.names: Names | None = names(text, mode)


def _sources(proc: etree._Element) -> list[_Source]:
    out = []
    for el in proc.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
            continue
        tag = _local(el)
        if tag == "scriptTask":
            script = el.find(f"{{{BPMN_NS}}}script")
            if script is not None and (script.text or "").strip():
                out.append(_Source(el, "script", script.text or "", "exec", script.sourceline))
        elif tag == "conditionExpression":
            text = (el.text or "").strip()
            if text:
                out.append(_Source(el.getparent(), "condition", text, "eval", el.sourceline))
        elif tag == "messageEventDefinition":
            for node in el.xpath(".//spiffworkflow:messagePayload", namespaces=NS):
                if (node.text or "").strip():
                    out.append(_Source(el.getparent(), "messagePayload", node.text.strip(), "eval", node.sourceline))
        if tag in HUMAN_TAGS:
            props = _props(el)
            for prop in ("dueAt", "validate"):
                if props.get(prop, "").strip():
                    out.append(_Source(el, prop, props[prop].strip(), "eval", el.sourceline))
        for ext in ("preScript", "postScript"):
            for node in el.xpath(f"./bpmn:extensionElements/spiffworkflow:{ext}", namespaces=NS):
                if (node.text or "").strip():
                    out.append(_Source(el, ext, node.text or "", "exec", node.sourceline))
    return out


def form_fields(forms: FormStore, name: str | None) -> set[str]:
    """The top-level fields a form may submit (its properties, also under allOf/if/then/else…)."""
    if not name or not forms.exists(name):
        return set()
    try:
        schema = forms.schema(name)
    except Exception:  # an unreadable form is reported by FormStore.problems
        return set()
    out: set[str] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        props = node.get("properties")
        if isinstance(props, dict):
            out.update(props)
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key) or []:
                walk(sub)
        for key in ("if", "then", "else"):
            walk(node.get(key))
        for sub in (node.get("dependentSchemas") or {}).values():
            walk(sub)

    walk(schema)
    return out


class _Process:
    """What one process of the file writes, and what it reads."""

    def __init__(self, proc: etree._Element, forms: FormStore) -> None:
        self.proc = proc
        self.key = proc.get("id")
        self.sources = _sources(proc)
        self.task_fields: dict[str, set[str]] = {}
        self.forms: dict[str, str] = {}
        writes: set[str] = set(ENGINE_VARIABLES)
        for el in proc.xpath(".//bpmn:userTask | .//bpmn:manualTask", namespaces=NS):
            form = _props(el).get("formJsonSchemaFilename")
            fields = form_fields(forms, form)
            self.task_fields[el.get("id")] = fields
            if form:
                self.forms[el.get("id")] = form
            writes |= fields
        for src in self.sources:
            if src.names is not None and src.where in ("script", "preScript", "postScript"):
                writes |= src.names.writes
        for el in proc.xpath(".//bpmn:dataObject | .//bpmn:dataObjectReference | .//bpmn:property", namespaces=NS):
            writes.update(v for v in (el.get("name"), el.get("id")) if v)
        for el in proc.xpath(".//bpmn:inputDataItem | .//bpmn:outputDataItem", namespaces=NS):
            writes.update(v for v in (el.get("name"), el.get("id")) if v)
        for el in proc.xpath(".//bpmn:loopDataOutputRef", namespaces=NS):
            writes.add((el.text or "").strip())
        for ev in proc.xpath("./bpmn:startEvent", namespaces=NS):
            writes.update(n.strip() for n in _props(ev).get("startVariables", "").split(",") if n.strip())
        self.writes = writes
        # a message start gives the instance a payload this file need not show: no guesses there
        self.open = bool(proc.xpath("./bpmn:startEvent/bpmn:messageEventDefinition", namespaces=NS))
        self.callers: set[str] = set()


def dataflow(processes: list[etree._Element], all_processes: list[etree._Element], forms: FormStore) -> list[Problem]:
    """Errors for unknown helper calls; warnings for reads that no step writes and for output
    variables that no step of the called process writes."""
    infos = {p.get("id"): _Process(p, forms) for p in all_processes}
    for info in infos.values():
        for call in info.proc.xpath(".//bpmn:callActivity", namespaces=NS):
            called = infos.get(call.get("calledElement") or "")
            if called is not None:
                called.callers.add(info.key)
    available = _available(infos)
    out: list[Problem] = []
    for proc in processes:
        info = infos[proc.get("id")]
        for src in info.sources:
            if src.names is None:
                continue
            for name, line in src.names.unknown_calls().items():
                out.append(_unknown_call(src, name, _line(src, line)))
            if available[info.key] is None:
                continue
            known = available[info.key] or set()
            for name, line in src.names.free_reads().items():
                if name in known or name in src.names.calls:
                    continue
                out.append(_unknown_read(src, name, _line(src, line), info))
        out.extend(_output_problems(info, infos))
    return out


def _available(infos: dict[str, _Process]) -> dict[str, set[str] | None]:
    """Per process: the variables some step may have written (None: cannot tell). A called
    process also sees everything its callers in this file write (children get the caller's data)."""
    result: dict[str, set[str] | None] = {}

    def of(key: str, seen: frozenset[str]) -> set[str] | None:
        info = infos[key]
        if info.open:
            return None
        names = set(info.writes)
        for caller in info.callers - seen:
            more = of(caller, seen | {key})
            if more is None:
                return None
            names |= more
        return names

    for key in infos:
        result[key] = of(key, frozenset({key}))
    return result


def _line(src: _Source, line: int) -> int | None:
    return (src.line + line - 1) if src.line and src.where in ("script", "preScript", "postScript") else src.line


def _unknown_call(src: _Source, name: str, line: int | None) -> Problem:
    close = _close(name, AVAILABLE)
    msg = (
        Msg(
            "{where} calls {name}(), which is not a script helper: did you mean {suggestion}()?",
            where=WHERE[src.where],
            name=name,
            suggestion=close,
        )
        if close
        else Msg(
            "{where} calls {name}(), which is not a script helper (see the helpers in the BPMN conventions)",
            where=WHERE[src.where],
            name=name,
        )
    )
    return _problem(src.el, "unknown_helper", msg, line)


def _unknown_read(src: _Source, name: str, line: int | None, info: _Process) -> Problem:
    form = info.forms.get(src.el.get("id") or "")
    if form and src.where in ("postScript", "validate"):
        msg = Msg(
            "{where} reads {name!r}, which the form {form} does not have and no step of the process writes",
            where=WHERE[src.where],
            name=name,
            form=form,
        )
        return _problem(src.el, "form_field_missing", msg, line, warning=True)
    msg = Msg(
        "{where} reads {name!r}, which no step of the process writes (a form field, a script, a start variable)",
        where=WHERE[src.where],
        name=name,
    )
    return _problem(src.el, "unknown_name", msg, line, warning=True)


def _output_problems(info: _Process, infos: dict[str, _Process]) -> list[Problem]:
    """A multi-instance output item must be a variable the child process (call activity) or the
    task (its form or scripts) writes, else the collected list holds only None."""
    out = []
    for el in info.proc.xpath(".//bpmn:callActivity | .//bpmn:userTask | .//bpmn:manualTask", namespaces=NS):
        for item in el.xpath("./bpmn:multiInstanceLoopCharacteristics/bpmn:outputDataItem", namespaces=NS):
            name = item.get("name") or item.get("id")
            if not name:
                continue
            if _local(el) == "callActivity":
                child = infos.get(el.get("calledElement") or "")
                if child is None or child.open or name in child.writes:
                    continue
                where, writes = child.key, child.writes
            else:
                writes = info.task_fields.get(el.get("id"), set()) | _task_script_writes(info, el)
                if name in writes:
                    continue
                where = info.forms.get(el.get("id")) or el.get("id")
            close = _close(name, writes - ENGINE_VARIABLES)
            msg = (
                Msg(
                    "outputDataItem {name!r}: no step of {where} writes it; did you mean {suggestion!r}?",
                    name=name,
                    where=where,
                    suggestion=close,
                )
                if close
                else Msg("outputDataItem {name!r}: no step of {where} writes it", name=name, where=where)
            )
            out.append(_problem(el, "output_not_written", msg, item.sourceline, warning=True))
    return out


def _task_script_writes(info: _Process, el: etree._Element) -> set[str]:
    return {
        n
        for src in info.sources
        if src.el is el and src.names is not None and src.where in ("preScript", "postScript")
        for n in src.names.writes
    }


def check(processes: list[etree._Element], all_processes: list[etree._Element], forms: FormStore) -> list[Problem]:
    """All findings of this module for the executable `processes` of a file (errors and warnings)."""
    out: list[Problem] = []
    for proc in processes:
        out.extend(property_problems(proc))
        lanes: dict[str, str] = {}
        for lane in proc.xpath(".//bpmn:lane", namespaces=NS):
            for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
                lanes[(ref.text or "").strip()] = lane.get("name") or ""
        for el in proc.xpath(".//bpmn:userTask | .//bpmn:manualTask", namespaces=NS):
            roles = _props(el).get("candidateRoles", "")
            if roles:
                out.extend(role_problems(el, lanes.get(el.get("id")), roles))
    out.extend(dataflow(processes, all_processes, forms))
    return out
