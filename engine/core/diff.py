"""What changed between two BPMN documents, element by element.

Elements are matched by id. Each "diffable" element — a process, lane, flow node, sequence or
message flow, message, participant… anything with an id directly inside a process,
sub-process, collaboration, lane set or the definitions — gets a fingerprint of the fields
that matter: its type and name, its attributes (`calledElement`, `default`, `sourceRef`…),
the lane it lies in, and the content of its nested parts folded in under readable field
names (`condition`, `timer.timeDuration`, `script`, `property.dueIn`, `multiInstance.loopDataInputRef`,
`preScript`, `documentation`…). Layout (the BPMN DI) is compared separately: moving a shape
is `layout_changed`, not a semantic change.

`diff(a, b)` returns `{added, removed, changed, layout_changed, summary}`; two documents with
the same semantics (e.g. a diagram opened and saved again in the modeler) have empty
`added`, `removed` and `changed`.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.infra import xmlsafe

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREFIXES = {BPMN_NS: "", SPIFF_NS: "spiffworkflow:", XSI_NS: "xsi:"}

# Elements whose children with ids are compared on their own.
CONTAINERS = {
    "definitions",
    "process",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "collaboration",
    "laneSet",
    "childLaneSet",
    "lane",
}
# Never compared on their own, even with an id: folded into the element that owns them.
ALWAYS_FOLDED = {
    "documentation",
    "extensionElements",
    "ioSpecification",
    "laneSet",
    "childLaneSet",
    "flowNodeRef",
    "incoming",
    "outgoing",
}
# Derived from the flows (bpmn-js writes them, hand-written files often do not): not compared.
IGNORED_CHILDREN = {"incoming", "outgoing"}
# Keep the id of these folded parts (SpiffWorkflow reads it when the name is missing).
KEEP_ID = {"inputDataItem", "outputDataItem", "dataInput", "dataOutput"}
# Readable names for folded paths.
FRIENDLY = {
    "conditionExpression": "condition",
    "script": "script",
    "spiffworkflow:preScript": "preScript",
    "spiffworkflow:postScript": "postScript",
    "spiffworkflow:messagePayload": "messagePayload",
    "spiffworkflow:messageVariable": "messageVariable",
    "multiInstanceLoopCharacteristics": "multiInstance",
    "standardLoopCharacteristics": "loop",
    "formalExpression": "expression",  # a substitute for bpmn:expression (modelers write either)
}
# BPMN attribute defaults (BPMN 2.0 XSD): writing the default or leaving it out means the same,
# and modelers differ in which they do.
DEFAULTS = {
    "completionQuantity": "1",
    "startQuantity": "1",
    "isForCompensation": "false",
    "isInterrupting": "true",
    "cancelActivity": "true",
    "parallelMultiple": "false",
    "isCollection": "false",
    "testBefore": "false",
    "eventGatewayType": "Exclusive",
    "instantiate": "false",
    "isClosed": "false",
    "gatewayDirection": "Unspecified",
    "isSequential": "false",
    "behavior": "All",
    "triggeredByEvent": "false",
    "associationDirection": "None",
    "processType": "None",
    "ordering": "Parallel",
    "cancelRemainingInstances": "true",
    "waitForCompletion": "true",
    "implementation": "##unspecified",
}
# The fields of a change worth showing first.
FIELD_ORDER = (
    "type",
    "name",
    "lane",
    "source",
    "target",
    "condition",
    "timer",
    "script",
    "calledElement",
    "property",
    "multiInstance",
    "nodes",
)


@dataclass
class Element:
    id: str
    type: str
    name: str | None
    process: str | None
    fields: dict[str, Any] = field(default_factory=dict)

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "name": self.name, "process": self.process}


@dataclass
class Model:
    elements: dict[str, Element]
    layout: dict[str, tuple[Any, ...]]


def _tag(el: etree._Element) -> str:
    q = etree.QName(el)
    return PREFIXES.get(q.namespace or "", f"{{{q.namespace}}}" if q.namespace else "") + q.localname


def _attr_name(name: str) -> str:
    if name.startswith("{"):
        ns, local = name[1:].split("}", 1)
        return PREFIXES.get(ns, f"{{{ns}}}") + local
    return name


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _fold(el: etree._Element, prefix: str, out: dict[str, Any]) -> None:
    """Fold the content of a nested part into `out` under readable keys."""
    tag = _tag(el)
    if tag in IGNORED_CHILDREN:
        return
    if tag == "spiffworkflow:properties":
        for prop in el:
            if isinstance(prop.tag, str) and _tag(prop) == "spiffworkflow:property":
                out[f"property.{prop.get('name')}"] = prop.get("value", "")
        return
    if tag == "extensionElements":
        for child in el:
            if isinstance(child.tag, str):
                _fold(child, "", out)
        return
    if tag.endswith("EventDefinition"):
        # timer.timeDuration, message.messageRef … (the definition's own id is noise)
        kind = tag[: -len("EventDefinition")]
        key = f"{prefix}{kind}"
        out.setdefault("eventDefinitions", [])
        out["eventDefinitions"] = sorted(set(out["eventDefinitions"]) | {kind})
        for name, value in el.attrib.items():
            if name != "id" and _attr_name(name) != "xsi:type":
                out[f"{key}.{_attr_name(name)}"] = value
        _fold_children(el, f"{key}.", out)
        return
    key = prefix + FRIENDLY.get(tag, tag)
    if tag == "documentation":
        existing = out.get(key)
        out[key] = (existing + "\n" if existing else "") + _text(el)
        return
    for name, value in el.attrib.items():
        attr = _attr_name(name)
        if attr == "xsi:type" or (attr == "id" and tag not in KEEP_ID) or DEFAULTS.get(attr, ...) == value:
            continue
        out[f"{key}@{attr}"] = _clean(attr, value)
    text = _text(el)
    if text:
        out[key] = text
    _fold_children(el, f"{key}.", out)


def _fold_children(el: etree._Element, prefix: str, out: dict[str, Any]) -> None:
    """Fold child parts; repeated tags are told apart by their id (or position)."""
    children = [c for c in el if isinstance(c.tag, str)]
    counts: dict[str, int] = {}
    for c in children:
        counts[_tag(c)] = counts.get(_tag(c), 0) + 1
    seen: dict[str, int] = {}
    for c in children:
        tag = _tag(c)
        if (
            counts[tag] > 1
            and tag not in ("documentation", "spiffworkflow:properties", "extensionElements")
            and not tag.endswith("EventDefinition")
        ):
            seen[tag] = seen.get(tag, 0) + 1
            sub: dict[str, Any] = {}
            _fold(c, "", sub)
            label = f"{FRIENDLY.get(tag, tag)}[{c.get('id') or seen[tag]}]"
            for k, v in sub.items():
                out[f"{prefix}{label}{k[len(FRIENDLY.get(tag, tag)) :]}"] = v
        else:
            _fold(c, prefix, out)


def _clean(attr: str, value: str) -> str:
    """Labels compare by their words: line breaks typed in a modeler are not a change."""
    return " ".join(value.split()) if attr == "name" else value


def _fingerprint(el: etree._Element, process: str | None, lanes: dict[str, str]) -> Element:
    tag = _tag(el)
    eid = el.get("id")
    fields: dict[str, Any] = {"type": tag}
    for name, value in el.attrib.items():
        attr = _attr_name(name)
        if attr in ("id",):
            continue
        if DEFAULTS.get(attr, ...) == value:
            continue
        if attr == "sourceRef":
            attr = "source"
        elif attr == "targetRef":
            attr = "target"
        fields[attr] = _clean(attr, value)
    fields.setdefault("name", None)
    if eid in lanes:
        fields["lane"] = lanes[eid]
    if tag == "lane":
        fields["nodes"] = sorted(_text(r) for r in el if isinstance(r.tag, str) and _tag(r) == "flowNodeRef")
    text = _text(el)
    if text and tag in ("textAnnotation",):
        fields["text"] = text
    parts = etree.Element("parts")
    for child in el:
        if not isinstance(child.tag, str):
            continue
        ctag = _tag(child)
        if tag in CONTAINERS and child.get("id") and ctag not in ALWAYS_FOLDED:
            continue  # compared on its own
        if ctag in ("laneSet", "childLaneSet", "flowNodeRef"):
            continue
        parts.append(deepcopy(child))
    _fold_children(parts, "", fields)
    return Element(eid, tag, fields.get("name"), process, fields)


def parse(data: bytes | str, max_bytes: int = 20 * 1024 * 1024) -> Model:
    root = xmlsafe.parse(data, max_bytes)
    elements: dict[str, Element] = {}
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iter(f"{{{BPMN_NS}}}flowNodeRef"):
            if ref.getparent() is lane:
                lanes[_text(ref)] = lane.get("name") or lane.get("id") or ""

    def walk(container: etree._Element, process: str | None) -> None:
        for child in container:
            if not isinstance(child.tag, str):
                continue
            q = etree.QName(child)
            if q.namespace != BPMN_NS:
                continue
            tag = q.localname
            if tag in ("laneSet", "childLaneSet"):
                walk(child, process)
                continue
            if tag in ALWAYS_FOLDED or not child.get("id"):
                continue
            here = process
            if tag == "process":
                here = child.get("id")
            elements[child.get("id")] = _fingerprint(child, here if tag != "process" else None, lanes)
            if tag in CONTAINERS:
                walk(child, here)

    walk(root, None)
    return Model(elements, _layout(root))


def _layout(root: etree._Element) -> dict[str, tuple[Any, ...]]:
    """Bounds of shapes and waypoints of edges, by the BPMN element they draw (rounded)."""
    out: dict[str, tuple[Any, ...]] = {}
    for el in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge"):
        ref = el.get("bpmnElement")
        if not ref:
            continue
        points: list[Any] = []
        for b in el.iter(f"{{{DC_NS}}}Bounds", f"{{{DI_NS}}}waypoint"):
            if b.getparent() is not el:
                continue  # label bounds move with the label, not the element
            points.append(
                tuple(
                    round(float(b.get(k, "0")))
                    for k in (("x", "y", "width", "height") if etree.QName(b).localname == "Bounds" else ("x", "y"))
                )
            )
        if el.get("isExpanded"):
            points.append(("expanded", el.get("isExpanded")))
        out[ref] = tuple(points)
    return out


def _sort_key(name: str) -> tuple[int, str]:
    head = name.split(".", 1)[0].split("@", 1)[0]
    return (FIELD_ORDER.index(head) if head in FIELD_ORDER else len(FIELD_ORDER), name)


def diff_models(a: Model, b: Model) -> dict[str, Any]:
    added = [b.elements[i].brief() for i in b.elements if i not in a.elements]
    removed = [a.elements[i].brief() for i in a.elements if i not in b.elements]
    changed = []
    for eid, old in a.elements.items():
        new = b.elements.get(eid)
        if new is None:
            continue
        keys = sorted(set(old.fields) | set(new.fields), key=_sort_key)
        changes = [
            {"field": k, "from": old.fields.get(k), "to": new.fields.get(k)}
            for k in keys
            if old.fields.get(k) != new.fields.get(k)
        ]
        if changes:
            changed.append({**new.brief(), "changes": changes})
    layout_changed = sorted(
        i
        for i in set(a.layout) | set(b.layout)
        if i in a.elements and i in b.elements and a.layout.get(i) != b.layout.get(i)
    )
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "layout_changed": layout_changed,
        "summary": {
            "added": len(added),
            "removed": len(removed),
            "changed": len(changed),
            "layout_changed": len(layout_changed),
        },
    }


def diff(a: bytes | str, b: bytes | str, max_bytes: int = 20 * 1024 * 1024) -> dict[str, Any]:
    """Compare two BPMN documents; see the module docstring for the result."""
    return diff_models(parse(a, max_bytes), parse(b, max_bytes))
