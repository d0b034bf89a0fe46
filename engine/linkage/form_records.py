"""Records made by forms (`"x-record"` on a form field, docs/forms.md): completing a task saves
the field's value as a record of a standard kind the dashboards read, for the task's org node
and procedure, without `save_record` in a script.

- `"x-record": "findings"` (问题): the field holds the findings made at this step — a list of
  objects (one finding each; its `classification`, if any, is read as the unit committee's
  classification), a list of texts, or one text. One `form_findings` record per instance, step,
  org node and field: doing the step again (after 退回) replaces it. The findings chart of the
  dashboard counts each item in the month the task was completed.

Called by the runtime's completion (engine/core/runtime.py), inside its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.linkage import kinds as record_kinds
from engine.linkage.kinds.linkage import CLASSIFICATIONS
from engine.models import HumanTask, OrgNode, ProcessInstance, Record

# x-record value → record kind
RECORD_KINDS = {"findings": "form_findings"}
# classifications as forms may offer them in Chinese (the unit committee's four categories)
CLASSIFICATION_NAMES = {
    "无问题": "none",
    "不属于问题": "none",
    "即知即改": "immediate_fix",
    "即知即改的问题": "immediate_fix",
    "苗头性、倾向性问题": "tendency",
    "苗头性倾向性问题": "tendency",
    "违反党的纪律": "discipline_violation",
    "违反党的纪律等行为": "discipline_violation",
}


def record_fields(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, x-record value) of a form's top-level fields that declare one."""
    props = schema.get("properties") or {}
    return [(name, spec["x-record"]) for name, spec in props.items() if isinstance(spec, dict) and "x-record" in spec]


def problems(schema: dict[str, Any]) -> list[str]:
    """A form's x-record declarations the engine cannot honour (reported with the form's problems)."""
    return [
        f"{name}: x-record {value!r} is not a record kind; use one of {', '.join(sorted(RECORD_KINDS))}"
        for name, value in record_fields(schema)
        if value not in RECORD_KINDS
    ]


def _classification(item: Any) -> str | None:
    value = item.get("classification") if isinstance(item, dict) else None
    if value in CLASSIFICATIONS:
        return str(value)
    return CLASSIFICATION_NAMES.get(str(value).strip()) if isinstance(value, str) else None


def _findings(value: Any) -> list[dict[str, Any]]:
    if value is None or value == "" or value == []:
        return []
    items = value if isinstance(value, list) else [value]
    return [
        {"classification": _classification(i), "item": i}
        for i in items
        if i is not None and i != "" and not (isinstance(i, str) and not i.strip())
    ]


def save(
    session: Session,
    schema: dict[str, Any],
    task: HumanTask,
    inst: ProcessInstance,
    data: dict[str, Any],
    now: datetime,
    zone: Any,
) -> int:
    """Save the records the completed task's form declares; returns how many were written."""
    fields = [(f, RECORD_KINDS[v]) for f, v in record_fields(schema) if v in RECORD_KINDS and f in data]
    if not fields:
        return 0
    node = session.get(OrgNode, task.node_id)
    root = session.get(ProcessInstance, inst.root_id) if inst.root_id and inst.root_id != inst.id else inst
    local = now.astimezone(zone)
    written = 0
    for field, kind in fields:
        record = {
            "process_key": inst.process_key,
            "root_process_key": (root or inst).process_key,
            "task": task.spec_id,
            "task_name": task.name or task.spec_id,
            "field": field,
            "year": local.year,
            "month": local.month,
            "completed_at": local.isoformat(),
            "findings": _findings(data.get(field)),
        }
        record_kinds.check(kind, record)
        key = f"{inst.id}:{task.spec_id}:{task.node_id}:{field}"
        row = session.scalars(select(Record).where(Record.kind == kind, Record.key == key)).first()
        if row is None:
            row = Record(kind=kind, key=key, created_at=now)
            session.add(row)
        unit = (
            node.id
            if node is not None and node.tier == "unit"
            else (node.parent_id if node is not None and node.tier == "branch" else None)
        )
        row.node_id, row.unit_id, row.instance_id = task.node_id, unit, inst.id
        row.confidential, row.data, row.updated_at = True, record, now
        written += 1
    return written
