"""No built-in form asks a person to type an id, a username or a sequence number (issue 15): a
field whose name or title says it holds one is a pick (x-source, enum), a fixed key of a row per
item (x-rows-from), or read-only. Official document numbers (立案编号, 通报文号) are typed from the
paper they are written on and are not system identifiers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from engine.infra.settings import ROOT

FORMS = sorted((ROOT / "forms").glob("*.json"))
ID_NAME = re.compile(r"(^|_)(id|ids|username|usernames|key|keys|no|seq|index)$")
ID_TITLE = re.compile(r"序号|用户名|账号|标识|\bID\b", re.I)
PAPER_NUMBERS = {"case_no", "bulletin_no", "decision_no"}  # 立案编号, 通报文号, 处理决定文号: on the official document


def typed_ids(schema: dict[str, Any], path: str = "", fixed: frozenset[str] = frozenset()) -> list[str]:
    found: list[str] = []
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        items = sub.get("items") if isinstance(sub.get("items"), dict) else {}
        picked = any(k in sub or k in items for k in ("x-source", "enum", "const")) or sub.get("readOnly")
        says_id = ID_NAME.search(name) or ID_TITLE.search(str(sub.get("title", "")))
        if says_id and not picked and name not in fixed and name not in PAPER_NUMBERS:
            found.append(f"{path}/{name}")
        rows = sub.get("x-rows-from")
        keys = frozenset(rows["key"]) if isinstance(rows, dict) else frozenset()
        found += typed_ids(sub, f"{path}/{name}", fixed)
        if items:
            found += typed_ids(items, f"{path}/{name}/items", keys)
    for part in ("if", "then", "else"):
        if isinstance(schema.get(part), dict):
            found += typed_ids(schema[part], path, fixed)
    for part in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(part) or []:
            found += typed_ids(sub, path, fixed)
    for sub in (schema.get("dependentSchemas") or {}).values():
        found += typed_ids(sub, path, fixed)
    return found


def test_every_built_in_form_is_swept():
    assert len(FORMS) == 69  # the 62 forms of the procedures and the 7 of the step templates (common_*)


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.name)
def test_no_built_in_form_asks_for_an_id(path):
    assert typed_ids(json.loads(path.read_text(encoding="utf-8"))) == []


def test_the_sweep_finds_a_typed_id():
    schema = {"properties": {"branch_id": {"type": "string", "title": "支部"},
                             "rows": {"type": "array", "items": {"properties": {"seq": {"type": "integer"}}}}}}
    assert typed_ids(schema) == ["/branch_id", "/rows/items/seq"]
