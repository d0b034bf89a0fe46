"""The demo organisation: the group committee, three units, nine branches, a user per role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.org import nodes as org
from engine.org.auth import demo_hash

GROUP = ("group", "中共淄博矿业集团有限责任公司纪委")
UNITS = [
    (
        "xinsheng",
        "山东新升实业发展有限责任公司纪委",
        "新升实业",
        [
            ("xinsheng-laogan", "老干家委党总支"),
            ("xinsheng-wuye", "物业服务中心党支部"),
            ("xinsheng-jidian", "机电维修车间党支部"),
        ],
    ),
    (
        "xuchang",
        "许厂煤矿纪委",
        "许厂煤矿",
        [
            ("xuchang-zongcai", "综采一区党支部"),
            ("xuchang-juejin", "掘进二区党支部"),
            ("xuchang-tongfeng", "通风工区党支部"),
        ],
    ),
    (
        "daizhuang",
        "岱庄煤矿纪委",
        "岱庄煤矿",
        [
            ("daizhuang-caimei", "采煤一区党支部"),
            ("daizhuang-yunshu", "运输工区党支部"),
            ("daizhuang-jidian", "机电车间党支部"),
        ],
    ),
]
COMMITTEE = [("secretary", "书记"), ("deputy", "副书记"), ("standing", "常委"), ("member", "委员")]
ROLE_OF = {"secretary": "secretary", "deputy": "deputy_secretary", "standing": "standing_member", "member": "member"}


def demo_users() -> list[tuple[str, str, str, str | None]]:
    """(username, display name, role, node) for every demo account."""
    users: list[tuple[str, str, str, str | None]] = [
        ("admin", "系统管理员", "admin", None),
        ("security_admin", "安全保密管理员", "security_admin", None),
        ("auditor", "安全审计员", "auditor", None),
        ("owner", "流程管理员", "process_owner", None),
    ]
    for suffix, title in COMMITTEE:
        users.append((f"group_{suffix}", f"集团公司纪委{title}", ROLE_OF[suffix], "group"))
    for unit_id, _name, short, branches in UNITS:
        for suffix, title in COMMITTEE:
            users.append((f"{unit_id}_{suffix}", f"{short}纪委{title}", ROLE_OF[suffix], unit_id))
        users.append((f"{unit_id}_dept", f"{short}职能部门", "department", unit_id))
        for branch_id, bname in branches:
            users.append((branch_id.replace("-", "_"), f"{short}{bname}纪律检查委员", "commissioner", branch_id))
    return users


def load_demo(session: Session, now: datetime) -> int:
    """Create or refresh the demo organisation; returns the number of demo accounts."""
    org.add_node(session, GROUP[0], "group", GROUP[1], None)
    session.flush()
    for sort, (unit_id, name, _short, branches) in enumerate(UNITS):
        org.add_node(session, unit_id, "unit", name, "group", sort)
        session.flush()
        for bsort, (branch_id, bname) in enumerate(branches):
            org.add_node(session, branch_id, "branch", bname, unit_id, bsort)
    session.flush()
    hashed = demo_hash()
    users = demo_users()
    for username, display, role, node in users:
        user = org.ensure_user(session, username, display, hashed, now)
        # a password everyone knows: its owner must change it before doing anything, except with
        # the demo password itself outside production (engine/org/auth.py authenticate)
        user.must_change_password = user.must_change_password or user.password_hash == hashed
        session.flush()
        org.grant(session, user, role, node)
    session.flush()
    return len(users)
