"""Bus subscribers that keep call history: CDR rows and queue_log rows (database and file).

Both consume domain events only; the tracker never waits for them. The queue_log file is appended in
a worker thread so that a slow disk never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.db.cdr import store_call, store_queue_log
from callcenter.queue_log import QueueLogBuilder, QueueLogRow
from cti.events import CallEnded, DomainEvent

log = logging.getLogger(__name__)


# A database that is briefly away (restart, failover) must not cost a call record: retry with backoff.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class CdrWriter:
    """Stores every finished call (`CallEnded`) as CDR rows.

    A write that still fails after the retries is logged at ERROR with the whole record as JSON, so
    that it can be replayed into the database by hand; `failed` counts them.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self._sessions = sessions
        self._retry_delays = retry_delays
        self.stored = 0
        self.retried = 0
        self.failed = 0

    async def __call__(self, event: DomainEvent) -> None:
        if not isinstance(event, CallEnded):
            return
        for delay in (*self._retry_delays, None):
            try:
                await store_call(self._sessions, event.record)
            except Exception as exc:  # any database failure: the call must not be lost silently
                if delay is None:
                    self.failed += 1
                    log.error("call record not stored (%s); record: %s", exc,
                              json.dumps(event.record.to_json()))
                    return
                self.retried += 1
                log.warning("storing call %s failed (%s); retrying in %.1f s", event.call_id, exc, delay)
                await asyncio.sleep(delay)
            else:
                self.stored += 1
                return


class QueueLogWriter:
    """Turns domain events into queue_log rows, stored in the database and appended to a file."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None, path: Path | None) -> None:
        self._builder = QueueLogBuilder()
        self._sessions = sessions
        self._path = path
        self.rows = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    async def __call__(self, event: DomainEvent) -> None:
        rows = self._builder.feed(event)
        if not rows:
            return
        if self._sessions is not None:
            await store_queue_log(self._sessions, rows)
        if self._path is not None:
            await asyncio.to_thread(_append, self._path, rows)
        self.rows += len(rows)


def _append(path: Path, rows: list[QueueLogRow]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(row.line() + "\n" for row in rows))
