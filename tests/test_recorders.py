"""History writers: a database that fails for a while must not cost a call record."""

from __future__ import annotations

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

    async def __call__(self, sessions: Any, record: CallRecord) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("database restarting")
        self.stored.append(record)


async def test_a_write_that_fails_for_a_while_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FlakyStore(failures=2)
    monkeypatch.setattr(recorders, "store_call", store)
    writer = CdrWriter(sessions=None, retry_delays=(0, 0, 0))  # type: ignore[arg-type]
    event = _ended()
    await writer(event)
    assert store.stored == [event.record]
    assert (writer.stored, writer.retried, writer.failed) == (1, 2, 0)


async def test_a_write_that_never_succeeds_is_logged_whole(monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(recorders, "store_call", FlakyStore(failures=99))
    writer = CdrWriter(sessions=None, retry_delays=(0, 0))  # type: ignore[arg-type]
    event = _ended()
    with caplog.at_level(logging.ERROR, logger="callcenter.recorders"):
        await writer(event)
    assert (writer.stored, writer.retried, writer.failed) == (0, 2, 1)
    logged = caplog.records[-1].getMessage().split("record: ", 1)[1]
    assert json.loads(logged) == event.record.to_json()  # enough to store it by hand later


async def test_queue_log_file_gets_asterisk_lines(tmp_path: Path) -> None:
    writer = QueueLogWriter(sessions=None, path=tmp_path / "logs" / "queue_log")
    for event in replay_events(TRACES / "app-queue" / "c-ringnoanswer.jsonl"):
        await writer(event)
    lines = (tmp_path / "logs" / "queue_log").read_text().splitlines()
    assert [line.split("|")[4] for line in lines] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETECALLER"]
    assert writer.rows == 4
    assert QueueLogRow(3.2, "1795354431.12", "sales", "NONE", "ENTERQUEUE", ("", "5551005", "1")).line() == lines[0]
