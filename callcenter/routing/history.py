"""The agent state history in the database: written from the ACD's events, read for reports.

`AgentStateWriter` is a subscriber of the ACD's event bus: every `AgentStateChanged` becomes a row,
written in batches, with retries while the database is away (a change is logged whole if it still
fails). `agent_history` reads an agent's changes over a period and the seconds spent in each state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.events import AcdEvent, AgentStateChanged
from callcenter.db.retry import RETRY_DELAYS, with_retries
from callcenter.routing.models import AgentStateRow

log = logging.getLogger(__name__)

def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class AgentStateWriter:
    """Stores every state change of the ACD's agents. A bus batch subscriber (`EventBus.subscribe_batches`):
    what came in while the previous batch was written goes in one bulk INSERT (a busy center changes
    hundreds of states a second; a transaction each would hold the event loop and the database thread).
    A batch that fails is tried again, whole and in order, after `retry_delays`; after the last it is
    logged row by row."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self._sessions = sessions
        self._retry_delays = retry_delays
        self.stored = 0
        self.failed = 0

    async def __call__(self, events: list[AcdEvent]) -> None:
        rows: list[dict[str, object]] = [
            {"agent_id": e.agent_id, "state": e.state.value, "reason": e.reason, "call_id": e.call_id,
             "at": _at(e.at), "previous": e.previous.value, "previous_since": _at(e.previous_since)}
            for e in events if isinstance(e, AgentStateChanged)]
        if not rows:
            return
        try:
            await with_retries(lambda: self._insert(rows), self._retry_delays, f"{len(rows)} agent state change(s)")
        except Exception as exc:
            self.failed += len(rows)
            for row in rows:
                log.error("agent state change not stored: %r (%s)", row, exc)
        else:
            self.stored += len(rows)

    async def _insert(self, rows: list[dict[str, object]]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(insert(AgentStateRow), rows)  # one bulk INSERT


@dataclass(frozen=True, slots=True)
class StateChange:
    at: datetime
    state: str
    reason: str | None
    call_id: str | None


@dataclass(frozen=True, slots=True)
class AgentHistory:
    agent_id: str
    changes: list[StateChange]
    seconds: dict[str, float]  # time in each state within [start, end)


async def agent_history(sessions: async_sessionmaker[AsyncSession], agent_id: str, start: datetime,
                        end: datetime, now: datetime) -> AgentHistory:
    """The agent's changes in [start, end) and the seconds in each state in that period (the state
    the agent was in at `start` counts from `start`; a state still running counts up to `now`)."""
    async with sessions() as session:
        before = await session.scalar(
            select(AgentStateRow).where(AgentStateRow.agent_id == agent_id, AgentStateRow.at < start)
            .order_by(AgentStateRow.at.desc(), AgentStateRow.id.desc()).limit(1))
        rows = list(await session.scalars(
            select(AgentStateRow).where(AgentStateRow.agent_id == agent_id, AgentStateRow.at >= start,
                                        AgentStateRow.at < end).order_by(AgentStateRow.at, AgentStateRow.id)))
        after = None
        if before is None:  # the state before the first change is that change's `previous`
            after = await session.scalar(
                select(AgentStateRow).where(AgentStateRow.agent_id == agent_id, AgentStateRow.at >= start)
                .order_by(AgentStateRow.at, AgentStateRow.id).limit(1))
    seconds: dict[str, float] = {}
    since = start
    if before is not None:
        current: str | None = before.state
    elif after is not None and after.previous_since < end:
        current, since = after.previous, max(start, after.previous_since)
    else:
        current = None
    for row in rows:
        if current is not None:
            seconds[current] = seconds.get(current, 0.0) + (row.at - since).total_seconds()
        current, since = row.state, row.at
    stop = min(end, now, after.at) if after is not None and not rows else min(end, now)
    if current is not None and stop > since:
        seconds[current] = seconds.get(current, 0.0) + (stop - since).total_seconds()
    changes = [StateChange(r.at, r.state, r.reason, r.call_id) for r in rows]
    return AgentHistory(agent_id, changes, {k: round(v, 3) for k, v in seconds.items()})
