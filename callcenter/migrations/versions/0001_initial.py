"""Initial call history schema: calls with their legs, transfers and recordings; queue_log.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# As in callcenter.db.models: 64-bit keys, except on SQLite where only INTEGER auto-increments.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def _child_of_calls(name: str, *columns: sa.Column[object]) -> None:
    op.create_table(
        name,
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_pk", ID, sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        *columns,
    )
    op.create_index(f"ix_{name}_call_pk", name, ["call_pk"])


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(), nullable=False, unique=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("caller", sa.String(), nullable=True),
        sa.Column("dnis", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("answered_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("hold_seconds", sa.Float(), nullable=False),
        sa.Column("agents_rung", sa.JSON(), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("hangup_cause_text", sa.String(), nullable=True),
        sa.Column("partial", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_agent_started_at", "calls", ["agent", "started_at"])
    op.create_index("ix_calls_queue_started_at", "calls", ["queue", "started_at"])
    op.create_index("ix_calls_caller", "calls", ["caller"])

    _child_of_calls(
        "call_legs",
        sa.Column("uniqueid", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("answered_at", UTC_TIME, nullable=True),
        sa.Column("ended_at", UTC_TIME, nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("dial_status", sa.String(), nullable=True),
    )
    op.create_index("ix_call_legs_uniqueid", "call_legs", ["uniqueid"])
    _child_of_calls(
        "call_transfers",
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
    )
    _child_of_calls(
        "call_recordings",
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
    )

    op.create_table(
        "queue_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("callid", sa.String(), nullable=False),
        sa.Column("queuename", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("data", sa.String(), nullable=False),
        *(sa.Column(f"data{n}", sa.String(), nullable=False) for n in range(1, 6)),
    )
    op.create_index("ix_queue_log_time", "queue_log", ["time"])
    op.create_index("ix_queue_log_queuename_time", "queue_log", ["queuename", "time"])
    op.create_index("ix_queue_log_agent_time", "queue_log", ["agent", "time"])
    op.create_index("ix_queue_log_callid", "queue_log", ["callid"])


def downgrade() -> None:
    # Indexes go with their tables.
    for table in ("queue_log", "call_recordings", "call_transfers", "call_legs", "calls"):
        op.drop_table(table)
