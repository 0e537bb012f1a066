"""Call history in the database, on SQLite and PostgreSQL: migrations, CDR rows, queue_log rows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from trace_support import main_traces

from callcenter.db.cdr import StoredTransfer, calls_between, store_call, store_calls, store_queue_log
from callcenter.db.engine import create_sessionmaker
from callcenter.db.models import Base, CallRow, LegRow, QueueLogEntry, RecordingRow, TransferRow
from callcenter.db.schema import metadata
from callcenter.migrations import alembic_config, migrate
from callcenter.queue_log import QueueLogRow
from callcenter.replay import replay_events
from cti.events import CallEnded
from cti.records import CallOutcome, CallRecord, Direction, LegRecord, LegRole, Transfer, TransferKind

Sessions = async_sessionmaker[AsyncSession]
T0 = 1_795_354_463.2  # 2026-11-22 13:34:23.2 UTC, the epoch of the e-atxfer trace
CALL_TABLES = {"calls", "call_legs", "call_transfers", "call_recordings", "queue_log"}
TABLES = CALL_TABLES | {"users", "auth_sessions", "sign_ins", "customers", "customer_phones", "interactions",
                        "tickets", "agent_states", "survey_answers"}


def _record(call_id: str = "1795354463.20", **changes: object) -> CallRecord:
    record = CallRecord(
        call_id=call_id, direction=Direction.INBOUND, caller="5551007", dnis="support", queue="support",
        agent="agent1003", agents_rung=("agent1001", "agent1003"), outcome=CallOutcome.TRANSFERRED,
        started_at=T0, answered_at=T0 + 4.7, ended_at=T0 + 17.5, wait_seconds=4.7, talk_seconds=9.1,
        hold_seconds=3.7,
        transfers=(Transfer(TransferKind.ATTENDED, "1003", T0 + 10.7),
                   Transfer(TransferKind.REDIRECT, "cc-connect,agent1004", T0 + 15.0)),
        recordings=("scenario-e.wav", "scenario-e-2.wav"), hangup_cause=16, hangup_cause_text="Normal Clearing",
        legs=(
            LegRecord("1795354463.20", "PJSIP/pstn-in-00000014", LegRole.CALLER, "pstn-in", T0, T0,
                      T0 + 17.5, 16, None),
            LegRecord("1795354466.21", "PJSIP/agent1001-00000015", LegRole.AGENT, "agent1001", T0 + 3.2,
                      T0 + 4.7, T0 + 10.7, 16, "ANSWER"),
            LegRecord("1795354470.25", "Local/1003@from-internal-00000003;1", LegRole.LOCAL, None, T0 + 7.0,
                      None, T0 + 12.0, None, None),
        ),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _count(sessions: Sessions, model: type[Base]) -> int | None:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def _tables_and_version(database_url: str) -> tuple[set[str], list[str]]:
    engine, _ = create_sessionmaker(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            versions = [] if "alembic_version" not in tables else list(
                (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await engine.dispose()
    return tables, versions


async def test_migrate_from_empty_creates_every_table(database_url: str) -> None:
    assert await _tables_and_version(database_url) == (set(), [])
    await migrate(database_url)
    await migrate(database_url)  # a second run is a no-op
    assert await _tables_and_version(database_url) == (TABLES | {"alembic_version"}, ["0004"])


# PostgreSQL only: an SQLite file is served by one process, there are no nodes to start together.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_nodes_starting_together_migrate_once(database_url: str) -> None:
    """Application nodes sharing one PostgreSQL all migrate at startup: they take turns, none fails."""
    # bounded: without the lock, concurrent CREATE TABLEs wait on each other instead of failing
    await asyncio.wait_for(asyncio.gather(*(migrate(database_url) for _ in range(4))), 30)
    assert await _tables_and_version(database_url) == (TABLES | {"alembic_version"}, ["0004"])


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """No drift: the migrations build exactly what the models describe (types, indexes, keys)."""
    await migrate(database_url)
    engine, _ = create_sessionmaker(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_downgrade_to_empty_and_back(database_url: str) -> None:
    await migrate(database_url)
    engine, _ = create_sessionmaker(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "base"))
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert tables & TABLES == set()
    await migrate(database_url)


async def test_a_call_is_stored_and_read_back(sessions: Sessions) -> None:
    record = _record()
    await store_call(sessions, record)
    async with sessions() as session:
        call = (await session.scalars(select(CallRow))).one()
        legs = (await session.scalars(select(LegRow).order_by(LegRow.id))).all()
        transfers = (await session.scalars(select(TransferRow).order_by(TransferRow.ordinal))).all()
        recordings = (await session.scalars(select(RecordingRow).order_by(RecordingRow.ordinal))).all()
    assert (call.call_id, call.direction, call.caller, call.dnis, call.queue, call.agent, call.outcome) == (
        "1795354463.20", "inbound", "5551007", "support", "support", "agent1003", "transferred")
    assert (call.started_at, call.answered_at, call.ended_at) == (_utc(T0), _utc(T0 + 4.7), _utc(T0 + 17.5))
    assert (call.wait_seconds, call.talk_seconds, call.hold_seconds) == (4.7, 9.1, 3.7)
    assert call.agents_rung == ["agent1001", "agent1003"]
    assert (call.hangup_cause, call.hangup_cause_text, call.partial) == (16, "Normal Clearing", False)
    assert [
        (leg.uniqueid, leg.channel, leg.role, leg.endpoint, leg.created_at, leg.answered_at, leg.ended_at,
         leg.hangup_cause, leg.dial_status) for leg in legs
    ] == [
        (leg.uniqueid, leg.channel, leg.role.value, leg.endpoint, _utc(leg.created_at),
         None if leg.answered_at is None else _utc(leg.answered_at), _utc(leg.ended_at), leg.hangup_cause,
         leg.dial_status) for leg in record.legs
    ]
    assert [(t.ordinal, t.kind, t.target, t.at) for t in transfers] == [
        (0, "attended", "1003", _utc(T0 + 10.7)), (1, "redirect", "cc-connect,agent1004", _utc(T0 + 15.0))]
    assert [r.file_name for r in recordings] == ["scenario-e.wav", "scenario-e-2.wav"]
    times = [call.started_at, call.answered_at, call.ended_at, *(t.at for t in transfers),
             *(leg.created_at for leg in legs), *(leg.ended_at for leg in legs)]
    assert all(t is not None and t.utcoffset() == timedelta(0) for t in times)


async def test_a_batch_of_calls_is_stored_in_one_go(sessions: Sessions) -> None:
    """The history writer's batch: 450 calls (three statements' worth) plus a second record of one of them
    and of a call stored before; the newest record of each call wins, children replaced, not doubled."""
    await store_call(sessions, _record("earlier", agent="agent1001"))
    batch = [_record(f"batch.{n}") for n in range(450)]
    batch += [_record("batch.7", agent="agent1004", recordings=()), _record("earlier", agent="agent1002")]
    await store_calls(sessions, batch)
    async with sessions() as session:
        agents = dict((await session.execute(select(CallRow.call_id, CallRow.agent))).all())
        legs = await session.scalar(select(func.count()).select_from(LegRow))
        recordings = dict((await session.execute(
            select(CallRow.call_id, func.count(RecordingRow.id)).outerjoin(RecordingRow)
            .group_by(CallRow.call_id))).all())
    assert len(agents) == 451 and (agents["batch.7"], agents["earlier"], agents["batch.8"]) == (
        "agent1004", "agent1002", "agent1003")
    assert legs == 451 * len(_record().legs)
    assert (recordings["batch.7"], recordings["batch.8"], recordings["earlier"]) == (0, 2, 2)


async def test_calls_between_reads_the_call_back(sessions: Sessions) -> None:
    await store_call(sessions, _record())
    [call] = await calls_between(sessions, _utc(T0), _utc(T0 + 1))
    assert (call.call_id, call.outcome, call.agent, call.agents_rung) == (
        "1795354463.20", "transferred", "agent1003", ("agent1001", "agent1003"))
    assert call.started_at == _utc(T0) and call.started_at.tzinfo is not None
    assert call.transfers == (StoredTransfer("attended", "1003", _utc(T0 + 10.7)),
                              StoredTransfer("redirect", "cc-connect,agent1004", _utc(T0 + 15.0)))
    assert call.recordings == ("scenario-e.wav", "scenario-e-2.wav")
    assert (call.hangup_cause, call.hangup_cause_text) == (16, "Normal Clearing")


async def test_times_on_a_replay_clock_are_placed_by_clock_origin(sessions: Sessions) -> None:
    """A replayed trace runs from second 0; clock_origin says which epoch second that was."""
    on_trace_clock = _record(started_at=0.0, answered_at=4.7, ended_at=17.5,
                             transfers=(Transfer(TransferKind.BLIND, "1003", 10.7),),
                             legs=(LegRecord("u.1", "PJSIP/pstn-in-1", LegRole.CALLER, "pstn-in", 0.0, 0.5, 17.5,
                                             16, None),))
    await store_call(sessions, on_trace_clock, clock_origin=T0)
    await store_queue_log(sessions, [QueueLogRow(1.0, "1795354463.20", "support", "NONE", "ENTERQUEUE")],
                          clock_origin=T0)
    [call] = await calls_between(sessions, _utc(T0), _utc(T0 + 1))
    assert (call.started_at, call.answered_at, call.ended_at) == (_utc(T0), _utc(T0 + 4.7), _utc(T0 + 17.5))
    assert call.transfers[0].at == _utc(T0 + 10.7)
    async with sessions() as session:
        leg = (await session.scalars(select(LegRow))).one()
        entry = (await session.scalars(select(QueueLogEntry))).one()
    assert (leg.created_at, leg.answered_at, leg.ended_at) == (_utc(T0), _utc(T0 + 0.5), _utc(T0 + 17.5))
    assert entry.time == _utc(T0 + 1)


async def test_a_callers_session_and_transaction(sessions: Sessions) -> None:
    """Given a session, the store joins its open transaction: the caller's rollback takes the call back."""
    async with sessions() as session:
        async with session.begin():
            await store_call(session, _record("in.tx"))
            assert [c.call_id for c in await calls_between(session, _utc(T0), _utc(T0 + 1))] == ["in.tx"]
            await session.rollback()
        await store_call(session, _record("own.tx"))  # no transaction open: one is begun and committed
        assert not session.in_transaction()
    assert [c.call_id for c in await calls_between(sessions, _utc(T0), _utc(T0 + 1))] == ["own.tx"]


async def test_storing_a_call_again_replaces_it(sessions: Sessions) -> None:
    await store_call(sessions, _record(partial=True, agent="agent1001", recordings=("a.wav", "b.wav", "c.wav")))
    await store_call(sessions, _record())
    await store_call(sessions, _record())
    assert await _count(sessions, CallRow) == 1
    assert await _count(sessions, LegRow) == 3
    assert await _count(sessions, TransferRow) == 2
    assert await _count(sessions, RecordingRow) == 2  # the first version's children went with it
    [call] = await calls_between(sessions, _utc(T0), _utc(T0 + 1))
    assert (call.agent, call.partial, call.recordings) == ("agent1003", False, ("scenario-e.wav", "scenario-e-2.wav"))


async def test_an_abandoned_call_with_empty_fields(sessions: Sessions) -> None:
    abandoned = _record("x.1", caller=None, dnis=None, queue=None, agent=None, agents_rung=(),
                        outcome=CallOutcome.ABANDONED, answered_at=None, talk_seconds=0.0, hold_seconds=0.0,
                        transfers=(), recordings=(), hangup_cause=None, hangup_cause_text=None,
                        legs=(LegRecord("x.1", "PJSIP/pstn-in-00000001", LegRole.CALLER, "pstn-in", T0, None,
                                        T0 + 9.0, None, None),))
    await store_call(sessions, abandoned)
    [stored] = await calls_between(sessions, _utc(T0 - 1), _utc(T0 + 1))
    assert (stored.caller, stored.dnis, stored.queue, stored.agent, stored.answered_at) == (None,) * 5
    assert (stored.outcome, stored.hangup_cause, stored.hangup_cause_text) == ("abandoned", None, None)
    assert stored.transfers == () and stored.recordings == () and stored.agents_rung == ()
    async with sessions() as session:
        leg = (await session.scalars(select(LegRow))).one()
    assert (leg.answered_at, leg.hangup_cause, leg.dial_status, leg.ended_at) == (None, None, None, _utc(T0 + 9))


async def test_calls_between_filters_by_time_agent_and_queue(sessions: Sessions) -> None:
    for n in range(6):
        await store_call(sessions, _record(f"c.{n}", started_at=T0 + 3600 * n,
                                           agent="agent1001" if n % 2 else "agent1002",
                                           queue="sales" if n < 3 else "support"))
    window = (_utc(T0 + 3600), _utc(T0 + 3600 * 5))
    assert [c.call_id for c in await calls_between(sessions, *window)] == ["c.1", "c.2", "c.3", "c.4"]
    assert [c.call_id for c in await calls_between(sessions, *window, agent="agent1001")] == ["c.1", "c.3"]
    assert [c.call_id for c in await calls_between(sessions, *window, queue="sales")] == ["c.1", "c.2"]
    assert [c.call_id for c in await calls_between(sessions, *window, agent="agent1001", queue="sales")] == ["c.1"]
    assert [c.call_id for c in await calls_between(sessions, *window, limit=2)] == ["c.1", "c.2"]
    # the window may be given in any zone: 15:34:23.2+02:00 is 13:34:23.2 UTC, the start of c.0
    cest = timezone(timedelta(hours=2))
    local = (_utc(T0).astimezone(cest), _utc(T0 + 1).astimezone(cest))
    assert [c.call_id for c in await calls_between(sessions, *local)] == ["c.0"]


async def test_concurrent_stores_of_different_calls(sessions: Sessions) -> None:
    await asyncio.gather(*(store_call(sessions, _record(f"k.{n}")) for n in range(20)))
    assert await _count(sessions, CallRow) == 20
    assert await _count(sessions, LegRow) == 60


async def test_concurrent_stores_of_the_same_call(sessions: Sessions) -> None:
    await asyncio.gather(*(store_call(sessions, _record()) for _ in range(5)))
    assert await _count(sessions, CallRow) == 1
    assert await _count(sessions, LegRow) == 3


async def test_queue_log_rows(sessions: Sessions) -> None:
    rows = [
        QueueLogRow(T0, "1795354463.20", "support", "NONE", "ENTERQUEUE", ("", "5551007", "1")),
        QueueLogRow(T0 + 1, "1795354463.20", "support", "agent1001", "CONNECT", ("2", "1795354466.21", "2")),
        QueueLogRow(T0 + 7, "1795354463.20", "support", "agent1001", "ATTENDEDTRANSFER",
                    ("BRIDGE", "1003", "2", "6", "1", "extra")),
        QueueLogRow(T0 + 8, "1795354463.21", "support", "NONE", "ENTERQUEUE"),
    ]
    await store_queue_log(sessions, rows)
    await store_queue_log(sessions, [])
    async with sessions() as session:
        stored = (await session.scalars(select(QueueLogEntry).order_by(QueueLogEntry.id))).all()
    assert [(r.time, r.callid, r.queuename, r.agent, r.event) for r in stored] == [
        (_utc(row.time), row.callid, row.queuename, row.agent, row.event) for row in rows]
    assert [(r.data1, r.data2, r.data3, r.data4, r.data5) for r in stored] == [
        ("", "5551007", "1", "", ""),
        ("2", "1795354466.21", "2", "", ""),
        ("BRIDGE", "1003", "2", "6", "1"),
        ("", "", "", "", ""),
    ]
    assert [r.data for r in stored] == ["|5551007|1", "2|1795354466.21|2", "BRIDGE|1003|2|6|1|extra", ""]
    assert stored[0].time.tzinfo is not None


async def test_long_values_from_the_outside_world_fit(sessions: Sessions) -> None:
    """Caller ids and dialplan locations are not ours to bound: none may cost us the call."""
    long = "x" * 300
    await store_call(sessions, _record(caller=long, transfers=(Transfer(TransferKind.REDIRECT, long, T0 + 1),)))
    await store_queue_log(sessions, [QueueLogRow(T0, "c", "support", "NONE", "ENTERQUEUE", ("", long, "1"))])
    [call] = await calls_between(sessions, _utc(T0), _utc(T0 + 1))
    assert call.caller == long and call.transfers[0].to == long


async def test_every_record_of_every_trace_stores(sessions: Sessions) -> None:
    """Real records (the replay clock placed on the epoch by clock_origin) all go in; the count matches."""
    records = [e.record for path in main_traces() for e in replay_events(path) if isinstance(e, CallEnded)]
    for record in records:
        await store_call(sessions, record, clock_origin=T0)
    stored = await calls_between(sessions, _utc(T0 - 1), _utc(T0) + timedelta(days=1))
    assert len(stored) == len(records) == len({r.call_id for r in records}) > 10
    assert await _count(sessions, LegRow) == sum(len(r.legs) for r in records)


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'folder' / 'cc.db'}"
    engine, _ = create_sessionmaker(url)  # the folder is created
    try:
        async with engine.connect() as connection:
            pragmas = [(await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                       for name in ("journal_mode", "foreign_keys", "busy_timeout")]
    finally:
        await engine.dispose()
    assert pragmas == ["wal", 1, 5000]
