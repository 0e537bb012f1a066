"""Tables of users, their sessions and the sign-in audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.models import Base, Id

LOGIN_MAX = 64
NAME_MAX = 128
ENDPOINT_MAX = 64


class UserRow(Base):
    """A person who signs in. Users are disabled, never deleted: the audit trail and tickets name them."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(LOGIN_MAX), unique=True)  # lower case
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    role: Mapped[str] = mapped_column(String(16))  # callcenter.auth.service.Role
    # The agent's PJSIP endpoint (`agent1001`): what CDRs store in `calls.agent`. One user per endpoint.
    endpoint: Mapped[str | None] = mapped_column(String(ENDPOINT_MAX), unique=True)
    password_hash: Mapped[str]  # argon2id, in its own PHC string format (parameters and salt included)
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SessionRow(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so that a copy
    of the database does not sign anyone in."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]      # absolute end
    last_seen_at: Mapped[datetime]    # idle end = last_seen_at + idle lifetime
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None]
    ip: Mapped[str | None]


class SignInRow(Base):
    """One sign-in attempt, successful or not (`reason` says why not)."""

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    login: Mapped[str]  # as typed (cut to LOGIN_MAX): an attempt on an unknown name is worth seeing
    user_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))
    success: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(32))  # ok, unknown_user, bad_password, disabled, rate_limited
    ip: Mapped[str | None]
    user_agent: Mapped[str | None]

    __table_args__ = (Index("ix_sign_ins_at", "at"), Index("ix_sign_ins_login_at", "login", "at"))
