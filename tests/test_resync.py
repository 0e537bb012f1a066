"""Resync after a (re)connect, from the real second AMI session of trace t-resync: caller A waits in
music on hold, caller B talks to agent1001, and a new session lists channels, status and bridges."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_support import TRACES

from cti.events import CallConnected, CallEnded, CallQueued, CallStarted
from cti.records import CallRecord
from cti.snapshot import PbxSnapshot, build_snapshot
from cti.trace import TracePacket, read_trace
from cti.tracker import Tracker

TRACE = TRACES / "contract" / "t-resync.jsonl"
SESSION2 = TRACES / "contract" / "t-resync.session2.jsonl"
SECOND_LOGIN_SESSION = "0x7f84ac00d5f0"  # the second session's login, seen as SuccessfulAuth in the first
CALLER_A, CALLER_B = "1795355292.27", "1795355292.29"


def _list_items(action_id: str) -> list[TracePacket]:
    return [
        e.packet for e in read_trace(SESSION2)
        if e.direction == "in" and e.packet.get("ActionID") == action_id and "Event" in e.packet
        and not str(e.packet["Event"]).endswith("Complete")
    ]


def _snapshot() -> PbxSnapshot:
    return build_snapshot(_list_items("resync-2"), _list_items("resync-3"), _list_items("resync-4"))


def _split() -> tuple[list[tuple[TracePacket, float]], list[tuple[TracePacket, float]], float]:
    events = [(e.packet, e.t) for e in read_trace(TRACE) if e.is_event]
    cut = next(i for i, (p, _) in enumerate(events) if p.get("SessionID") == SECOND_LOGIN_SESSION)
    return events[:cut], events[cut:], events[cut][1]


def _records(tracker: Tracker, events: list[tuple[TracePacket, float]]) -> dict[str, CallRecord]:
    return {
        out.call_id: out.record
        for packet, now in events for out in tracker.feed(packet, now) if isinstance(out, CallEnded)
    }


def test_snapshot_reads_the_real_list_responses() -> None:
    snapshot = _snapshot()
    by_uid = {c.uniqueid: c for c in snapshot.channels}
    assert len(by_uid) == 5
    waiting = by_uid[CALLER_A]
    assert waiting.variables["CC_STATE"] == "waiting"
    assert waiting.variables["CC_QUEUE"] == "support"
    assert waiting.dnid == "8005550100"
    assert waiting.bridge_id is None
    talking = by_uid[CALLER_B]
    assert talking.bridge_id == by_uid["1795355293.30"].bridge_id is not None
    assert snapshot.bridges == {talking.bridge_id: 2}


def test_fresh_server_rebuilds_calls_from_the_snapshot() -> None:
    _, after, at = _split()
    tracker = Tracker()
    events = tracker.resync(_snapshot(), at)
    started = {e.call_id: e for e in events if isinstance(e, CallStarted)}
    assert set(started) == {CALLER_A, CALLER_B}
    assert all(e.partial and e.dnis == "8005550100" for e in started.values())
    assert [e.call_id for e in events if isinstance(e, CallQueued)] == [CALLER_A]
    connected = [e for e in events if isinstance(e, CallConnected)]
    assert [(e.call_id, e.agent) for e in connected] == [(CALLER_B, "agent1001")]

    live = {c.call_id: (c.state, c.queue, c.agents) for c in tracker.live_calls()}
    assert live == {CALLER_A: ("waiting", "support", ()), CALLER_B: ("talking", "support", ("agent1001",))}

    records = _records(tracker, after)
    assert set(records) == {CALLER_A, CALLER_B}
    assert tracker.live_calls() == []
    assert records[CALLER_A].outcome.value == "abandoned" and records[CALLER_A].partial
    assert records[CALLER_B].agent == "agent1001" and records[CALLER_B].outcome.value == "answered"
    assert records[CALLER_B].partial


def test_resync_of_a_tracker_that_saw_everything_changes_nothing() -> None:
    before, after, at = _split()
    full = _records(Tracker(), before + after)
    tracker = Tracker()
    assert _records(tracker, before) == {}
    assert tracker.resync(_snapshot(), at) == []
    assert _records(tracker, after) == full


@pytest.mark.parametrize("gone", [CALLER_A, CALLER_B])
def test_calls_that_ended_while_we_were_away_are_closed(gone: str) -> None:
    before, _, at = _split()
    tracker = Tracker()
    _records(tracker, before)
    snapshot = _snapshot()
    remaining = PbxSnapshot(
        channels=tuple(c for c in snapshot.channels if c.linkedid != gone), bridges=snapshot.bridges
    )
    ended = [e for e in tracker.resync(remaining, at) if isinstance(e, CallEnded)]
    assert [e.call_id for e in ended] == [gone]
    assert ended[0].record.hangup_cause is None
    assert gone not in tracker.calls


def test_snapshot_tolerates_odd_items() -> None:
    snapshot = build_snapshot(
        [{"Uniqueid": ""}, {"Uniqueid": "1.1", "Duration": "garbage", "Channel": "PJSIP/x-1"}],
        [{"Uniqueid": "1.2", "Channel": "PJSIP/y-2", "Variable": "NOEQUALS", "Seconds": "3"}],
        [{"BridgeUniqueid": ""}],
    )
    assert [(c.uniqueid, c.seconds, dict(c.variables)) for c in snapshot.channels] == [
        ("1.1", 0.0, {}), ("1.2", 3.0, {})
    ]
    assert snapshot.bridges == {}


def test_paths_exist() -> None:
    assert Path(TRACE).exists() and Path(SESSION2).exists()


def test_a_channel_born_while_the_lists_were_answered_is_not_ended() -> None:
    """The lists predate a live Newchannel: that channel is missing from them, yet alive."""
    before, _, at = _split()
    tracker = Tracker()
    _records(tracker, before)
    newcomer = {"Event": "Newchannel", "Channel": "PJSIP/pstn-in-00000099", "ChannelState": "4",
                "CallerIDNum": "5559999", "CallerIDName": "Late", "Context": "inbound",
                "Exten": "8005550100", "Uniqueid": "1795355299.99", "Linkedid": "1795355299.99"}
    tracker.feed(newcomer, at + 0.1)
    events = tracker.resync(_snapshot(), at + 0.2, taken_since=at)
    assert events == []
    assert "1795355299.99" in tracker.channels


def test_a_channel_that_hung_up_while_the_lists_were_answered_is_not_adopted_again() -> None:
    """The lists still show caller A, but its Hangup already came live: no ghost call."""
    before, after, at = _split()
    hangups = [p for p, _ in after if p.get("Event") == "Hangup" and p.get("Uniqueid") in
               {CALLER_A, "1795355292.26"}]

    def tracker_after_live_hangups() -> Tracker:
        tracker = Tracker()
        _records(tracker, before)
        assert set(_records(tracker, [(p, at + 0.1) for p in hangups])) == {CALLER_A}
        return tracker

    windowed = tracker_after_live_hangups()
    assert windowed.resync(_snapshot(), at + 0.2, taken_since=at) == []
    assert CALLER_A not in windowed.calls
    # the control: the same state resynced without the window resurrects caller A from the stale list
    unwindowed = tracker_after_live_hangups()
    resurrected = [e.call_id for e in unwindowed.resync(_snapshot(), at + 0.2) if isinstance(e, CallStarted)]
    assert resurrected == [CALLER_A]
