"""Initial call history schema: calls, legs, transfers, recordings, queue_log.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calls',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('caller', sa.String(length=80), nullable=True),
    sa.Column('dnis', sa.String(length=80), nullable=True),
    sa.Column('queue', sa.String(length=80), nullable=True),
    sa.Column('agent', sa.String(length=80), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('wait_seconds', sa.Float(), nullable=False),
    sa.Column('talk_seconds', sa.Float(), nullable=False),
    sa.Column('hold_seconds', sa.Float(), nullable=False),
    sa.Column('agents_rung', sa.JSON(), nullable=False),
    sa.Column('hangup_cause', sa.Integer(), nullable=True),
    sa.Column('hangup_cause_text', sa.String(length=80), nullable=True),
    sa.Column('partial', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_id')
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_agent_started_at', ['agent', 'started_at'], unique=False)
        batch_op.create_index('ix_calls_caller', ['caller'], unique=False)
        batch_op.create_index('ix_calls_queue_started_at', ['queue', 'started_at'], unique=False)
        batch_op.create_index('ix_calls_started_at', ['started_at'], unique=False)

    op.create_table('queue_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('callid', sa.String(length=64), nullable=False),
    sa.Column('queuename', sa.String(length=80), nullable=False),
    sa.Column('agent', sa.String(length=80), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('data', sa.String(length=400), nullable=False),
    sa.Column('data1', sa.String(length=100), nullable=False),
    sa.Column('data2', sa.String(length=100), nullable=False),
    sa.Column('data3', sa.String(length=100), nullable=False),
    sa.Column('data4', sa.String(length=100), nullable=False),
    sa.Column('data5', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('queue_log', schema=None) as batch_op:
        batch_op.create_index('ix_queue_log_callid', ['callid'], unique=False)
        batch_op.create_index('ix_queue_log_queuename_time', ['queuename', 'time'], unique=False)
        batch_op.create_index('ix_queue_log_time', ['time'], unique=False)

    op.create_table('call_legs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_pk', sa.Integer(), nullable=False),
    sa.Column('uniqueid', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('endpoint', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hangup_cause', sa.Integer(), nullable=True),
    sa.Column('dial_status', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['call_pk'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_legs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_legs_call_pk'), ['call_pk'], unique=False)

    op.create_table('call_recordings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_pk', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['call_pk'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_recordings_call_pk'), ['call_pk'], unique=False)

    op.create_table('call_transfers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('call_pk', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_pk'], ['calls.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_transfers_call_pk'), ['call_pk'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('call_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_transfers_call_pk'))

    op.drop_table('call_transfers')
    with op.batch_alter_table('call_recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_recordings_call_pk'))

    op.drop_table('call_recordings')
    with op.batch_alter_table('call_legs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_legs_call_pk'))

    op.drop_table('call_legs')
    with op.batch_alter_table('queue_log', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_log_time')
        batch_op.drop_index('ix_queue_log_queuename_time')
        batch_op.drop_index('ix_queue_log_callid')

    op.drop_table('queue_log')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_started_at')
        batch_op.drop_index('ix_calls_queue_started_at')
        batch_op.drop_index('ix_calls_caller')
        batch_op.drop_index('ix_calls_agent_started_at')

    op.drop_table('calls')
