"""The agent state history (productivity reports).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# As in callcenter.db.models: 64-bit keys, except on SQLite where only INTEGER auto-increments.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agent_states",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("previous_since", UTC_TIME, nullable=False),
    )
    op.create_index("ix_agent_states_agent_at", "agent_states", ["agent_id", "at"])
    op.create_index("ix_agent_states_at", "agent_states", ["at"])


def downgrade() -> None:
    op.drop_index("ix_agent_states_at", table_name="agent_states")
    op.drop_index("ix_agent_states_agent_at", table_name="agent_states")
    op.drop_table("agent_states")
