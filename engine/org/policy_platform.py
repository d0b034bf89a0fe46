"""Who may do what on the platform: the bulletin (posts, notices, pins, read receipts), study
(四个一) oversight, the leading group's decisions, unit meetings and training (例会、学习培训、
业务交流) and 分区联创 zones and their activities. Re-exported from engine.org.policy, which
callers use (`from engine.org import policy; policy.may_pin(p)`).
"""

from __future__ import annotations

from engine.errors import Forbidden
from engine.models import COMMITTEE_ROLES
from engine.org.nodes import Principal


def in_organisation(p: Principal) -> bool:
    """Holds a role on an org node (or is an admin): the bulletin and the leading group are theirs."""
    return p.is_admin or any(r.node_id for r in p.roles)


def may_change_post(p: Principal, author_id: int) -> bool:
    """A bulletin post is changed or deleted by its author (or an admin)."""
    return p.is_admin or author_id == p.id


def may_pin(p: Principal) -> bool:
    """The group committee pins bulletin posts (and admins)."""
    return p.is_admin or p.in_group_committee


def sees_receipts(p: Principal, author_id: int) -> bool:
    """Who read a bulletin post: its author, a committee member, an admin."""
    return p.is_admin or author_id == p.id or bool(p.committee_nodes())


def sees_reader_names(p: Principal, author_id: int) -> bool:
    """Every reader's name of a bulletin post (a unit committee: its units', `bulletin_reader_units`)."""
    return p.is_admin or p.in_group_committee or author_id == p.id


def bulletin_reader_units(p: Principal) -> set[str]:
    """The units whose readers' names a unit committee member sees."""
    return {r.node_id for r in p.committee_nodes() if r.tier == "unit" and r.node_id}


def may_post_notice(p: Principal, node_id: str) -> bool:
    """Notices (通知公告) come from a committee: `p` holds a committee role on the posting node."""
    return any(r.node_id == node_id and r.role in COMMITTEE_ROLES for r in p.roles)


def require_notice(p: Principal, node_id: str) -> None:
    if not may_post_notice(p, node_id):
        raise Forbidden("notices (通知公告) are posted by the group or a unit committee")


def require_pin(p: Principal) -> None:
    if not may_pin(p):
        raise Forbidden("only the group committee pins posts")


def require_change_post(p: Principal, author_id: int) -> None:
    if not may_change_post(p, author_id):
        raise Forbidden("only the author changes a post")


def require_delete_post(p: Principal, author_id: int) -> None:
    if not may_change_post(p, author_id):
        raise Forbidden("only the author or an admin deletes a post")


def require_poster(p: Principal) -> None:
    """Posting on the bulletin needs a role on an org node."""
    if not any(r.node_id for r in p.roles):
        raise Forbidden("posting needs a role in the organisation")


def bulletin_audiences(p: Principal, group_id: str) -> set[str] | None:
    """Audiences of the posts `p` reads: None: all (admins, group committee); else the group and p's units."""
    if p.is_admin or p.in_group_committee:
        return None
    audiences = {group_id}
    for r in p.roles:
        if r.tier == "unit" and r.node_id:
            audiences.add(r.node_id)
        elif r.tier == "branch" and r.path:
            audiences.add(r.path.strip("/").split("/")[1])
    return audiences


def study_units(p: Principal) -> set[str] | None:
    """Units whose people's study records `p` oversees; None: all (admins, group committee); empty: one's own."""
    if p.is_admin or p.in_group_committee:
        return None
    return {r.node_id for r in p.committee_nodes() if r.tier == "unit" and r.node_id}


def require_study_rates(p: Principal) -> None:
    """Completion rates are for unit and group committees (and admins): `study_units` not empty."""
    if study_units(p) == set():
        raise Forbidden("completion rates are for unit and group committees; your own figures are in your profile")


def require_read_decisions(p: Principal) -> None:
    """The leading group's decisions are read by the members of the organisation (`in_organisation`)."""
    if not in_organisation(p):
        raise Forbidden("the leading group's decisions are for the members of the organisation")


def may_record_decisions(p: Principal, member: bool) -> bool:
    """The leading group's members (`member`: p holds a position in it) and admins record its decisions."""
    return p.is_admin or member


def require_record_decisions(p: Principal, member: bool) -> None:
    if not may_record_decisions(p, member):
        raise Forbidden("only members of the leading group (or an admin) record its decisions")


# ---- unit meetings and training (例会、学习培训、业务交流), 分区联创 zones -------------------------------


def meeting_units(p: Principal) -> set[str] | None:
    """Units whose meetings `p` reads (besides those `p` attended): None: all (admins, the group
    committee); a unit committee member: their unit(s); anyone else: none."""
    if p.is_admin or p.in_group_committee:
        return None
    return {r.node_id for r in p.committee_nodes() if r.tier == "unit" and r.node_id}


def recording_units(p: Principal) -> list[str]:
    """The units for which `p` records meetings: those where `p` sits on the unit committee."""
    return list(dict.fromkeys(r.node_id for r in p.committee_nodes() if r.tier == "unit" and r.node_id))


def may_record_meeting(p: Principal, unit_id: str) -> bool:
    """A unit committee records the meetings and training of its own unit (nobody else does)."""
    return unit_id in recording_units(p)


def require_record_meeting(p: Principal, unit_id: str) -> None:
    if not may_record_meeting(p, unit_id):
        raise Forbidden("meetings and training are recorded by the unit's own committee")


def may_manage_zones(p: Principal) -> bool:
    """分区联创 zones are set up, changed and closed by the group committee."""
    return p.in_group_committee


def require_manage_zones(p: Principal) -> None:
    if not may_manage_zones(p):
        raise Forbidden("zones are set up by the group committee")


def zone_units_of(p: Principal) -> set[str] | None:
    """Units `p` belongs to for zone activities (None: all, for admins and the group committee):
    a unit committee member their unit, anyone with a role on a branch the branch's unit."""
    if p.is_admin or p.in_group_committee:
        return None
    out: set[str] = set()
    for r in p.roles:
        if r.tier == "unit" and r.node_id:
            out.add(r.node_id)
        elif r.tier == "branch" and r.path:
            parts = r.path.strip("/").split("/")
            if len(parts) > 1:
                out.add(parts[1])
    return out


def may_record_zone_activity(p: Principal, zone_units: set[str]) -> bool:
    """A zone's activities are recorded by the committee of one of its units."""
    return bool(set(recording_units(p)) & zone_units)


def require_record_zone_activity(p: Principal, zone_units: set[str]) -> None:
    if not may_record_zone_activity(p, zone_units):
        raise Forbidden("a zone's activities are recorded by the committee of one of its units")
