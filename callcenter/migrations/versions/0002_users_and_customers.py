"""Users, sessions and the sign-in audit trail; customers with phone numbers, interactions, tickets.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# As in callcenter.db.models: 64-bit keys, except on SQLite where only INTEGER auto-increments.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def _customer_id() -> sa.Column[int]:
    return sa.Column("customer_id", ID, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        _id(),
        sa.Column("login", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=True, unique=True),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "auth_sessions",
        _id(),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.Column("user_agent", sa.String(), nullable=True),
        sa.Column("ip", sa.String(), nullable=True),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_table(
        "sign_ins",
        _id(),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("login", sa.String(), nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("ip", sa.String(), nullable=True),
        sa.Column("user_agent", sa.String(), nullable=True),
    )
    op.create_index("ix_sign_ins_at", "sign_ins", ["at"])
    op.create_index("ix_sign_ins_login_at", "sign_ins", ["login", "at"])

    op.create_table(
        "customers",
        _id(),
        sa.Column("reference", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("company", sa.String(200), nullable=True),
        sa.Column("address", sa.String(1000), nullable=True),
        sa.Column("segment", sa.String(64), nullable=True),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(10_000), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_customers_name", "customers", ["name"])
    op.create_table(
        "customer_phones",
        _id(),
        _customer_id(),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("normalized", sa.String(20), nullable=False, unique=True),
        sa.Column("label", sa.String(32), nullable=True),
    )
    op.create_index("ix_customer_phones_customer_id", "customer_phones", ["customer_id"])
    op.create_table(
        "interactions",
        _id(),
        _customer_id(),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("call_id", sa.String(), nullable=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("result", sa.String(64), nullable=False),
        sa.Column("notes", sa.String(10_000), nullable=True),
    )
    op.create_index("ix_interactions_customer_id_at", "interactions", ["customer_id", "at"])
    op.create_index("ix_interactions_call_id", "interactions", ["call_id"])
    op.create_table(
        "tickets",
        _id(),
        _customer_id(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(10_000), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.Column("solved_at", UTC_TIME, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_tickets_customer_id_status", "tickets", ["customer_id", "status"])


def downgrade() -> None:
    # Children first; indexes go with their tables.
    for table in ("tickets", "interactions", "customer_phones", "customers", "sign_ins", "auth_sessions", "users"):
        op.drop_table(table)
