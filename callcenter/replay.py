"""`callcenter replay TRACE`: a recorded trace through the tracker, one JSON call record per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from cti.events import CallEnded, DomainEvent
from cti.trace import read_trace
from cti.tracker import Tracker


def replay_events(path: Path, tracker: Tracker | None = None) -> Iterator[DomainEvent]:
    """Every domain event the trace produces, in order, on the trace's own clock."""
    tracker = tracker or Tracker()
    for entry in read_trace(path):
        if entry.is_event:
            yield from tracker.feed(entry.packet, entry.t)


def replay_records(path: Path) -> Iterator[dict[str, object]]:
    for event in replay_events(path):
        if isinstance(event, CallEnded):
            yield event.record.to_json()


def run(path: Path, out: TextIO) -> int:
    for record in replay_records(path):
        out.write(json.dumps(record) + "\n")
    return 0
