"""The agent state history: one row per change, for productivity reports (time in each state, per day).

A row says the agent entered `state` at `at` (with the reason of a not-ready, the call of a reserved /
on-call / wrap-up), and how long the previous state had lasted (`previous`, `previous_since`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.models import Base, Id

AGENT_MAX = 64
STATE_MAX = 16
REASON_MAX = 40
CALL_MAX = 64


class AgentStateRow(Base):
    __tablename__ = "agent_states"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(String(AGENT_MAX))
    state: Mapped[str] = mapped_column(String(STATE_MAX))
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    call_id: Mapped[str | None] = mapped_column(String(CALL_MAX))
    at: Mapped[datetime]
    previous: Mapped[str] = mapped_column(String(STATE_MAX))
    previous_since: Mapped[datetime]

    __table_args__ = (Index("ix_agent_states_agent_at", "agent_id", "at"), Index("ix_agent_states_at", "at"))
