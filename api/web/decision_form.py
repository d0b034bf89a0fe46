"""The parts of the task page the engine checks itself (issue 17): the approval's decision and
opinion (engine/core/approvals.py), a signature of 会签 / 或签 and the 集体研究 record
(engine/core/decisions.py), parsed from the posted form into the completion data."""

from __future__ import annotations

from typing import Any

from engine.models import HumanTask


def _count(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value  # refused by the check, naming the field


def decision_fields(t: HumanTask, posted: Any) -> dict[str, Any]:
    """The parts of the task page that the engine checks itself (engine/core/approvals.py, decisions.py)."""
    if t.kind == "approval":
        return {"decision": posted.get("decision", ""), "opinion": posted.get("opinion", "")}
    out: dict[str, Any] = {}
    if "agree" in posted:
        out["agree"] = {"yes": True, "no": False}.get(posted.get("agree", ""))
        out["opinion"] = posted.get("opinion", "")
    if posted.get("_cc_picker") == "1" and "cc_users" not in out:  # 抄送 picked by name on the page
        out["cc_users"] = [u for u in posted.getlist("cc_users") if u]
    if "collective_meeting_date" in posted:
        out["collective"] = {
            "meeting_date": posted.get("collective_meeting_date", ""),
            "attendees": posted.getlist("collective_attendees"),
            "decision": posted.get("collective_decision", ""),
            "votes": {
                k: _count(posted.get(f"collective_votes_{k}", "0") or "0") for k in ("agree", "against", "abstain")
            },
        }
    return out
