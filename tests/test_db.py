"""Call history in the database, on SQLite and PostgreSQL: migrations, CDR rows, queue_log rows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from trace_support import TRACES

from callcenter.db.cdr import calls_between, store_call, store_queue_log
from callcenter.db.engine import create_sessionmaker
from callcenter.db.models import Base, CallRow, LegRow, QueueLogEntry, RecordingRow, TransferRow
from callcenter.migrations import migrate
from callcenter.queue_log import QueueLogRow
from callcenter.replay import replay_events
from cti.events import CallEnded
from cti.records import CallOutcome, CallRecord, Direction, LegRecord, LegRole, Transfer, TransferKind

T0 = 1_795_354_463.2  # 2026-11-22 13:34:23 UTC, the epoch of the e-atxfer trace


def _record(call_id: str = "1795354463.20", **changes: object) -> CallRecord:
    record = CallRecord(
        call_id=call_id, direction=Direction.INBOUND, caller="5551007", dnis="support", queue="support",
        agent="agent1003", agents_rung=("agent1001", "agent1003"), outcome=CallOutcome.TRANSFERRED,
        started_at=T0, answered_at=T0 + 4.7, ended_at=T0 + 17.5, wait_seconds=4.7, talk_seconds=9.1,
        hold_seconds=3.7, transfers=(Transfer(TransferKind.ATTENDED, "1003", T0 + 10.7),),
        recordings=("scenario-e.wav",), hangup_cause=16, hangup_cause_text="Normal Clearing",
        legs=(
            LegRecord("1795354463.20", "PJSIP/pstn-in-00000014", LegRole.CALLER, "pstn-in", T0, T0,
                      T0 + 17.5, 16, None),
            LegRecord("1795354466.21", "PJSIP/agent1001-00000015", LegRole.AGENT, "agent1001", T0 + 3.2,
                      T0 + 4.7, T0 + 10.7, 16, "ANSWER"),
        ),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    await migrate(database_url)
    await migrate(database_url)  # a second run is a no-op
    engine, _ = create_sessionmaker(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


async def test_a_call_is_stored_and_read_back(sessions: async_sessionmaker[AsyncSession]) -> None:
    await store_call(sessions, _record())
    async with sessions() as session:
        call = (await session.scalars(select(CallRow))).one()
        legs = (await session.scalars(select(LegRow).order_by(LegRow.id))).all()
        transfer = (await session.scalars(select(TransferRow))).one()
        recording = (await session.scalars(select(RecordingRow))).one()
    assert (call.call_id, call.outcome, call.agent, call.queue) == ("1795354463.20", "transferred",
                                                                   "agent1003", "support")
    assert call.started_at == _utc(T0) and call.started_at.tzinfo == UTC
    assert call.answered_at == _utc(T0 + 4.7)
    assert (call.wait_seconds, call.talk_seconds, call.hold_seconds) == (4.7, 9.1, 3.7)
    assert call.agents_rung == ["agent1001", "agent1003"]
    assert [(leg.role, leg.endpoint, leg.dial_status) for leg in legs] == [
        ("caller", "pstn-in", None), ("agent", "agent1001", "ANSWER")]
    assert legs[1].created_at == _utc(T0 + 3.2)
    assert (transfer.kind, transfer.target, transfer.at) == ("attended", "1003", _utc(T0 + 10.7))
    assert recording.file_name == "scenario-e.wav"


async def test_storing_a_call_again_replaces_it(sessions: async_sessionmaker[AsyncSession]) -> None:
    await store_call(sessions, _record(partial=True, agent="agent1001"))
    await store_call(sessions, _record())
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallRow)) == 1
        assert await session.scalar(select(func.count()).select_from(LegRow)) == 2
        call = (await session.scalars(select(CallRow))).one()
    assert (call.agent, call.partial) == ("agent1003", False)


async def test_an_abandoned_call_with_empty_fields(sessions: async_sessionmaker[AsyncSession]) -> None:
    abandoned = _record("x.1", caller=None, dnis=None, queue=None, agent=None, agents_rung=(),
                        outcome=CallOutcome.ABANDONED, answered_at=None, transfers=(), recordings=(),
                        hangup_cause=None, hangup_cause_text=None, legs=())
    await store_call(sessions, abandoned)
    [stored] = await calls_between(sessions, _utc(T0 - 1), _utc(T0 + 1))
    assert (stored.caller, stored.agent, stored.answered_at, stored.outcome) == (None, None, None, "abandoned")
    assert stored.transfers == () and stored.recordings == () and stored.agents_rung == ()


async def test_calls_between_filters_by_time_agent_and_queue(sessions: async_sessionmaker[AsyncSession]) -> None:
    for n in range(6):
        await store_call(sessions, _record(f"c.{n}", started_at=T0 + 3600 * n,
                                           agent="agent1001" if n % 2 else "agent1002",
                                           queue="sales" if n < 3 else "support"))
    window = (_utc(T0 + 3600), _utc(T0 + 3600 * 5))
    assert [c.call_id for c in await calls_between(sessions, *window)] == ["c.1", "c.2", "c.3", "c.4"]
    assert [c.call_id for c in await calls_between(sessions, *window, agent="agent1001")] == ["c.1", "c.3"]
    assert [c.call_id for c in await calls_between(sessions, *window, queue="sales")] == ["c.1", "c.2"]
    [first] = await calls_between(sessions, *window, agent="agent1001", queue="sales")
    assert first.transfers == (("attended", "1003"),) and first.recordings == ("scenario-e.wav",)


async def test_concurrent_stores_of_different_calls(sessions: async_sessionmaker[AsyncSession]) -> None:
    await asyncio.gather(*(store_call(sessions, _record(f"k.{n}")) for n in range(20)))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CallRow)) == 20
        assert await session.scalar(select(func.count()).select_from(LegRow)) == 40


async def test_queue_log_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    rows = [
        QueueLogRow(T0, "1795354463.20", "support", "NONE", "ENTERQUEUE", ("", "5551007", "1")),
        QueueLogRow(T0 + 1, "1795354463.20", "support", "agent1001", "CONNECT", ("2", "1795354466.21", "2")),
        QueueLogRow(T0 + 7, "1795354463.20", "support", "agent1001", "ATTENDEDTRANSFER",
                    ("BRIDGE", "1003", "2", "6", "1", "extra")),
    ]
    await store_queue_log(sessions, rows)
    async with sessions() as session:
        stored = (await session.scalars(select(QueueLogEntry).order_by(QueueLogEntry.id))).all()
    assert [(r.event, r.agent, r.data1, r.data2, r.data3) for r in stored] == [
        ("ENTERQUEUE", "NONE", "", "5551007", "1"),
        ("CONNECT", "agent1001", "2", "1795354466.21", "2"),
        ("ATTENDEDTRANSFER", "agent1001", "BRIDGE", "1003", "2"),
    ]
    assert stored[2].data == "BRIDGE|1003|2|6|1|extra"  # nothing lost beyond data5
    assert stored[0].time == _utc(T0)


async def test_every_record_of_every_trace_stores(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Real records (replay clock shifted onto the epoch) all go in; the count matches."""
    records = [
        e.record for path in sorted(TRACES.glob("*/*.jsonl")) if not path.name.endswith(
            (".sim.jsonl", ".session2.jsonl"))
        for e in replay_events(path) if isinstance(e, CallEnded)
    ]
    shift = T0
    for record in records:
        await store_call(sessions, replace(
            record, started_at=record.started_at + shift, ended_at=record.ended_at + shift,
            answered_at=None if record.answered_at is None else record.answered_at + shift,
            transfers=tuple(replace(t, at=t.at + shift) for t in record.transfers),
            legs=tuple(replace(leg, created_at=leg.created_at + shift, ended_at=leg.ended_at + shift,
                               answered_at=None if leg.answered_at is None else leg.answered_at + shift)
                       for leg in record.legs)))
    stored = await calls_between(sessions, _utc(T0 - 1), _utc(T0) + timedelta(days=1))
    assert len(stored) == len(records) == len({r.call_id for r in records})
