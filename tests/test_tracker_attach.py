"""Attaching to a running Asterisk: every trace replayed with its first N events cut, for every N.

What must hold: the tracker never fails on an event; a call that starts after the cut is reported
exactly as in the full replay; a call that was already running is reported with `partial` set.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from trace_support import main_traces, trace_id

from cti.events import CallEnded
from cti.records import CallRecord
from cti.trace import TracePacket, read_trace
from cti.tracker import Tracker


def _events(path: Path) -> list[tuple[TracePacket, float]]:
    return [(entry.packet, entry.t) for entry in read_trace(path) if entry.is_event]


def _records(events: list[tuple[TracePacket, float]]) -> list[CallRecord]:
    tracker = Tracker()
    return [
        out.record
        for packet, now in events
        for out in tracker.feed(packet, now)
        if isinstance(out, CallEnded)
    ]


def _first_index(events: list[tuple[TracePacket, float]], record: CallRecord) -> int:
    """Index of the first event that mentions any leg of the call."""
    uids = {leg.uniqueid for leg in record.legs} | {record.call_id}
    for index, (packet, _) in enumerate(events):
        ids = (v for k, v in packet.items() if k.endswith(("Uniqueid", "Linkedid")))
        if any(isinstance(v, str) and v in uids for v in ids):
            return index
    raise AssertionError(f"no event mentions call {record.call_id}")


@pytest.mark.parametrize("path", main_traces(), ids=trace_id)
def test_attach_mid_trace(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    events = _events(path)
    full = _records(events)
    starts = {record.call_id: _first_index(events, record) for record in full}
    caplog.set_level(logging.ERROR, logger="cti.tracker")
    for cut in range(len(events) + 1):
        records = {record.call_id: record for record in _records(events[cut:])}
        for record in full:
            if starts[record.call_id] >= cut:
                assert records.get(record.call_id) == record, f"cut {cut}: {record.call_id} differs"
            elif record.call_id in records:
                assert records[record.call_id].partial, f"cut {cut}: {record.call_id} not flagged partial"
        assert not caplog.records, f"cut {cut}: {caplog.records[0].getMessage()}"


def test_garbage_events_are_survived(caplog: pytest.LogCaptureFixture) -> None:
    """Events with missing, empty or nonsensical fields change nothing and raise nothing."""
    tracker = Tracker()
    junk: list[TracePacket] = [
        {},
        {"Event": "Hangup"},
        {"Event": "Hangup", "Uniqueid": "nope", "Cause": "x"},
        {"Event": "BridgeEnter", "Uniqueid": "1.1"},
        {"Event": "BridgeLeave", "BridgeUniqueid": "b"},
        {"Event": "DialBegin", "DestUniqueid": "<unknown>"},
        {"Event": "Newchannel"},
        {"Event": "VarSet", "Variable": "CC_CALL", "Value": "x"},
        {"Event": "Newstate", "Uniqueid": ["1.2", "1.3"], "Channel": "PJSIP/x-1"},
        {"Event": "OriginateResponse", "Response": "Failure", "Reason": "not-a-number"},
        {"Event": "BridgeMerge", "FromBridgeUniqueid": "a", "ToBridgeUniqueid": ""},
        {"Event": "LocalOptimizationEnd", "Id": "9"},
        {"Event": "SomethingNew", "Foo": "bar"},
    ]
    caplog.set_level(logging.ERROR, logger="cti.tracker")
    produced = [out for packet in junk for out in tracker.feed(packet, 1.0)]
    assert not caplog.records
    assert all(type(e).__name__ == "OriginateFailed" for e in produced)
    assert tracker.ignored_events == 2  # the empty packet and SomethingNew
    assert not tracker.calls or all(not c.reportable for c in tracker.calls.values())
