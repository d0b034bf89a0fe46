"""The data-flow part of the deploy checks (engine/core/deploy_checks.py): which variables the
steps of a process write, and what its scripts and expressions call and read.

An unknown helper call is an error (certain); a read of a variable that no step writes, and a
multi-instance output variable that no step of the called process writes, are warnings (the
order of the steps is not considered, and a variable may come from outside the file).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from engine.core.deploy_checks import ENGINE_VARIABLES, WHERE, close_match, finding
from engine.core.fan_choice import FAN_OUT, list_variable, rollup_variable
from engine.core.forms import FormStore
from engine.core.script_names import AVAILABLE, Names, names
from engine.core.validation import BPMN_NS, HUMAN_TAGS, NS, Problem, _local, _props
from engine.errors import Msg


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
        for el in proc.xpath(".//bpmn:callActivity | .//bpmn:userTask", namespaces=NS):
            props = _props(el)
            choice = FAN_OUT.get((props.get("fanOut") or "").strip())
            if choice is not None:  # fanOut: the engine gives each child / instance its item
                writes.add(choice.item)
                if el.tag.endswith("userTask"):
                    writes.add(list_variable(el.get("id") or ""))
            if props.get("rollUp") and el.tag.endswith("callActivity"):
                writes.add(rollup_variable(el.get("id") or ""))
        for ev in proc.xpath("./bpmn:startEvent", namespaces=NS):
            writes.update(n.strip() for n in _props(ev).get("startVariables", "").split(",") if n.strip())
        self.writes = writes
        # a message start gives the instance a payload this file need not show: no guesses there
        self.open = bool(proc.xpath("./bpmn:startEvent/bpmn:messageEventDefinition", namespaces=NS))
        self.callers: set[str] = set()


def dataflow(
    processes: list[etree._Element],
    all_processes: list[etree._Element],
    forms: FormStore,
    deployed: Callable[[str], str | None] | None = None,
) -> list[Problem]:
    """Errors for unknown helper calls; warnings for reads that no step writes and for output
    variables that no step of the called process (in the file, else its deployed version) writes."""
    infos = {p.get("id"): _Process(p, forms) for p in all_processes}
    children = _deployed_children(infos, forms, deployed)
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
        for el in proc.xpath(".//bpmn:userTask | .//bpmn:manualTask", namespaces=NS):
            out.extend(_variable_problems(el, available[info.key]))
        out.extend(_output_problems(info, {**children, **infos}))
    return out


def _deployed_children(
    infos: dict[str, _Process], forms: FormStore, deployed: Callable[[str], str | None] | None
) -> dict[str, _Process]:
    """The deployed processes that call activities of the file call (not defined in the file)."""
    out: dict[str, _Process] = {}
    if deployed is None:
        return out
    for info in infos.values():
        for call in info.proc.xpath(".//bpmn:callActivity", namespaces=NS):
            key = call.get("calledElement") or ""
            if not key or key in infos or key in out:
                continue
            xml = deployed(key)
            if not xml:
                continue
            try:  # stored versions passed this validation when they were deployed
                root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
            except etree.XMLSyntaxError:
                continue
            found = root.xpath("./bpmn:process[@id=$key]", namespaces=NS, key=key)
            if found:
                out[key] = _Process(found[0], forms)
    return out


def _variable_problems(el: etree._Element, known: set[str] | None) -> list[Problem]:
    """`nodeVariable` / `assigneeVariable` name a variable some step must write."""
    if known is None:
        return []
    props = _props(el)
    out = []
    for prop in ("nodeVariable", "assigneeVariable"):
        name = props.get(prop, "").strip()
        if name and name not in known:
            msg = Msg(
                "{where} reads {name!r}, which no step of the process writes (a form field, a script, a start variable)",
                where=WHERE[prop],
                name=name,
            )
            out.append(finding(el, "unknown_name", msg, warning=True))
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
    close = close_match(name, AVAILABLE)
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
    return finding(src.el, "unknown_helper", msg, line)


def _unknown_read(src: _Source, name: str, line: int | None, info: _Process) -> Problem:
    form = info.forms.get(src.el.get("id") or "")
    if form and src.where in ("postScript", "validate"):
        msg = Msg(
            "{where} reads {name!r}, which the form {form} does not have and no step of the process writes",
            where=WHERE[src.where],
            name=name,
            form=form,
        )
        return finding(src.el, "form_field_missing", msg, line, warning=True)
    msg = Msg(
        "{where} reads {name!r}, which no step of the process writes (a form field, a script, a start variable)",
        where=WHERE[src.where],
        name=name,
    )
    return finding(src.el, "unknown_name", msg, line, warning=True)


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
                if _props(el).get("sign"):  # 会签 / 或签: the engine writes the signature there
                    continue
                writes = info.task_fields.get(el.get("id"), set()) | _task_script_writes(info, el)
                if name in writes:
                    continue
                where = info.forms.get(el.get("id")) or el.get("id")
            close = close_match(name, writes - ENGINE_VARIABLES)
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
            out.append(finding(el, "output_not_written", msg, item.sourceline, warning=True))
    return out


def _task_script_writes(info: _Process, el: etree._Element) -> set[str]:
    return {
        n
        for src in info.sources
        if src.el is el and src.names is not None and src.where in ("preScript", "postScript")
        for n in src.names.writes
    }
