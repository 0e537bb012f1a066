"""Writing and reading call history: CDR rows from `CallRecord`s, queue_log rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from callcenter.db.models import CallRow, LegRow, QueueLogEntry, RecordingRow, TransferRow
from callcenter.queue_log import QueueLogRow
from cti.records import CallRecord


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _maybe(seconds: float | None) -> datetime | None:
    return None if seconds is None else _at(seconds)


async def store_call(sessions: async_sessionmaker[AsyncSession], record: CallRecord) -> None:
    """Store one finished call with its legs, transfers and recordings, in one transaction.

    Idempotent by call_id: a second record for the same call replaces the first. That is what a
    replay, a retried write after a database hiccup, or a record completed after a resync needs: the
    newest knowledge of a call wins and it is never counted twice.
    """
    row = CallRow(
        call_id=record.call_id,
        direction=record.direction.value,
        caller=record.caller,
        dnis=record.dnis,
        queue=record.queue,
        agent=record.agent,
        outcome=record.outcome.value,
        started_at=_at(record.started_at),
        answered_at=_maybe(record.answered_at),
        ended_at=_at(record.ended_at),
        wait_seconds=record.wait_seconds,
        talk_seconds=record.talk_seconds,
        hold_seconds=record.hold_seconds,
        agents_rung=list(record.agents_rung),
        hangup_cause=record.hangup_cause,
        hangup_cause_text=record.hangup_cause_text,
        partial=record.partial,
        legs=[
            LegRow(uniqueid=leg.uniqueid, channel=leg.channel, role=leg.role.value, endpoint=leg.endpoint,
                   created_at=_at(leg.created_at), answered_at=_maybe(leg.answered_at),
                   ended_at=_at(leg.ended_at), hangup_cause=leg.hangup_cause, dial_status=leg.dial_status)
            for leg in record.legs
        ],
        transfers=[
            TransferRow(ordinal=n, kind=t.kind.value, target=t.to, at=_at(t.at))
            for n, t in enumerate(record.transfers)
        ],
        recordings=[RecordingRow(ordinal=n, file_name=name) for n, name in enumerate(record.recordings)],
    )
    async with sessions.begin() as session:
        await session.execute(delete(CallRow).where(CallRow.call_id == record.call_id))
        session.add(row)


async def store_queue_log(sessions: async_sessionmaker[AsyncSession], rows: Sequence[QueueLogRow]) -> None:
    async with sessions.begin() as session:
        for row in rows:
            data = [*row.data, "", "", "", "", ""][:5]
            session.add(QueueLogEntry(
                time=_at(row.time), callid=row.callid, queuename=row.queuename, agent=row.agent,
                event=row.event, data="|".join(row.data), data1=data[0], data2=data[1], data3=data[2],
                data4=data[3], data5=data[4],
            ))


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A call as reports read it back."""

    call_id: str
    direction: str
    caller: str | None
    dnis: str | None
    queue: str | None
    agent: str | None
    outcome: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    wait_seconds: float
    talk_seconds: float
    hold_seconds: float
    agents_rung: tuple[str, ...]
    transfers: tuple[tuple[str, str | None], ...]
    recordings: tuple[str, ...]
    hangup_cause: int | None
    partial: bool


async def calls_between(
    sessions: async_sessionmaker[AsyncSession], start: datetime, end: datetime, *,
    agent: str | None = None, queue: str | None = None, limit: int = 10_000,
) -> list[StoredCall]:
    """Calls that started in [start, end), oldest first, optionally for one agent or queue."""
    query = select(CallRow).where(CallRow.started_at >= start, CallRow.started_at < end)
    if agent is not None:
        query = query.where(CallRow.agent == agent)
    if queue is not None:
        query = query.where(CallRow.queue == queue)
    query = query.order_by(CallRow.started_at, CallRow.id).limit(limit).options(
        selectinload(CallRow.transfers), selectinload(CallRow.recordings)
    )
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
        return [
            StoredCall(
                call_id=r.call_id, direction=r.direction, caller=r.caller, dnis=r.dnis, queue=r.queue,
                agent=r.agent, outcome=r.outcome, started_at=r.started_at, answered_at=r.answered_at,
                ended_at=r.ended_at, wait_seconds=r.wait_seconds, talk_seconds=r.talk_seconds,
                hold_seconds=r.hold_seconds, agents_rung=tuple(r.agents_rung),
                transfers=tuple((t.kind, t.target) for t in r.transfers),
                recordings=tuple(f.file_name for f in r.recordings),
                hangup_cause=r.hangup_cause, partial=r.partial,
            )
            for r in rows
        ]
