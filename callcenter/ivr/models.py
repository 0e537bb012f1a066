"""The survey table: one row per answered survey question."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db.models import Base, Id


class SurveyAnswerRow(Base):
    """A caller's keypad rating after the call, with who served the call and in which queue."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    call_id: Mapped[str]                  # the caller leg's Linkedid: `calls.call_id` (no foreign key: the
    #                                       survey is answered before the call's record is written)
    at: Mapped[datetime]
    flow: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str | None]             # CC_AGENT: endpoint of the agent who served the call
    queue: Mapped[str | None]             # CC_QUEUE

    __table_args__ = (
        Index("ix_survey_answers_call_id", "call_id"),
        Index("ix_survey_answers_agent_at", "agent", "at"),
        Index("ix_survey_answers_queue_at", "queue", "at"),
    )
