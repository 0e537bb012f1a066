"""Tables for call history and reports. Times are timezone-aware UTC on both SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes (SQLite keeps no zone: we put it back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: call history times must carry a zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime}


class CallRow(Base):
    """One finished call (`cti.records.CallRecord`)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None] = mapped_column(String(80))
    dnis: Mapped[str | None] = mapped_column(String(80))
    queue: Mapped[str | None] = mapped_column(String(80))
    agent: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    wait_seconds: Mapped[float] = mapped_column(Float)
    talk_seconds: Mapped[float] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float)
    agents_rung: Mapped[list[str]] = mapped_column(JSON)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str | None] = mapped_column(String(80))
    partial: Mapped[bool] = mapped_column(Boolean)

    legs: Mapped[list[LegRow]] = relationship(back_populates="call", cascade="all, delete-orphan",
                                              passive_deletes=True, order_by="LegRow.id")
    transfers: Mapped[list[TransferRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                        order_by="TransferRow.ordinal")
    recordings: Mapped[list[RecordingRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                          order_by="RecordingRow.ordinal")

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_agent_started_at", "agent", "started_at"),
        Index("ix_calls_queue_started_at", "queue", "started_at"),
        Index("ix_calls_caller", "caller"),
    )


class LegRow(Base):
    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    uniqueid: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    dial_status: Mapped[str | None] = mapped_column(String(32))

    call: Mapped[CallRow] = relationship(back_populates="legs")


class TransferRow(Base):
    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime]


class RecordingRow(Base):
    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(255))


class QueueLogEntry(Base):
    """Asterisk's realtime queue_log layout: time, callid, queuename, agent, event, data1..data5."""

    __tablename__ = "queue_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime]
    callid: Mapped[str] = mapped_column(String(64))
    queuename: Mapped[str] = mapped_column(String(80))
    agent: Mapped[str] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(String(400))  # all parameters, '|'-joined
    data1: Mapped[str] = mapped_column(String(100))
    data2: Mapped[str] = mapped_column(String(100))
    data3: Mapped[str] = mapped_column(String(100))
    data4: Mapped[str] = mapped_column(String(100))
    data5: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_queue_log_time", "time"),
        Index("ix_queue_log_queuename_time", "queuename", "time"),
        Index("ix_queue_log_callid", "callid"),
    )
