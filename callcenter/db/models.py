"""Tables for call history and reports. Times are timezone-aware UTC on both SQLite and PostgreSQL.

Strings that come from the outside world (caller ids, channel names, transfer targets, queue_log data)
have no length limit: PostgreSQL would reject a longer value and the whole call would be lost. Short
limits are kept only for our own enumerations (direction, outcome, role, kind, event).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, TypeDecorator
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


# 64-bit keys on PostgreSQL (queue_log grows by millions of rows a day in a big center); SQLite only
# auto-increments a column declared exactly INTEGER, which is 64-bit there anyway.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime, str: String()}


class CallRow(Base):
    """One finished call (`cti.records.CallRecord`)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(unique=True)  # the caller leg's Linkedid
    direction: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None]
    dnis: Mapped[str | None]
    queue: Mapped[str | None]
    agent: Mapped[str | None]
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    wait_seconds: Mapped[float] = mapped_column(Float)
    talk_seconds: Mapped[float] = mapped_column(Float)
    hold_seconds: Mapped[float] = mapped_column(Float)
    # A JSON list, not a table: it is read with its call, in order with repeats, and never queried alone
    # (who answered is `agent`; per-agent offers come from queue_log RINGNOANSWER / CONNECT rows).
    agents_rung: Mapped[list[str]] = mapped_column(JSON)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    hangup_cause_text: Mapped[str | None]
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
    """One channel of the call (`cti.records.LegRecord`), in the order the call met them."""

    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(Id, ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    uniqueid: Mapped[str]
    channel: Mapped[str]
    role: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str | None]
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    dial_status: Mapped[str | None]

    call: Mapped[CallRow] = relationship(back_populates="legs")

    # queue_log CONNECT rows and recordings name a leg by its Uniqueid
    __table_args__ = (Index("ix_call_legs_uniqueid", "uniqueid"),)


class TransferRow(Base):
    """A transfer (`cti.records.Transfer`); `ordinal` keeps their order within the call."""

    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(Id, ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None]  # `Transfer.to`: `to` is an SQL keyword, awkward in every report query
    at: Mapped[datetime]


class RecordingRow(Base):
    """A MixMonitor recording file of the call."""

    __tablename__ = "call_recordings"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    call_pk: Mapped[int] = mapped_column(Id, ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str]


class QueueLogEntry(Base):
    """Asterisk's realtime queue_log layout (time, callid, queuename, agent, event, data1..data5),
    plus `data`, all parameters `|`-joined as in the queue_log file and in Asterisk's older layout:
    an event with more than five parameters loses nothing."""

    __tablename__ = "queue_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    time: Mapped[datetime]
    callid: Mapped[str]
    queuename: Mapped[str]
    agent: Mapped[str]
    event: Mapped[str] = mapped_column(String(32))
    data: Mapped[str]  # all parameters, '|'-joined
    data1: Mapped[str]
    data2: Mapped[str]
    data3: Mapped[str]
    data4: Mapped[str]
    data5: Mapped[str]

    __table_args__ = (
        Index("ix_queue_log_time", "time"),
        Index("ix_queue_log_queuename_time", "queuename", "time"),
        Index("ix_queue_log_agent_time", "agent", "time"),
        Index("ix_queue_log_callid", "callid"),
    )
