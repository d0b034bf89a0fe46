"""docs/procedures.md stays true of processes/*.bpmn (issue 17 item 7).

Every `processes/<file>.bpmn#<element id>` reference names an element of that file, and when the
reference is followed by the element's Chinese name, that is its name in the diagram; every
`processes/…` and `forms/…` file named exists; every user task and every deciding exclusive
gateway of the built-in diagrams is referenced outside the generated index; the generated element
index equals what tools/procedures_index.py makes of the diagrams today.
"""

from __future__ import annotations

import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "procedures.md"
PROCESSES = ROOT / "processes"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
REF = re.compile(r"`processes/([\w.-]+\.bpmn)#([\w.-]+)`")
FILE_REF = re.compile(r"`(processes/[\w.-]+\.bpmn|forms/[\w.-]+\.json)`")
CJK = re.compile(r"[\u3400-\u9fff\uff08\u201c\u300a]")


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _prose(doc: str) -> str:
    """The hand-written part: everything but the generated index."""
    head, _, rest = doc.partition("<!-- index:begin -->")
    _, _, tail = rest.partition("<!-- index:end -->")
    return head + tail


def _elements(name: str) -> dict[str, str | None]:
    """id → name of every element of processes/<name> that has an id."""
    root = ET.parse(PROCESSES / name).getroot()
    return {el.get("id", ""): el.get("name") for el in root.iter() if el.get("id")}


def _decision_points() -> set[tuple[str, str]]:
    """(file, id) of every user task and every exclusive gateway that chooses a way (has a default)."""
    out = set()
    for path in PROCESSES.glob("*.bpmn"):
        for el in ET.parse(path).getroot().iter():
            if el.tag == BPMN + "userTask" or (el.tag == BPMN + "exclusiveGateway" and el.get("default")):
                out.add((path.name, el.get("id", "")))
    return out


def test_every_element_reference_names_an_element_of_its_file_with_its_name() -> None:
    doc = _doc()
    refs = list(REF.finditer(doc))
    assert len(refs) > 150, len(refs)
    cache: dict[str, dict[str, str | None]] = {}
    wrong = []
    for m in refs:
        file, element = m.group(1), m.group(2)
        if not (PROCESSES / file).is_file():
            wrong.append(f"{m.group(0)}: no file processes/{file}")
            continue
        elements = cache.setdefault(file, _elements(file))
        if element not in elements:
            wrong.append(f"{m.group(0)}: no element {element!r} in processes/{file}")
            continue
        after = doc[m.end() :]
        name = " ".join((elements[element] or "").split())
        if after.startswith(" ") and CJK.match(after[1:2]) and not after[1:].startswith(name):
            wrong.append(f"{m.group(0)} is called {name!r} in the diagram, the doc says {after[1:30]!r}")
    assert wrong == []


def test_every_file_named_exists() -> None:
    named = set(FILE_REF.findall(_doc())) | {f"processes/{m.group(1)}" for m in REF.finditer(_doc())}
    assert {n for n in named if not (ROOT / n).is_file()} == set()
    assert {f"processes/{p.name}" for p in PROCESSES.glob("*.bpmn")} <= named


def test_every_user_task_and_deciding_gateway_is_described() -> None:
    described = {(m.group(1), m.group(2)) for m in REF.finditer(_prose(_doc()))}
    missing = sorted(_decision_points() - described)
    assert missing == [], "docs/procedures.md does not describe: " + ", ".join(f"processes/{f}#{i}" for f, i in missing)


def test_the_element_index_is_what_the_diagrams_say() -> None:
    spec = importlib.util.spec_from_file_location("procedures_index", ROOT / "tools" / "procedures_index.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    doc = _doc()
    assert tool.splice(doc, tool.index()) == doc, "run: python tools/procedures_index.py"
