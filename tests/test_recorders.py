"""History writers: a database that fails for a while must not cost a call record."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from trace_support import TRACES

import callcenter.recorders as recorders
from callcenter.queue_log import QueueLogRow
from callcenter.recorders import CdrWriter, QueueLogWriter
from callcenter.replay import replay_events
from cti.events import CallEnded
from cti.records import CallRecord


def _ended() -> CallEnded:
    return next(e for e in replay_events(TRACES / "app-queue" / "e-atxfer.jsonl") if isinstance(e, CallEnded))


@dataclass
class FlakyStore:
    failures: int
    stored: list[CallRecord] = field(default_factory=list)
    calls: int = 0

    bad: str | None = None  # a call whose record the database refuses, whatever the batch

    async def __call__(self, sessions: Any, records: list[CallRecord]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("database restarting")
        if any(r.call_id == self.bad for r in records):
            raise ValueError(f"bad record {self.bad}")
        self.stored.extend(records)


async def test_a_write_that_fails_for_a_while_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FlakyStore(failures=2)
    monkeypatch.setattr(recorders, "store_calls", store)
    writer = CdrWriter(sessions=None, retry_delays=(0, 0, 0))  # type: ignore[arg-type]
    event = _ended()
    await writer([event])
    assert store.stored == [event.record]
    assert (writer.stored, writer.retried, writer.failed) == (1, 2, 0)


async def test_a_write_that_never_succeeds_is_logged_whole(monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(recorders, "store_calls", FlakyStore(failures=99))
    writer = CdrWriter(sessions=None, retry_delays=(0, 0))  # type: ignore[arg-type]
    event = _ended()
    with caplog.at_level(logging.ERROR, logger="callcenter.recorders"):
        await writer([event])
    assert (writer.stored, writer.retried, writer.failed) == (0, 2, 1)
    logged = caplog.records[-1].getMessage().split("record: ", 1)[1]
    assert json.loads(logged) == event.record.to_json()  # enough to store it by hand later


async def test_one_bad_record_in_a_batch_costs_only_itself(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """The batch is refused whole (every retry); then each call is stored alone: two go in, the bad one
    is logged whole."""
    event = _ended()
    records = [dataclasses.replace(event.record, call_id=f"call-{n}") for n in range(3)]
    store = FlakyStore(failures=0, bad="call-1")
    monkeypatch.setattr(recorders, "store_calls", store)
    writer = CdrWriter(sessions=None, retry_delays=(0, 0))  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="callcenter.recorders"):
        await writer([CallEnded(event.at, r.call_id, r) for r in records])
    assert [r.call_id for r in store.stored] == ["call-0", "call-2"]
    assert (writer.stored, writer.retried, writer.failed) == (2, 2, 1)
    assert json.loads(caplog.records[-1].getMessage().split("record: ", 1)[1])["call_id"] == "call-1"


async def test_queue_log_file_gets_asterisk_lines(tmp_path: Path) -> None:
    writer = QueueLogWriter(sessions=None, path=tmp_path / "logs" / "queue_log")
    events = list(replay_events(TRACES / "app-queue" / "c-ringnoanswer.jsonl"))
    await writer(events[:3])  # in batches, as the bus hands them over
    await writer(events[3:])
    lines = (tmp_path / "logs" / "queue_log").read_text().splitlines()
    assert [line.split("|")[4] for line in lines] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETECALLER"]
    assert writer.rows == 4
    assert QueueLogRow(3.2, "1795354431.12", "sales", "NONE", "ENTERQUEUE", ("", "5551005", "1")).line() == lines[0]
