"""The agent state history in the database: written from the ACD's events, read for reports.

`AgentStateWriter` is a subscriber of the ACD's event bus: every `AgentStateChanged` becomes a row,
written in batches, with retries while the database is away (a change is logged whole if it still
fails). `agent_history` reads an agent's changes over a period and the seconds spent in each state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.events import AcdEvent, AgentStateChanged
from callcenter.routing.models import AgentStateRow

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
BATCH_ROWS = 1000  # rows in one transaction at most


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class AgentStateWriter:
    """Keeps every change and writes them in batches: one transaction for whatever came in while the
    previous one was written (a busy center changes hundreds of states a second; a transaction each
    would hold the event loop and the database thread). A batch that fails is tried again, whole and in
    order, after `retry_delays`; after the last it is logged row by row."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 retry_delays: Sequence[float] = RETRY_DELAYS, batch: int = BATCH_ROWS) -> None:
        self._sessions = sessions
        self._retry_delays = retry_delays
        self._batch = batch
        self._pending: list[dict[str, object]] = []
        self._writing: asyncio.Task[None] | None = None
        self.stored = 0
        self.failed = 0

    async def __call__(self, event: AcdEvent) -> None:
        if not isinstance(event, AgentStateChanged):
            return
        self._pending.append({"agent_id": event.agent_id, "state": event.state.value, "reason": event.reason,
                              "call_id": event.call_id, "at": _at(event.at), "previous": event.previous.value,
                              "previous_since": _at(event.previous_since)})
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write_all())

    async def drain(self) -> None:
        """Until every change received so far is stored (or given up on)."""
        while self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)

    async def _write_all(self) -> None:
        while self._pending:
            rows, self._pending = self._pending[:self._batch], self._pending[self._batch:]
            await self._write(rows)

    async def _write(self, rows: list[dict[str, object]]) -> None:
        for delay in (*self._retry_delays, None):
            try:
                async with self._sessions.begin() as session:
                    await session.execute(insert(AgentStateRow), rows)  # one bulk INSERT
                self.stored += len(rows)
                return
            except Exception as exc:  # a database briefly away must not cost the history
                if delay is None:
                    self.failed += len(rows)
                    for row in rows:
                        log.error("agent state change not stored: %r (%s)", row, exc)
                    return
                await asyncio.sleep(delay)


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
