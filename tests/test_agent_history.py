"""The agent state history: every change stored, time in each state computed over a period.

Runs on SQLite and PostgreSQL (the `sessions` fixture)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.events import AcdEvent, AgentStateChanged
from acd.model import AgentState
from callcenter.bus import EventBus
from callcenter.routing.history import AgentStateWriter, agent_history
from callcenter.routing.models import AgentStateRow

T0 = 1_795_354_400.0  # 2026-11-22 13:33:20 UTC
A, R, C, W, N, L = (AgentState.AVAILABLE, AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP,
                    AgentState.NOT_READY, AgentState.LOGGED_OUT)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def _a_shift(writer: AgentStateWriter) -> None:
    """Logged in at T0, a call (ring 5 s, talk 60 s, wrap-up 10 s), a 120 s break, logged out."""
    changes = [(0, A, L, None, None), (100, R, A, None, "c1"), (105, C, R, None, "c1"), (165, W, C, None, "c1"),
               (175, A, W, None, None), (200, N, A, "break", None), (320, A, N, None, None), (400, L, A, None, None)]
    since, events = T0 - 3600, []
    for offset, state, previous, reason, call in changes:
        events.append(AgentStateChanged(T0 + offset, "agent1001", state, previous, since, reason, call))
        since = T0 + offset
    await writer(events[:3])  # as the bus hands them over: what queued meanwhile
    await writer(events[3:])


async def test_every_change_is_stored_and_the_time_in_each_state_adds_up(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    writer = AgentStateWriter(sessions)
    await _a_shift(writer)
    assert writer.stored == 8 and writer.failed == 0
    history = await agent_history(sessions, "agent1001", _utc(T0), _utc(T0 + 3600), now=_utc(T0 + 7200))
    assert [(c.state, c.reason, c.call_id) for c in history.changes][:3] == [
        ("available", None, None), ("reserved", None, "c1"), ("on_call", None, "c1")]
    assert history.changes[5].reason == "break"
    assert history.seconds == {"available": 100 + 25 + 80, "reserved": 5, "on_call": 60, "wrap_up": 10,
                               "not_ready": 120, "logged_out": 3600 - 400}


async def test_a_period_that_starts_mid_state_counts_from_its_start(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await _a_shift(AgentStateWriter(sessions))
    # from the middle of the call to the middle of the break
    history = await agent_history(sessions, "agent1001", _utc(T0 + 135), _utc(T0 + 260), now=_utc(T0 + 3600))
    assert [c.state for c in history.changes] == ["wrap_up", "available", "not_ready"]
    assert history.seconds == {"on_call": 30, "wrap_up": 10, "available": 25, "not_ready": 60}



async def test_a_state_still_running_counts_up_to_now(sessions: async_sessionmaker[AsyncSession]) -> None:
    writer = AgentStateWriter(sessions)
    await writer([AgentStateChanged(T0, "agent1002", A, L, T0 - 60)])
    await writer([AgentStateChanged(T0 + 30, "agent1002", N, A, T0, "lunch")])
    running = await agent_history(sessions, "agent1002", _utc(T0 + 10), _utc(T0 + 3600), now=_utc(T0 + 100))
    assert running.seconds == {"available": 20, "not_ready": 70}


async def test_another_agent_and_an_empty_period(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _a_shift(AgentStateWriter(sessions))
    nobody = await agent_history(sessions, "agent1002", _utc(T0), _utc(T0 + 3600), now=_utc(T0 + 3600))
    assert (nobody.changes, nobody.seconds) == ([], {})
    before = await agent_history(sessions, "agent1001", _utc(T0 - 600), _utc(T0 - 60), now=_utc(T0 + 3600))
    assert before.changes == [] and before.seconds == {"logged_out": 540}  # from the first row's `previous`
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AgentStateRow)) == 8


async def test_a_burst_of_changes_is_written_in_batches_and_in_order(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    writer = AgentStateWriter(sessions)
    bus: EventBus[AcdEvent] = EventBus()
    stats = bus.subscribe_batches("agent_states", writer, max_batch=400)
    running = asyncio.create_task(bus.run())
    await asyncio.sleep(0)
    states = (A, N)
    for n in range(2500):  # far more than a transaction each could keep up with
        bus.publish(AgentStateChanged(T0 + n, f"agent{n % 7}", states[n % 2], states[(n + 1) % 2], T0 + n - 1))
    await asyncio.wait_for(bus.drain(), 60)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert (writer.stored, writer.failed, stats.delivered) == (2500, 0, 2500)
    async with sessions() as session:
        rows = list(await session.scalars(select(AgentStateRow).order_by(AgentStateRow.id)))
    assert [r.at for r in rows] == [_utc(T0 + n) for n in range(2500)]  # the order they came in
