"""The parser's event filter is an optimisation only: with the tracker's filter, every recorded trace
gives exactly the domain events it gives unfiltered, and nothing the connection needs is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_support import describe, main_traces, trace_id

from cti.protocol import AmiParser, encode_action, encode_message, event_filter
from cti.trace import read_trace
from cti.tracker import Tracker


@pytest.mark.parametrize("path", main_traces(), ids=trace_id)
def test_filtered_parse_gives_the_same_domain_events(path: Path) -> None:
    entries = [e for e in read_trace(path) if e.is_event]
    unfiltered = Tracker()
    expected = [describe(out) for e in entries for out in unfiltered.feed(e.packet, e.t)]

    filtered = Tracker()
    parser = AmiParser(expect_banner=False,
                       event_filter=event_filter(filtered.handled_events, filtered.tracked_variables))
    got = []
    for entry in entries:  # one message per read, so each keeps its own timestamp
        for packet in parser.feed(encode_message(entry.packet)):
            got.extend(describe(out) for out in filtered.feed(packet, entry.t))
    assert got == expected
    assert parser.error_count == 0
    assert parser.skipped > 0 or len(entries) < 10


def test_filter_keeps_what_the_connection_needs() -> None:
    keep = event_filter({"Hangup"}, {"CC_CALL"})
    stream = b"".join(
        encode_message(p) for p in [
            {"Event": "RTCPSent", "Channel": "PJSIP/a-1"},
            {"Event": "CoreShowChannel", "ActionID": "r-2", "Channel": "PJSIP/a-1"},
            {"Event": "OriginateResponse", "Privilege": "call,all", "ActionID": "o-1", "Response": "Failure"},
            {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"},
            {"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"},
            {"Event": "VarSet", "Variable": "CC_CALLER", "Value": "x"},
            {"Event": "VarSet", "Variable": "CC_CALL", "Value": "1.1"},
            {"Event": "Hangup", "Uniqueid": "1.1"},
            {"Response": "Success", "ActionID": "r-1", "Message": "Channels will follow"},
        ]
    )
    parser = AmiParser(expect_banner=False, event_filter=keep)
    names = [p.get("Event", p.get("Response")) for p in parser.feed(stream)]
    assert names == ["CoreShowChannel", "OriginateResponse", "FullyBooted", "Shutdown", "VarSet", "Hangup",
                     "Success"]
    assert parser.skipped == 2  # RTCPSent and the VarSet of CC_CALLER


def test_filtered_action_round_trip_is_untouched() -> None:
    parser = AmiParser(expect_banner=False, kinds=("Action",), event_filter=event_filter(()))
    ping = {"Action": "Ping", "ActionID": "p"}
    assert parser.feed(encode_action(ping)) == [ping]
