"""Property tests: real trace events reordered, dropped and repeated, as a lossy or reordering link
would deliver them. The tracker must never fail, and what it reports must stay self-consistent."""

from __future__ import annotations

import logging
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_support import main_traces

from cti.events import CallConnected, CallEnded, CallStarted
from cti.records import CallOutcome
from cti.trace import TracePacket, read_trace
from cti.tracker import Tracker


@cache
def _all_traces() -> tuple[tuple[tuple[TracePacket, float], ...], ...]:
    return tuple(
        tuple((entry.packet, entry.t) for entry in read_trace(path) if entry.is_event)
        for path in main_traces()
    )


@st.composite
def mangled_trace(draw: st.DrawFn) -> list[TracePacket]:
    events = [packet for packet, _ in draw(st.sampled_from(_all_traces()))]
    ops = draw(st.lists(st.tuples(st.sampled_from(["drop", "dup", "swap"]), st.integers(0, 10_000)),
                        max_size=25))
    for op, n in ops:
        if not events:
            break
        i = n % len(events)
        if op == "drop":
            del events[i]
        elif op == "dup":
            events.insert(i, events[i])
        elif i + 1 < len(events):
            events[i], events[i + 1] = events[i + 1], events[i]
    return events


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=mangled_trace())
def test_mangled_traces_never_break_the_tracker(
    events: list[TracePacket], caplog: pytest.LogCaptureFixture
) -> None:
    tracker = Tracker()
    caplog.clear()
    started: set[str] = set()
    ended: set[str] = set()
    with caplog.at_level(logging.ERROR, logger="cti.tracker"):
        for step, packet in enumerate(events):
            for out in tracker.feed(packet, step * 0.01):
                if isinstance(out, CallStarted):
                    started.add(out.call_id)
                elif isinstance(out, CallConnected):
                    assert out.wait_seconds >= 0
                elif isinstance(out, CallEnded):
                    assert out.call_id not in ended, "a call ended twice"
                    ended.add(out.call_id)
                    record = out.record
                    assert record.talk_seconds >= 0 and record.hold_seconds >= 0 and record.wait_seconds >= 0
                    assert record.ended_at >= record.started_at
                    assert (record.agent is None) or record.outcome in (CallOutcome.ANSWERED,
                                                                          CallOutcome.TRANSFERRED)
    assert not caplog.records, caplog.records[0].getMessage()
    # every live channel belongs to a live call, and every call's live legs exist
    for channel in tracker.channels.values():
        assert channel.uniqueid in tracker.calls[channel.call_id].live
    for call in tracker.calls.values():
        assert all(uid in tracker.channels for uid in call.live)
