"""timers and the scheduler: schedule, schedule_firing, process_instance(status, next_timer_at)

Revision ID: 0002_schedules
Revises: 0001
Create Date: 2026-11-28 07:24:08.441467
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import engine.infra.db

revision = '0002_schedules'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=128), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('start_event_id', sa.String(length=128), nullable=False),
    sa.Column('start_event_name', sa.String(length=200), nullable=True),
    sa.Column('timer_kind', sa.String(length=16), nullable=False),
    sa.Column('expression', sa.String(length=500), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('anchor_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('next_fire_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('fire_count', sa.Integer(), nullable=False),
    sa.Column('last_due_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('last_fired_at', engine.infra.db.UTCDateTime(), nullable=True),
    sa.Column('last_result', sa.String(length=16), nullable=True),
    sa.Column('last_message', sa.Text(), nullable=True),
    sa.Column('last_instance_id', sa.Integer(), nullable=True),
    sa.Column('last_late', sa.Boolean(), nullable=True),
    sa.Column('created_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['process_definition.id'], name=op.f('fk_schedule_definition_id_process_definition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule')),
    sa.UniqueConstraint('process_key', 'start_event_id', name=op.f('uq_schedule_process_key_start_event_id'))
    )
    with op.batch_alter_table('schedule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_definition_id'), ['definition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_schedule_paused_next_fire_at'), ['paused', 'next_fire_at'], unique=False)

    op.create_table('schedule_firing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('due_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('fired_at', engine.infra.db.UTCDateTime(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id'], name=op.f('fk_schedule_firing_schedule_id_schedule'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_firing')),
    sa.UniqueConstraint('schedule_id', 'due_at', name=op.f('uq_schedule_firing_schedule_id_due_at'))
    )
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_process_instance_status_next_timer_at', ['status', 'next_timer_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_status_next_timer_at')

    op.drop_table('schedule_firing')
    with op.batch_alter_table('schedule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_paused_next_fire_at'))
        batch_op.drop_index(batch_op.f('ix_schedule_definition_id'))

    op.drop_table('schedule')
