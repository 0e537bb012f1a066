"""Bus subscribers that keep call history: CDR rows and queue_log rows (database and file).

Both consume domain events only; the tracker never waits for them. Both are batch subscribers
(`EventBus.subscribe_batches`): what queued up while they were writing goes into one transaction, so
that a busy center (50 calls a second, a few queue_log rows each) is not a transaction per row. The
queue_log file is appended in a worker thread so that a slow disk never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.db.cdr import store_calls, store_queue_log
from callcenter.db.retry import RETRY_DELAYS, with_retries
from callcenter.queue_log import QueueLogBuilder, QueueLogRow
from cti.events import CallEnded, DomainEvent

log = logging.getLogger(__name__)


class CdrWriter:
    """Stores every finished call (`CallEnded`) as CDR rows, the calls of a batch in one transaction.

    A batch that still fails after the retries is tried call by call (one bad record costs only itself);
    a call that fails then is logged at ERROR with the whole record as JSON, so that it can be replayed
    into the database by hand; `failed` counts them.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession],
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self._sessions = sessions
        self._retry_delays = retry_delays
        self.stored = 0
        self.retried = 0
        self.failed = 0

    async def __call__(self, events: list[DomainEvent]) -> None:
        records = [event.record for event in events if isinstance(event, CallEnded)]
        if not records:
            return
        try:
            self.retried += await with_retries(lambda: store_calls(self._sessions, records), self._retry_delays,
                                                f"{len(records)} call record(s)")
        except Exception:
            self.retried += len(self._retry_delays)
        else:
            self.stored += len(records)
            return
        for record in records:
            try:
                await store_calls(self._sessions, [record])
            except Exception as exc:
                self.failed += 1
                log.error("call record not stored (%s); record: %s", exc, json.dumps(record.to_json()))
            else:
                self.stored += 1


class QueueLogWriter:
    """Turns domain events into queue_log rows, stored in the database (a batch in one transaction,
    retried like the CDR) and appended to a file."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None, path: Path | None,
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self._builder = QueueLogBuilder()
        self._sessions = sessions
        self._path = path
        self._retry_delays = retry_delays
        self.rows = 0
        self.failed = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    async def __call__(self, events: list[DomainEvent]) -> None:
        rows = [row for event in events for row in self._builder.feed(event)]
        if not rows:
            return
        if self._sessions is not None:
            sessions = self._sessions
            try:
                await with_retries(lambda: store_queue_log(sessions, rows), self._retry_delays,
                                    f"{len(rows)} queue_log row(s)")
            except Exception as exc:  # the file below still gets them
                self.failed += len(rows)
                log.error("queue_log rows not stored in the database (%s): %s", exc,
                          "; ".join(row.line() for row in rows))
        if self._path is not None:
            await asyncio.to_thread(_append, self._path, rows)
        self.rows += len(rows)


def _append(path: Path, rows: list[QueueLogRow]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write("".join(row.line() + "\n" for row in rows))
