"""Post-call survey answers (the IVR's survey node).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("question", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
    )
    op.create_index("ix_survey_answers_call_id", "survey_answers", ["call_id"])
    op.create_index("ix_survey_answers_agent_at", "survey_answers", ["agent", "at"])
    op.create_index("ix_survey_answers_queue_at", "survey_answers", ["queue", "at"])


def downgrade() -> None:
    op.drop_index("ix_survey_answers_queue_at", table_name="survey_answers")
    op.drop_index("ix_survey_answers_agent_at", table_name="survey_answers")
    op.drop_index("ix_survey_answers_call_id", table_name="survey_answers")
    op.drop_table("survey_answers")
