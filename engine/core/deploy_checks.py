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
from collections.abc import Callable, Iterable
from datetime import date, datetime

from lxml import etree

from engine.core import ast_guard, fan_choice
from engine.core.calendar import validate_timer
from engine.core.forms import FormStore
from engine.core.scripts import check_source
from engine.core.validation import NS, Problem, _props
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
        "notifyNote",  # with notifyKind "urge": the variable quoted as 督办意见 in the notification
        "validate",
        "startVariables",
        "async",  # continued by the scheduler's worker (engine/core/async_jobs.py)
        "fanOut",  # fan-out by choice (engine/core/fan_choice.py)
        "fanOutField",
        "rollUp",  # roll-up by choice (engine/core/fan_choice.py)
        "approval",  # 审批 (engine/core/approvals.py)
        "sign",  # 会签 / 或签 (engine/core/decisions.py)
        "collective",  # 集体研究 record (engine/core/decisions.py)
        "cc",  # 抄送 (engine/core/copies.py)
        "signers",  # 会签 / 或签 signers from the committee (engine/core/spiff.py _fill_signers)
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
    "nodeVariable": Msg("the org node variable (nodeVariable)"),
    "assigneeVariable": Msg("the assignee variable (assigneeVariable)"),
}


def finding(el: etree._Element, code: str, msg: Msg, line: int | None = None, *, warning: bool = False) -> Problem:
    return Problem(
        str(msg), el.get("id"), line or el.sourceline, code=code, severity="warning" if warning else "error", msg=msg
    )


def close_match(name: str, choices: Iterable[str]) -> str | None:
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
            out.append(finding(el, "bad_duration", msg))
        else:
            out.extend(Problem(m, el.get("id"), el.sourceline) for m in found)
    due_at = props.get("dueAt", "").strip()
    if due_at and _date_ok(due_at):
        out.extend(Problem(f"dueAt: {m}", el.get("id"), el.sourceline) for m in check_source(due_at, "eval"))
    elif due_at:
        out.append(
            finding(
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
        tree = ast_guard.parse(source, "<dueAt>", "eval")
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
        close = close_match(name, KNOWN_PROPERTIES)
        msg = (
            Msg("unknown property {name!r}: did you mean {suggestion}?", name=name, suggestion=close)
            if close
            else Msg("unknown property {name!r}: the engine reads only {known}", name=name, known=_known_list())
        )
        out.append(finding(owner, "unknown_property", msg, node.sourceline))
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
            out.append(finding(el, "role_not_on_tier", msg))
    return out


def decision_problems(el: etree._Element, lane: str | None, props: dict[str, str]) -> list[Problem]:
    """`approval`, `sign` and `collective` (docs/bpmn-conventions.md, "Decisions"): values the engine knows."""
    from engine.core.approvals import approval_roles
    from engine.core.decisions import COLLECTIVE_VALUES, SIGN_VALUES
    from engine.models import COMMITTEE_ROLES
    from engine.org.routing import lane_tier

    out = []
    if "approval" in props:
        roles = approval_roles(props["approval"])
        bad = [r for r in roles if r not in COMMITTEE_ROLES]
        if not roles or bad:
            msg = Msg(
                "approval: {value!r} is not a committee role; write secretary or a list of {roles}",
                value=props["approval"],
                roles=", ".join(COMMITTEE_ROLES),
            )
            out.append(finding(el, "bad_decision_property", msg))
        elif lane_tier(lane) == "branch":
            msg = Msg("approval: a task in lane {lane} has no committee on its node to approve it", lane=lane)
            out.append(finding(el, "bad_decision_property", msg))
    if "cc" in props:
        from engine.core.copies import cc_entries, entry_problem

        entries = cc_entries(props["cc"])
        bad = [e for e in entries if entry_problem(e)]
        if not entries or bad:
            msg = Msg(
                "cc: {entry!r} is neither an org node id, role@node, unit, group nor form",
                entry=bad[0] if bad else props["cc"],
            )
            out.append(finding(el, "bad_decision_property", msg))
    if "signers" in props:
        wanted = [r.strip() for r in props["signers"].split(",") if r.strip()]
        if "sign" not in props:
            out.append(finding(el, "bad_decision_property", Msg("signers needs sign (all or any) on the same task")))
        elif wanted != ["committee"] and (not wanted or any(r not in COMMITTEE_ROLES for r in wanted)):
            msg = Msg(
                "signers: {value!r} is neither committee nor a list of {roles}",
                value=props["signers"],
                roles=", ".join(COMMITTEE_ROLES),
            )
            out.append(finding(el, "bad_decision_property", msg))
        elif lane_tier(lane) not in ("group", "unit", "department"):
            msg = Msg("signers: a task in lane {lane} has no committee to sign", lane=lane or "")
            out.append(finding(el, "bad_decision_property", msg))
    if "collective" in props and props["collective"] not in COLLECTIVE_VALUES:
        msg = Msg("collective: {value!r} is not one of {allowed}", value=props["collective"], allowed="required")
        out.append(finding(el, "bad_decision_property", msg))
    if "sign" in props:
        mi = el.xpath("./bpmn:multiInstanceLoopCharacteristics", namespaces=NS)
        if props["sign"] not in SIGN_VALUES:
            msg = Msg("sign: {value!r} is not one of {allowed}", value=props["sign"], allowed="all, any")
            out.append(finding(el, "bad_decision_property", msg))
        elif not mi or mi[0].get("isSequential") == "true":
            msg = Msg("sign: 会签 and 或签 need a parallel multi-instance user task (one instance per signer)")
            out.append(finding(el, "bad_decision_property", msg))
        elif "approval" in props:
            msg = Msg("sign and approval cannot be combined on one task")
            out.append(finding(el, "bad_decision_property", msg))
        else:
            items = mi[0].xpath("./bpmn:inputDataItem", namespaces=NS)
            item = items[0].get("id") if items else None
            if not item or props.get("assigneeVariable") != item:
                msg = Msg(
                    "sign: each instance is one signer's: set assigneeVariable to the inputDataItem ({item})",
                    item=item or "inputDataItem",
                )
                out.append(finding(el, "bad_decision_property", msg))
    return out


# ---- scripts and data flow -----------------------------------------------------------------------------


def check(
    processes: list[etree._Element],
    all_processes: list[etree._Element],
    forms: FormStore,
    deployed: Callable[[str], str | None] | None = None,
) -> list[Problem]:
    """All findings of this module for the executable `processes` of a file (errors and warnings)."""
    out: list[Problem] = []
    for proc in processes:
        out.extend(property_problems(proc))
        lanes: dict[str, str] = {}
        for lane in proc.xpath(".//bpmn:lane", namespaces=NS):
            for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
                lanes[(ref.text or "").strip()] = lane.get("name") or ""
        for el in proc.xpath(".//bpmn:userTask | .//bpmn:manualTask", namespaces=NS):
            props = _props(el)
            roles = props.get("candidateRoles", "")
            if roles:
                out.extend(role_problems(el, lanes.get(el.get("id")), roles))
            out.extend(decision_problems(el, lanes.get(el.get("id")), props))
        for el in proc.xpath("./*[not(self::bpmn:userTask) and not(self::bpmn:manualTask)]", namespaces=NS):
            props = _props(el)
            for name in ("approval", "sign", "signers", "collective", "cc"):
                if name in props:
                    msg = Msg("the property {name} applies to user tasks only", name=name)
                    out.append(finding(el, "bad_decision_property", msg))
        for el in proc.xpath(".//*[bpmn:extensionElements/spiffworkflow:properties]", namespaces=NS):
            props = _props(el)
            if "fanOut" in props or "fanOutField" in props or "rollUp" in props:
                out.extend(fan_choice.problems(el, props))
    from engine.core.deploy_dataflow import dataflow  # it imports this module

    out.extend(dataflow(processes, all_processes, forms, deployed))
    return out
