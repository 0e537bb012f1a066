"""Writing and reading call history: CDR rows from `CallRecord`s, queue_log rows.

Record times are seconds on the tracker's clock: epoch seconds live, so `clock_origin` is 0; a replayed
trace runs on its own clock (`_t`, from 0), and `clock_origin` is then the epoch its second 0 stands for.
The database holds aware UTC datetimes.

Every function takes a sessionmaker (a transaction of its own, committed) or an `AsyncSession`: that
session's open transaction is joined and left for the caller to commit, or one is begun and committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from callcenter.db.models import CallRow, LegRow, QueueLogEntry, RecordingRow, TransferRow
from callcenter.queue_log import QueueLogRow
from cti.records import CallRecord

QUEUE_LOG_DATA_COLUMNS = 5  # data1..data5
_CALLS_PER_STATEMENT = 200  # 17 columns each: well under SQLite's 32,766 parameters per statement

Target = AsyncSession | async_sessionmaker[AsyncSession]


@asynccontextmanager
async def _transaction(target: Target) -> AsyncIterator[AsyncSession]:
    if isinstance(target, AsyncSession):
        if target.in_transaction():
            yield target  # the caller's transaction: the caller commits or rolls back
        else:
            async with target.begin():
                yield target
    else:
        async with target.begin() as session:
            yield session


@asynccontextmanager
async def _reading(target: Target) -> AsyncIterator[AsyncSession]:
    if isinstance(target, AsyncSession):
        yield target
    else:
        async with target() as session:
            yield session


class _Clock:
    """Tracker seconds to aware UTC datetimes."""

    def __init__(self, origin: float) -> None:
        self.origin = origin

    def at(self, seconds: float) -> datetime:
        return datetime.fromtimestamp(self.origin + seconds, UTC)

    def maybe(self, seconds: float | None) -> datetime | None:
        return None if seconds is None else self.at(seconds)


async def store_call(target: Target, record: CallRecord, *, clock_origin: float = 0.0) -> None:
    """Store one finished call with its legs, transfers and recordings, in one transaction.

    Idempotent by call_id: a second record for the same call replaces the first (its legs, transfers
    and recordings with it). That is what a replay, a retried write after a database hiccup, or a
    record completed after a resync needs: the newest knowledge of a call wins and it is never
    counted twice.
    """
    await store_calls(target, [record], clock_origin=clock_origin)


async def store_calls(target: Target, records: Sequence[CallRecord], *, clock_origin: float = 0.0) -> None:
    """Store finished calls in one transaction, with a few statements whatever their number (an upsert of
    the calls, a delete and an insert per child table): a busy center's history writer holds the
    database briefly. A later record of the same call replaces an earlier one, as with `store_call`."""
    clock = _Clock(clock_origin)
    latest = list({record.call_id: record for record in records}.values())  # the newest knowledge wins
    async with _transaction(target) as session:
        for start in range(0, len(latest), _CALLS_PER_STATEMENT):
            chunk = latest[start:start + _CALLS_PER_STATEMENT]
            call_pks = await _upsert_calls(session, chunk, clock)
            # The upsert holds the call rows' locks until commit, so writers of the same call take turns
            # here; a delete-then-insert would let two of them both find nothing and both insert.
            for child in (LegRow, TransferRow, RecordingRow):
                await session.execute(delete(child).where(child.call_pk.in_(call_pks.values())))
            session.add_all([row for record in chunk for row in _children(record, call_pks[record.call_id], clock)])
            await session.flush()  # errors surface here, inside the transaction, also in a caller's one


async def _upsert_calls(session: AsyncSession, records: Sequence[CallRecord], clock: _Clock) -> dict[str, int]:
    """Insert or replace the calls' rows; their primary keys by call id."""
    rows = [{
        "call_id": record.call_id,
        "direction": record.direction.value,
        "caller": record.caller,
        "dnis": record.dnis,
        "queue": record.queue,
        "agent": record.agent,
        "outcome": record.outcome.value,
        "started_at": clock.at(record.started_at),
        "answered_at": clock.maybe(record.answered_at),
        "ended_at": clock.at(record.ended_at),
        "wait_seconds": record.wait_seconds,
        "talk_seconds": record.talk_seconds,
        "hold_seconds": record.hold_seconds,
        "agents_rung": list(record.agents_rung),
        "hangup_cause": record.hangup_cause,
        "hangup_cause_text": record.hangup_cause_text,
        "partial": record.partial,
    } for record in records]
    # Both dialects spell INSERT ... ON CONFLICT the same way; only the import differs.
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(CallRow).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[CallRow.call_id],
        set_={name: statement.excluded[name] for name in rows[0] if name != "call_id"},
    )
    returned = await session.execute(statement.returning(CallRow.call_id, CallRow.id))
    return {call_id: call_pk for call_id, call_pk in returned.all()}


def _children(record: CallRecord, call_pk: int, clock: _Clock) -> list[LegRow | TransferRow | RecordingRow]:
    legs = [
        LegRow(call_pk=call_pk, uniqueid=leg.uniqueid, channel=leg.channel, role=leg.role.value,
               endpoint=leg.endpoint, created_at=clock.at(leg.created_at),
               answered_at=clock.maybe(leg.answered_at), ended_at=clock.at(leg.ended_at),
               hangup_cause=leg.hangup_cause, dial_status=leg.dial_status)
        for leg in record.legs
    ]
    transfers = [
        TransferRow(call_pk=call_pk, ordinal=n, kind=t.kind.value, target=t.to, at=clock.at(t.at))
        for n, t in enumerate(record.transfers)
    ]
    recordings = [
        RecordingRow(call_pk=call_pk, ordinal=n, file_name=name) for n, name in enumerate(record.recordings)
    ]
    return [*legs, *transfers, *recordings]


async def store_queue_log(target: Target, rows: Sequence[QueueLogRow], *, clock_origin: float = 0.0) -> None:
    """Append queue_log rows in one transaction (they are a log: never replaced, never merged)."""
    if not rows:
        return
    clock = _Clock(clock_origin)
    async with _transaction(target) as session:
        session.add_all(_queue_log_entry(row, clock) for row in rows)
        await session.flush()


def _queue_log_entry(row: QueueLogRow, clock: _Clock) -> QueueLogEntry:
    padded = [*row.data, *[""] * QUEUE_LOG_DATA_COLUMNS][:QUEUE_LOG_DATA_COLUMNS]
    return QueueLogEntry(
        time=clock.at(row.time), callid=row.callid, queuename=row.queuename, agent=row.agent, event=row.event,
        data="|".join(row.data), data1=padded[0], data2=padded[1], data3=padded[2], data4=padded[3],
        data5=padded[4],
    )


@dataclass(frozen=True, slots=True)
class StoredTransfer:
    kind: str           # blind / attended / redirect
    to: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A call as reports read it back (legs stay in the database until a report needs them)."""

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
    transfers: tuple[StoredTransfer, ...]
    recordings: tuple[str, ...]
    hangup_cause: int | None
    hangup_cause_text: str | None
    partial: bool


async def calls_between(
    target: Target, start: datetime, end: datetime, *,
    agent: str | None = None, queue: str | None = None, limit: int = 10_000,
) -> list[StoredCall]:
    """Calls that started in [start, end), oldest first, optionally for one agent or queue.

    At most `limit` calls: a caller that wants more asks again from the last `started_at`.
    """
    query = select(CallRow).where(CallRow.started_at >= start, CallRow.started_at < end)
    if agent is not None:
        query = query.where(CallRow.agent == agent)
    if queue is not None:
        query = query.where(CallRow.queue == queue)
    query = query.order_by(CallRow.started_at, CallRow.id).limit(limit).options(
        selectinload(CallRow.transfers), selectinload(CallRow.recordings)
    )
    async with _reading(target) as session:
        return [_stored(row) for row in (await session.scalars(query)).all()]


def _stored(row: CallRow) -> StoredCall:
    return StoredCall(
        call_id=row.call_id, direction=row.direction, caller=row.caller, dnis=row.dnis, queue=row.queue,
        agent=row.agent, outcome=row.outcome, started_at=row.started_at, answered_at=row.answered_at,
        ended_at=row.ended_at, wait_seconds=row.wait_seconds, talk_seconds=row.talk_seconds,
        hold_seconds=row.hold_seconds, agents_rung=tuple(row.agents_rung),
        transfers=tuple(StoredTransfer(t.kind, t.target, t.at) for t in row.transfers),
        recordings=tuple(f.file_name for f in row.recordings),
        hangup_cause=row.hangup_cause, hangup_cause_text=row.hangup_cause_text, partial=row.partial,
    )
