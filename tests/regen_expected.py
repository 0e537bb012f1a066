"""Rewrite tests/expected/*.json from the current tracker. Review every diff before committing it:
these files are the record of what each real trace means."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from trace_support import EXPECTED, describe, main_traces, trace_id

from callcenter.queue_log import QueueLogBuilder
from callcenter.replay import replay_events
from cti.events import CallEnded


def main() -> None:
    for path in main_traces():
        events = list(replay_events(path))
        builder = QueueLogBuilder()
        queue_log = [row.line() for event in events for row in builder.feed(event)]
        expected = {
            "events": [describe(e) for e in events],
            "records": [e.record.to_json() for e in events if isinstance(e, CallEnded)],
            "queue_log": queue_log,
        }
        out = EXPECTED / f"{trace_id(path)}.json"
        out.write_text(json.dumps(expected, indent=1) + "\n")
        print(out)


if __name__ == "__main__":
    main()
