"""BPMN validation for the process repository: everything `deploy` checks before it stores.

Pipeline, each stage refusing with element ids and line numbers before the next runs:
hardened XML parse → BPMN 2.0 XSD → SpiffWorkflow parse → Sanji checks (lanes map to
tiers, forms exist, timers parse and keep the bounds, scripts pass the sandbox rules, called
processes exist, no split wider than SANJI_MAX_BRANCHES). Split from repository.py so the
storage side stays small; nothing here touches the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.core.calendar import validate_timer
from engine.core.forms import FormStore
from engine.core.scripts import check_source
from engine.core.spiff import SanjiBpmnParser, dump_specs
from engine.core.spiff_seam import VALIDATOR
from engine.errors import Invalid, Msg
from engine.infra import xmlsafe
from engine.infra.settings import Settings

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
HUMAN_TAGS = ("userTask", "manualTask")
UNSUPPORTED_TAGS = ("serviceTask", "businessRuleTask", "sendTask", "receiveTask", "adHocSubProcess", "complexGateway")
# Elements whose outgoing flows are alternatives, not parallel branches.
CHOOSING_TAGS = ("exclusiveGateway", "eventBasedGateway")
_DEFAULTS = Settings()


@dataclass
class Problem:
    message: str
    element_id: str | None = None
    line: int | None = None
    # engine/core/deploy_checks.py: a code, "error" (refused) or "warning", the catalog message
    code: str | None = None
    severity: str = "error"
    msg: Msg | None = None  # when set, the catalog renders the message in the reader's language

    @classmethod
    def of(cls, msg: Msg, element_id: str | None, line: int | None) -> Problem:
        return cls(str(msg), element_id, line, msg=msg)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"element_id": self.element_id, "line": self.line, "message": self.message}
        if self.msg is not None:
            out.update(template=self.msg.template, params=self.msg.params)
            if self.code:
                out.update(code=self.code, severity=self.severity)
        return out


@dataclass
class ParsedProcess:
    key: str
    name: str
    spec_blob: bytes
    info: dict[str, Any]


@dataclass
class ParsedFile:
    filename: str
    sha256: str
    xml: str
    processes: list[ParsedProcess] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # deploy goes through; reported to the owner
    laid_out: bool = False  # the diagram had no layout: `xml` carries one made at deploy


def _props(el: etree._Element) -> dict[str, str]:
    return {
        p.get("name"): p.get("value", "")
        for p in el.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)
    }


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _invalid(problems: list[Problem], what: str) -> Invalid:
    """Refusal naming the first error; warnings come last in the details and are not counted."""
    errors = [p for p in problems if p.severity != "warning"]
    first = errors[0]
    where = (
        f" (element {first.element_id}" + (f", line {first.line})" if first.line else ")")
        if first.element_id
        else (f" (line {first.line})" if first.line else "")
    )
    more = f" and {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return Invalid(
        "{what}: {message}{where}{more}",
        [p.as_dict() for p in problems],
        what=what,
        message=first.msg if first.msg is not None else first.message,
        where=where,
        more=more,
    )


def validate(
    data: bytes | str,
    filename: str,
    forms: FormStore,
    max_bytes: int,
    known_keys: Callable[[str], bool] = lambda key: False,
    *,
    settings: Settings | None = None,
    deployed: Callable[[str], str | None] | None = None,
) -> ParsedFile:
    """Parse and check one BPMN document; raise Invalid/TooLarge listing every problem.
    `settings` gives the bounds (SANJI_MAX_BRANCHES, SANJI_TIMER_MIN_SECONDS; default: their defaults);
    `deployed` the XML of a deployed process by key (for the deploy checks of called processes)."""
    root = xmlsafe.parse(data, max_bytes)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if etree.QName(root).namespace != BPMN_NS or _local(root) != "definitions":
        raise _invalid(
            [Problem(f"the root element must be bpmn:definitions ({BPMN_NS})", None, root.sourceline)],
            "not a BPMN 2.0 document",
        )
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}

    def line_of(element_id: str | None) -> int | None:
        el = by_id.get(element_id) if element_id else None
        return el.sourceline if el is not None else None

    try:
        VALIDATOR.validate(root, filename)
    except ValidationException as exc:
        raise _invalid([Problem(f"BPMN schema: {exc}", None, exc.line_number or None)], "invalid BPMN") from None

    processes = root.xpath("./bpmn:process", namespaces=NS)
    executable = [p for p in processes if p.get("isExecutable", "true") == "true"]
    if not executable:
        raise _invalid(
            [
                Problem(
                    'the document contains no executable process (isExecutable="true"); '
                    "Sanji stores only diagrams it can run",
                    None,
                    None,
                )
            ],
            "nothing to deploy",
        )
    local_keys = {p.get("id") for p in processes}

    from engine.core import deploy_checks, layout  # they import this module

    problems: list[Problem] = []
    for proc in executable:
        problems.extend(_check_process(proc, forms, local_keys, known_keys, settings or _DEFAULTS))
        problems.extend(unreachable(proc))
    found = deploy_checks.check(executable, processes, forms, deployed)
    problems.extend(p for p in found if p.severity == "error")
    if problems:
        raise _invalid(problems + [p for p in found if p.severity == "warning"], "the diagram cannot be deployed")

    parser = SanjiBpmnParser()
    try:
        parser.add_bpmn_xml(root, filename)
        parsed = ParsedFile(filename, hashlib.sha256(raw).hexdigest(), raw.decode("utf-8"))
        parsed.warnings = [p for p in found if p.severity == "warning"]
        for proc in executable:
            key = proc.get("id")
            spec = parser.get_spec(key)
            subs = parser.get_subprocess_specs(key)
            parsed.processes.append(
                ParsedProcess(key, proc.get("name") or key, dump_specs(spec, subs), _info(proc, local_keys))
            )
    except ValidationException as exc:
        eid = getattr(exc, "id", None) or None
        raise _invalid([Problem(str(exc).split("\n")[0], eid, line_of(eid))], "the diagram cannot be parsed") from None
    except (NotImplementedError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise _invalid([Problem(f"unsupported construct: {exc}", None, None)], "the diagram cannot be parsed") from None
    if not layout.has_layout(root):  # hand-written XML: lay it out so that it opens in the modeler
        try:
            parsed.xml, parsed.laid_out = layout.laid_out(root), True
        except Exception:  # a layout the tool cannot make never refuses a valid diagram
            parsed.laid_out = False
    return parsed


def _check_process(
    proc: etree._Element, forms: FormStore, local_keys: set[str], known_keys: Callable[[str], bool], bounds: Settings
) -> list[Problem]:
    # Imported here, not at the top: engine.models pulls in engine.org.policy, which imports
    # repository, which imports this module — a top-level import would be a cycle.
    from engine.core.deploy_checks import due_problems
    from engine.models import ROLES
    from engine.org.routing import lane_tier

    problems: list[Problem] = []
    outgoing: dict[str, int] = {}
    for flow in proc.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        outgoing[flow.get("sourceRef")] = outgoing.get(flow.get("sourceRef"), 0) + 1
    lanes: dict[str, str] = {}
    for lane in proc.xpath(".//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            lanes[(ref.text or "").strip()] = lane.get("name") or ""

    def add(el: etree._Element, message: str) -> None:
        problems.append(Problem(message, el.get("id"), el.sourceline))

    for el in proc.iter():
        if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
            continue
        tag = _local(el)
        if tag in UNSUPPORTED_TAGS:
            add(el, f"bpmn:{tag} is not supported by Sanji; use a user task, script task or message event")
        branches = outgoing.get(el.get("id"), 0) if tag not in CHOOSING_TAGS else 0
        if branches > bounds.max_branches:
            add(
                el,
                f"{tag} {el.get('name') or el.get('id')!r} splits into {branches} parallel branches; at most "
                f"{bounds.max_branches} are allowed (SANJI_MAX_BRANCHES): fan out with a multi-instance "
                "call activity instead",
            )
        if tag in HUMAN_TAGS:
            lane = lanes.get(el.get("id"))
            if lane is None:
                add(
                    el,
                    f"{tag} {el.get('name') or el.get('id')!r} lies in no lane; put it in a tier lane "
                    "(集团公司纪委, 权属单位纪委, 基层党支部纪律检查委员 or 职能部门)",
                )
            elif lane_tier(lane) is None:
                add(
                    el,
                    f"lane {lane!r} does not name a tier; use 集团公司纪委, 权属单位纪委, "
                    "基层党支部纪律检查委员 or 职能部门",
                )
            props = _props(el)
            form = props.get("formJsonSchemaFilename")
            if form:
                for msg in forms.problems(form):
                    add(el, msg)
            problems.extend(due_problems(el, props))  # dueIn, dueAt: engine/core/deploy_checks.py
            if props.get("validate"):
                problems.extend(
                    Problem(f"validate: {m}", el.get("id"), el.sourceline)
                    for m in check_source(props["validate"], "eval")
                )
            if props.get("candidateRoles"):
                bad = [r for r in props["candidateRoles"].split(",") if r.strip() and r.strip() not in ROLES]
                if bad:
                    add(el, f"candidateRoles names unknown roles {bad}")
        elif tag == "startEvent" and "startVariables" in _props(el):
            problems.extend(Problem(m, el.get("id"), el.sourceline) for m in _start_variable_problems(el))
        elif tag == "scriptTask":
            script = el.find(f"{{{BPMN_NS}}}script")
            if script is None or not (script.text or "").strip():
                add(el, "script task has no script")
            else:
                problems.extend(
                    Problem(f"script {m}", el.get("id"), el.sourceline) for m in check_source(script.text, "exec")
                )
        elif tag == "conditionExpression":
            parent = el.getparent()
            problems.extend(
                Problem(f"condition {m}", parent.get("id"), el.sourceline)
                for m in check_source((el.text or "").strip() or "True", "eval")
            )
        elif tag in ("timeDate", "timeDuration", "timeCycle"):
            event = el.getparent().getparent()
            problems.extend(
                Problem(m, event.get("id"), el.sourceline)
                for m in validate_timer(
                    tag, el.text, start_event=_local(event) == "startEvent", min_seconds=bounds.timer_min_seconds
                )
            )
        elif tag == "loopCardinality":
            activity = el.getparent().getparent()
            count = (el.text or "").strip()
            if count.isdigit() and int(count) > bounds.max_branches:
                problems.append(
                    Problem(
                        f"multi-instance {activity.get('name') or activity.get('id')!r} runs {count} "
                        f"instances; at most {bounds.max_branches} may run inside one instance "
                        "(SANJI_MAX_BRANCHES): use a multi-instance call activity",
                        activity.get("id"),
                        el.sourceline,
                    )
                )
        elif tag == "callActivity":
            called = el.get("calledElement")
            if not called:
                add(el, "call activity has no calledElement")
            elif called not in local_keys and not known_keys(called):
                add(el, f"called process {called!r} is neither in this file nor deployed")
        if tag == "messageEventDefinition":
            for node in el.xpath(".//spiffworkflow:messagePayload", namespaces=NS):
                problems.extend(
                    Problem(f"messagePayload {m}", el.getparent().get("id"), node.sourceline)
                    for m in check_source((node.text or "").strip() or "None", "eval")
                )
        for ext in ("preScript", "postScript"):
            for node in el.xpath(f"./bpmn:extensionElements/spiffworkflow:{ext}", namespaces=NS):
                problems.extend(
                    Problem(f"{ext} {m}", el.get("id"), node.sourceline) for m in check_source(node.text or "", "exec")
                )
    return problems


# Flow nodes a token reaches only through an incoming sequence flow.
_FLOW_NODE_TAGS = (
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "complexGateway", "intermediateCatchEvent", "intermediateThrowEvent", "endEvent",
)  # fmt: skip
# Nodes that start a path themselves: they need an outgoing flow only.
_STARTING_TAGS = ("startEvent", "boundaryEvent")


def _compensation(el: etree._Element) -> bool:
    if el.get("isForCompensation") == "true":
        return True
    defs = [c for c in el if isinstance(c.tag, str) and _local(c).endswith("EventDefinition")]
    return _local(el) == "boundaryEvent" and len(defs) == 1 and _local(defs[0]) == "compensateEventDefinition"


def unreachable(proc: etree._Element) -> list[Problem]:
    """Flow nodes no token can reach or leave (the modeler's lint reports the same, as
    bpmnlint's no-disconnected and our unreachable rule): an element with no sequence flow at
    all, or no incoming one on an element that is not a start, boundary or link-catch event,
    an event sub-process, a compensation handler or inside an ad-hoc sub-process (e.g. an end
    event dropped on the canvas by a stray click)."""
    problems: list[Problem] = []
    containers = [proc, *proc.iter(f"{{{BPMN_NS}}}subProcess", f"{{{BPMN_NS}}}transaction")]
    for container in containers:
        flows = list(container.iterchildren(f"{{{BPMN_NS}}}sequenceFlow"))
        targets = {f.get("targetRef") for f in flows}
        sources = {f.get("sourceRef") for f in flows}
        for el in container.iterchildren():
            if not isinstance(el.tag, str) or etree.QName(el).namespace != BPMN_NS:
                continue
            tag = _local(el)
            if tag not in _FLOW_NODE_TAGS and tag not in _STARTING_TAGS:
                continue
            if el.get("id") in targets or el.get("triggeredByEvent") == "true" or _compensation(el):
                continue
            name = el.get("name") or el.get("id")
            if el.get("id") not in sources:
                msg = Msg("{name!r} is not connected to any sequence flow: connect it or delete it", name=name)
            elif tag in _STARTING_TAGS or (
                tag == "intermediateCatchEvent" and el.find(f"{{{BPMN_NS}}}linkEventDefinition") is not None
            ):
                continue
            else:
                msg = Msg(
                    "{name!r} has no incoming sequence flow, so it can never be reached: connect it or delete it",
                    name=name,
                )
            problems.append(Problem.of(msg, el.get("id"), el.sourceline))
    return problems


def _start_variables(ev: etree._Element) -> list[str]:
    return [n.strip() for n in _props(ev).get("startVariables", "").split(",") if n.strip()]


def _start_variable_problems(ev: etree._Element) -> list[str]:
    """`startVariables` (the variables a person may give when starting by hand, see
    engine/org/policy.py) belongs on a plain start event and names plain variables."""
    if any(isinstance(c.tag, str) and _local(c).endswith("EventDefinition") for c in ev):
        return ["startVariables belongs on a plain (none) start event: only that one is started by hand"]
    return [
        f"startVariables: {name!r} is not a variable name (letters, digits and _, not starting with _)"
        for name in _start_variables(ev)
        if not name.isidentifier() or name.startswith("_")
    ]


def _info(proc: etree._Element, local_keys: set[str]) -> dict[str, Any]:
    """What the rest of Sanji reads without parsing: lanes, user tasks, start events, calls."""
    from engine.org.routing import lane_tier  # not at the top: see _check_process

    lanes: dict[str, str] = {}
    lane_names = []
    for lane in proc.xpath(".//bpmn:lane", namespaces=NS):
        refs = [(ref.text or "").strip() for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS)]
        lane_names.append(
            {"id": lane.get("id"), "name": lane.get("name"), "tier": lane_tier(lane.get("name")), "nodes": refs}
        )
        for ref in refs:
            lanes[ref] = lane.get("name") or ""
    user_tasks = []
    for el in proc.xpath(".//bpmn:userTask | .//bpmn:manualTask", namespaces=NS):
        props = _props(el)
        user_tasks.append(
            {
                "id": el.get("id"),
                "name": el.get("name"),
                "lane": lanes.get(el.get("id")),
                "tier": lane_tier(lanes.get(el.get("id"))),
                "form": props.get("formJsonSchemaFilename"),
                "due_in": props.get("dueIn"),
                "due_at": props.get("dueAt"),
            }
        )
    starts = []
    for ev in proc.xpath("./bpmn:startEvent", namespaces=NS):
        entry: dict[str, Any] = {"id": ev.get("id"), "name": ev.get("name"), "kind": "none"}
        timer = ev.find(f"{{{BPMN_NS}}}timerEventDefinition")
        if timer is not None:
            for child in timer:
                if isinstance(child.tag, str):
                    entry.update(kind="timer", timer_kind=_local(child), expression=(child.text or "").strip())
        message = ev.find(f"{{{BPMN_NS}}}messageEventDefinition")
        if message is not None:
            ref = message.get("messageRef")
            msg = proc.getroottree().getroot().xpath(f"./bpmn:message[@id='{ref}']", namespaces=NS) if ref else []
            entry.update(kind="message", message=msg[0].get("name") if msg else ref)
        if entry["kind"] == "none" and _start_variables(ev):
            entry["variables"] = _start_variables(ev)
        starts.append(entry)
    calls = sorted({el.get("calledElement") for el in proc.xpath(".//bpmn:callActivity", namespaces=NS)})
    called_here = {
        el.get("calledElement") for el in proc.getroottree().getroot().xpath(".//bpmn:callActivity", namespaces=NS)
    }
    doc = proc.find(f"{{{BPMN_NS}}}documentation")
    return {
        "lanes": lane_names,
        "user_tasks": user_tasks,
        "start_events": starts,
        "calls": calls,
        "local_calls": [c for c in calls if c in local_keys],
        "called_only": proc.get("id") in called_here,
        "documentation": (doc.text or "").strip() if doc is not None else "",
    }
