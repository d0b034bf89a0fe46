"""meetings: unit meetings and training, 分区联创 zones and their activities (issue 17 item 5)

Revision ID: 0016_meetings
Revises: 0015_search_speed

`unit_meeting` (+ `unit_meeting_attendee`, by username): 例会、学习培训、业务交流 a unit committee
records for its unit. `linkage_zone` (+ `linkage_zone_unit`): a named set of units with a lead
unit; `linkage_zone_activity` (+ `linkage_zone_activity_unit`): what a zone did, optionally with
the secondment batch whose people took part. Files are attachment links of kind `meeting` and
`zone_activity` (no schema change there).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.infra.db

revision = "0016_meetings"
down_revision = "0015_search_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_unit_meeting_unit_id_held_on"), "unit_meeting", ["unit_id", "held_on"])
    op.create_table(
        "unit_meeting_attendee",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["unit_meeting.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("meeting_id", "username"),
    )
    op.create_index(op.f("ix_unit_meeting_attendee_username"), "unit_meeting_attendee", ["username"])
    op.create_table(
        "linkage_zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("lead_unit_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lead_unit_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "linkage_zone_unit",
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["linkage_zone.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["org_node.id"]),
        sa.PrimaryKeyConstraint("zone_id", "unit_id"),
    )
    op.create_index(op.f("ix_linkage_zone_unit_unit_id"), "linkage_zone_unit", ["unit_id"])
    op.create_table(
        "linkage_zone_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("batch_key", sa.String(200), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.infra.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["zone_id"], ["linkage_zone.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_linkage_zone_activity_zone_id_held_on"), "linkage_zone_activity", ["zone_id", "held_on"]
    )
    op.create_table(
        "linkage_zone_activity_unit",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["linkage_zone_activity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["org_node.id"]),
        sa.PrimaryKeyConstraint("activity_id", "unit_id"),
    )


def downgrade() -> None:
    op.drop_table("linkage_zone_activity_unit")
    op.drop_index(op.f("ix_linkage_zone_activity_zone_id_held_on"), table_name="linkage_zone_activity")
    op.drop_table("linkage_zone_activity")
    op.drop_index(op.f("ix_linkage_zone_unit_unit_id"), table_name="linkage_zone_unit")
    op.drop_table("linkage_zone_unit")
    op.drop_table("linkage_zone")
    op.drop_index(op.f("ix_unit_meeting_attendee_username"), table_name="unit_meeting_attendee")
    op.drop_table("unit_meeting_attendee")
    op.drop_index(op.f("ix_unit_meeting_unit_id_held_on"), table_name="unit_meeting")
    op.drop_table("unit_meeting")
