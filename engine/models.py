"""The persistent model, SQLAlchemy 2.0 typed style.

Reads never deserialize workflows: the `task` table indexes every open human task with
its routing (tier, org node, assignee, due), `process_instance.data` keeps the last data
snapshot, and `event_log` is the append-only history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.infra.db import Base, BigId, JSONType, UTCDateTime

TIERS = ("group", "unit", "branch")
COMMITTEE_ROLES = ("secretary", "deputy_secretary", "standing_member", "member")
NODE_ROLES = COMMITTEE_ROLES + ("commissioner", "department")
# 三员分立: the system administrator (admin), the security administrator (grants roles, manages
# accounts) and the security auditor (reads the audit log) are three different people (SEPARATED_ROLES).
SEPARATED_ROLES = ("admin", "security_admin", "auditor")
SYSTEM_ROLES = ("process_owner",) + SEPARATED_ROLES
ROLES = NODE_ROLES + SYSTEM_ROLES


class OrgNode(Base):
    """A committee in the three-tier tree: the group, a unit, or a grassroots branch."""

    __tablename__ = "org_node"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_node.id"), index=True)
    # "/group/xinsheng/xinsheng-laogan/": descendants of X are `path LIKE X.path || '%'`.
    path: Mapped[str] = mapped_column(String(600), index=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when someone else chose the password (org import, demo data, `create-user --must-change`):
    # the owner's sessions can only change it until they do (engine/org/passwords.py).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class RoleAssignment(Base):
    """A role held on an org node (committee roles) or system-wide (node_id NULL)."""

    __tablename__ = "role_assignment"
    __table_args__ = (UniqueConstraint("user_id", "role", "node_id"), Index(None, "node_id", "role"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    node_id: Mapped[str | None] = mapped_column(ForeignKey("org_node.id"))

    user: Mapped[User] = relationship(back_populates="roles")


class ApiToken(Base):
    """A server-side credential, stored as the SHA-256 of its secret. `kind` says where the secret
    may be presented: "api" as a bearer token, "web" only as the id inside the session cookie —
    so a cookie's id is no bearer token, and a bearer token is never put in a cookie."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(8), default="api", server_default="api")
    # Issued to a user who must change their password: it can do nothing else (api/auth.py).
    password_change_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class LoginCounter(Base):
    """Failed logins counted per account, per client address and per (client, account) pair,
    shared by all workers through the database (engine/org/throttle.py)."""

    __tablename__ = "login_counter"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # account | client | pair
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessDefinition(Base):
    """One immutable version of one BPMN process (all processes of a file deploy together)."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    # The diagram's text (30–45 KB for a built-in procedure) and the spec blob are loaded when read
    # (`deferred`): an instance loads its definition row with it (the relationship is joined), and
    # the pages that show an instance or a task need neither.
    xml: Mapped[str] = mapped_column(Text, deferred=True)
    # Compressed SpiffWorkflow spec serialization of this process and the processes it calls
    # from the same file, so that workers restore specs instead of re-parsing the XML.
    spec_blob: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # What the rest of Sanji needs without parsing: lanes, user tasks, timers, called keys.
    info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    deployed_by: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index(None, "status", "started_at"),
        Index(None, "parent_id", "parent_task_guid"),
        Index(None, "process_key", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(128))
    # running | completed | terminated | suspended | error
    status: Mapped[str] = mapped_column(String(16), default="running")
    title: Mapped[str] = mapped_column(String(300), default="")
    # The org node this instance belongs to (branch, unit or group) and its unit, if any:
    # visibility and the unit filter of the tracing pages use them.
    scope_node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    parent_task_guid: Mapped[str | None] = mapped_column(String(36))
    root_id: Mapped[int | None] = mapped_column(Integer, index=True)
    item_index: Mapped[int | None] = mapped_column(Integer)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Due time of the earliest waiting timer: the scheduler's tick reads only due rows.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_task: Mapped[str | None] = mapped_column(String(128))
    error_traceback: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    definition: Mapped[ProcessDefinition] = relationship(lazy="joined", innerjoin=True)

    __mapper_args__ = {"version_id_col": version}


class FanOut(Base):
    """Children still running for one detached call activity: the last to finish resumes it."""

    __tablename__ = "fan_out"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    task_guid: Mapped[str] = mapped_column(String(36), primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    # Asynchronous continuation (engine/core/async_jobs.py): children started so far; while
    # `started < total` the scheduler's worker starts the next batch at `due_at` (NULL: nothing
    # left to start), from the items and data snapshotted in `payload` when the element was reached.
    started: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    definition_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class HumanTask(Base):
    """Index of every user task: routing, assignee, deadline; the worklist reads only this."""

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_guid"),
        Index(None, "status", "node_id", "tier", "due_at"),
        Index(None, "assignee_id", "status", "due_at"),
        Index(None, "instance_id", "status"),
        # search's newest tasks first (migration 0015_search_speed)
        Index("ix_task_created_at", "created_at"),
        # the worklist's unclaimed open tasks by node (migration 0007_perf; docs/performance.md)
        Index(
            "ix_task_offered",
            "node_id",
            "tier",
            "due_at",
            postgresql_where=text("status = 'open' AND assignee_id IS NULL"),
            sqlite_where=text("status = 'open' AND assignee_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    root_instance_id: Mapped[int] = mapped_column(Integer, index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    spec_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    process_key: Mapped[str] = mapped_column(String(128))
    lane: Mapped[str | None] = mapped_column(String(100))
    # group | unit | branch | department
    tier: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    unit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    candidate_roles: Mapped[str | None] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(200))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # open | completed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # task: a user task of the diagram (status open | held | completed | cancelled; `held` while
    # its submission waits for approval); approval: the 审批 of task `subject_task_id` (issue 17)
    kind: Mapped[str] = mapped_column(String(16), default="task", server_default="task")
    subject_task_id: Mapped[int | None] = mapped_column(Integer, index=True)


class TaskCopy(Base):
    """抄送 (issue 17 item 6): a completed step copied to a person, who may read that step's data
    only (engine/org/policy.py `tasks_copied`), and is told so (notification `task_copied`)."""

    __tablename__ = "task_copy"
    __table_args__ = (UniqueConstraint("task_id", "user_id"), Index(None, "user_id", "task_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    by_id: Mapped[int | None] = mapped_column(Integer)  # who completed the step
    source: Mapped[str] = mapped_column(String(200))  # the `cc` entry that named the person, or `form`
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventLog(Base):
    """Append-only history: who did what to which instance or task, when (UTC)."""

    __tablename__ = "event_log"
    __table_args__ = (Index(None, "instance_id", "id"), Index(None, "type", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(48))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Record(Base):
    """A business record a process writes (clue, ledger entry, report, commendation…).

    `node_id` owns it for visibility: a unit sees records of itself and its branches, the
    group sees all; `confidential` records are further hidden from other branches.
    """

    __tablename__ = "record"
    __table_args__ = (UniqueConstraint("kind", "key"), Index(None, "kind", "node_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    key: Mapped[str] = mapped_column(String(200))
    node_id: Mapped[str] = mapped_column(ForeignKey("org_node.id"))
    unit_id: Mapped[str | None] = mapped_column(String(64), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ElementState(Base):
    """Which BPMN elements of an instance were passed through (completed), are active now, or failed.

    Rewritten each time the runtime saves the instance; the diagram viewer and the per-definition
    heatmap read it instead of deserializing workflow states.
    """

    __tablename__ = "element_state"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True)
    element_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # completed | active | failed
    state: Mapped[str] = mapped_column(String(16), primary_key=True)


# ---- timers and the scheduler (engine/core/schedules.py, engine/core/scheduler.py) ------------------------

# The scheduler's tick reads `status = 'running' AND next_timer_at <= now`: exactly the due rows,
# however many instances are suspended, failed or waiting for later timers.
Index("ix_process_instance_status_next_timer_at", ProcessInstance.status, ProcessInstance.next_timer_at)


class Schedule(Base):
    """A timer start event of the latest active version of a process: one row per (key, event).

    Deploying a newer version updates the row (Camunda's "replace"), a newer version without
    the event or an undeploy deletes it. `next_fire_at` is the next due fire (None: no more).
    """

    __tablename__ = "schedule"
    __table_args__ = (UniqueConstraint("process_key", "start_event_id"), Index(None, "paused", "next_fire_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(128))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    start_event_id: Mapped[str] = mapped_column(String(128))
    start_event_name: Mapped[str | None] = mapped_column(String(200))
    # timeDate | timeDuration | timeCycle, and the literal expression as deployed
    timer_kind: Mapped[str] = mapped_column(String(16))
    expression: Mapped[str] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64))
    # When the timer started counting: the deployment (timeDuration, R[n]/period).
    anchor_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    fire_count: Mapped[int] = mapped_column(Integer, default=0)
    last_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # started | incident | failed | missed
    last_result: Mapped[str | None] = mapped_column(String(16))
    last_message: Mapped[str | None] = mapped_column(Text)
    last_instance_id: Mapped[int | None] = mapped_column(Integer)
    last_late: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduleFiring(Base):
    """The claim of one fire: unique (schedule, due time), so a fire happens once however many
    scheduler processes tick; also the history of a schedule's fires."""

    __tablename__ = "schedule_firing"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    definition_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # host:pid of the scheduler process that claimed it
    claimed_by: Mapped[str | None] = mapped_column(String(100))


# The linkage platform's tables (notifications, study records, bulletin, leading group, reports).
from engine.platform import models as platform_models  # noqa: E402,F401


class PasswordCheck(Base):
    """A password hash already checked not to be the demo password (the production start-up
    check verifies each hash once, not on every start; a changed hash is checked again)."""

    __tablename__ = "password_check"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    hash_sha256: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Attachments and the database blob store (issue 16).
# Official documents: their issued numbers (issue 16).
from engine.core import form_models  # noqa: E402,F401  (issue 15: deployed forms)

# The search index (issue 18): its table and the mapper events that keep it.
from engine.linkage.documents import models as document_models  # noqa: E402,F401
from engine.platform import search as search_index  # noqa: E402,F401
from engine.platform.attachments import models as attachment_models  # noqa: E402,F401

# Unit meetings and training, 分区联创 zones and their activities (issue 17 item 5).
from engine.platform.meetings import models as meeting_models  # noqa: E402,F401
