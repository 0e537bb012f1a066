"""One test per recorded Asterisk trace: the full ordered list of domain events, the call records and
the queue_log rows (tests/expected/<trace>.json, reviewed by hand), plus the facts a person reading the
trace would state, written out here so that a regenerated golden file cannot quietly change them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trace_support import EXPECTED, TRACES, describe, main_traces, trace_id

from callcenter.queue_log import QueueLogBuilder
from callcenter.replay import replay_events
from cti.events import (
    AgentDisconnected,
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallOffered,
    CallQueued,
    CallTransferred,
    ConsultationAnswered,
    ConsultationEnded,
    ConsultationOutcome,
    ConsultationStarted,
    DigitsReceived,
    DisconnectReason,
    OfferUnanswered,
    OriginateFailed,
    PbxShutdown,
    SpyStarted,
)
from cti.records import TransferKind

# What each trace shows, in call-center words (see tests/traces/README.md and contract/README.md).
FACTS: dict[str, list[dict[str, Any]]] = {
    "a-queue-answered": [dict(caller="5551001", dnis="support", queue="support", agent="agent1001",
                              agents_rung=["agent1001"], outcome="answered", talk_seconds=3.3,
                              hangup_cause=16)],
    "a2-agent-hangs-up": [dict(agent="agent1001", outcome="answered", talk_seconds=3.0)],
    "b-abandon": [dict(queue="backoffice", agent=None, agents_rung=["agent1004"], outcome="abandoned")],
    "b2-abandon-empty-queue": [dict(queue="overflow", agents_rung=[], outcome="abandoned")],
    "c-ringnoanswer": [dict(queue="sales", agent="agent1002", agents_rung=["agent1004", "agent1002"],
                            outcome="answered")],
    "d-redirect": [dict(agent="agent1002", outcome="transferred",
                        transfers=[{"kind": "redirect", "to": "agents,1002", "at": 6.7}])],
    "e-atxfer": [dict(agent="agent1003", agents_rung=["agent1001", "agent1003"], outcome="transferred",
                      hold_seconds=3.7, transfers=[{"kind": "attended", "to": "1003", "at": 10.7}])],
    "e2-blindtransfer": [dict(agent="agent1002", outcome="transferred",
                              transfers=[{"kind": "blind", "to": "1002", "at": 6.7}])],
    "f-mixmonitor": [dict(agent="agent1001", recordings=["scenario-f-1795354504.wav"])],
    "f2-dialplan-mixmonitor": [dict(dnis="rec-support", recordings=["inbound-1795354512.33.wav"])],
    "g-chanspy": [dict(agent="agent1001", outcome="answered")],
    # the lab PBX calls itself: the customer's side of the click-to-call lands in [inbound] too
    "h-originate-success": [
        dict(direction="outbound", caller="1002", dnis="5557777", agent="agent1002", outcome="answered",
             talk_seconds=4.4),
        dict(direction="inbound", dnis="5557777", agent=None, outcome="abandoned"),
        dict(direction="outbound", agents_rung=["agent1003"], agent=None, outcome="failed"),
    ],
    "h2-originate-failure": [
        dict(direction="outbound", agents_rung=["agent1004"], outcome="failed", hangup_cause=19),
        dict(direction="inbound", caller="anonymous", dnis="5550000", outcome="failed", hangup_cause=17),
    ],
    "i-dtmf-agi": [dict(agent="agent1001", outcome="answered")],
    "j-hold": [dict(agent="agent1001", outcome="answered", hold_seconds=3.0)],
    "k-local-agents": [dict(queue="localq", agent="5001@local-agents", outcome="answered", talk_seconds=3.0)],
    "l-queue-member-ops": [],
    "m-wait-redirect-answer": [dict(caller="5552001", dnis="8005550100", queue="support", agent="agent1001",
                                    outcome="answered", wait_seconds=4.5, talk_seconds=3.0)],
    "n-wait-redirect-noanswer": [dict(agent="agent1002", agents_rung=["agent1004", "agent1002"],
                                      outcome="answered", wait_seconds=14.5)],
    "o-originate-bridge-app": [dict(agent="agent1001", outcome="answered", talk_seconds=3.0)],
    "p-originate-then-bridge-action": [dict(agent="agent1001", outcome="answered", talk_seconds=3.0)],
    "q-caller-abandons-while-agent-rings": [dict(agent=None, agents_rung=["agent1004"], outcome="abandoned")],
    "r-originate-timeout": [dict(agents_rung=["agent1004"], outcome="abandoned", wait_seconds=10.0)],
    "s-agi-ivr": [dict(dnis="8015550100", queue="sales", outcome="abandoned"),
                  dict(dnis="8015550100", queue="sales", outcome="abandoned")],
    "t-resync": [dict(caller="5552009", outcome="abandoned", hangup_cause=0),
                 dict(caller="5552010", agent="agent1001", outcome="answered")],
    "v-restart": [dict(outcome="abandoned", hangup_cause=0)],
    "w-hold-transfer-to-queue": [dict(agent="agent1002", agents_rung=["agent1001", "agent1002"],
                                      outcome="transferred", hold_seconds=3.0,
                                      transfers=[{"kind": "redirect", "to": "cc-wait,s", "at": 10.5}])],
}

# Domain events a trace must contain (type, and the fields that matter), in this order.
MILESTONES: dict[str, list[tuple[type, dict[str, Any]]]] = {
    "b-abandon": [(OfferUnanswered, {"dial_status": "CANCEL"}), (CallAbandoned, {"queue": "backoffice"})],
    "c-ringnoanswer": [(OfferUnanswered, {"agent": "agent1004", "dial_status": "NOANSWER"})],
    "e-atxfer": [(ConsultationStarted, {"agent": "agent1001", "to": "1003"}),
                 (AgentDisconnected, {"agent": "agent1001", "reason": DisconnectReason.MOVED}),
                 (CallOffered, {"agent": "agent1003"}),
                 (ConsultationAnswered, {"agent": "agent1001", "target_agent": "agent1003"}),
                 (CallConnected, {"agent": "agent1003"}),
                 (CallTransferred, {"kind": TransferKind.ATTENDED, "to": "1003", "by_agent": "agent1001"}),
                 (ConsultationEnded, {"outcome": ConsultationOutcome.TRANSFERRED, "target_agent": "agent1003"})],
    "g-chanspy": [(SpyStarted, {"supervisor": "sup2001", "agent": "agent1001"})],
    "i-dtmf-agi": [(DigitsReceived, {"digit": "1", "from_caller": True})],
    "n-wait-redirect-noanswer": [(CallQueued, {}), (OfferUnanswered, {"dial_status": "NOANSWER"}),
                                 (CallQueued, {})],
    "p-originate-then-bridge-action": [(CallQueued, {}), (CallQueued, {}), (CallAbandoned, {})],
    "q-caller-abandons-while-agent-rings": [(CallAbandoned, {}), (OriginateFailed, {"reason": 0})],
    "r-originate-timeout": [(OriginateFailed, {"reason": 3, "dial_string": "PJSIP/agent1004"})],
    "v-restart": [(PbxShutdown, {"restarting": True})],
    "w-hold-transfer-to-queue": [(CallTransferred, {"kind": "redirect"}), (CallQueued, {})],
}


def test_every_trace_has_facts() -> None:
    assert sorted(FACTS) == sorted(trace_id(p) for p in main_traces())


@pytest.mark.parametrize("path", main_traces(), ids=trace_id)
def test_trace(path: Path) -> None:
    events = list(replay_events(path))
    builder = QueueLogBuilder()
    queue_log = [row.line() for event in events for row in builder.feed(event)]
    records = [e.record.to_json() for e in events if isinstance(e, CallEnded)]
    expected = json.loads((EXPECTED / f"{trace_id(path)}.json").read_text())

    assert [describe(e) for e in events] == expected["events"]
    assert records == expected["records"]
    assert queue_log == expected["queue_log"]

    facts = FACTS[trace_id(path)]
    assert len(records) == len(facts)
    for record, fact in zip(sorted(records, key=lambda r: r["started_at"]), facts, strict=True):
        assert {key: record[key] for key in fact} == fact

    remaining = iter(events)
    for kind, fields in MILESTONES.get(trace_id(path), []):
        assert any(
            isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items()) for e in remaining
        ), f"missing {kind.__name__} {fields}"


def test_customer_phone_is_not_a_call() -> None:
    """The simulated customer's own phone (PJSIP/pstn-out, context caller-sim) never makes a record."""
    for path in main_traces():
        for event in replay_events(path):
            if isinstance(event, CallEnded):
                assert all(not leg.channel.startswith("PJSIP/pstn-out") or leg.role.value == "other"
                           for leg in event.record.legs)
                assert not event.record.call_id.startswith("caller-sim")


def test_traces_folder_is_complete() -> None:
    assert (TRACES / "README.md").exists()
    assert len(main_traces()) == 27
