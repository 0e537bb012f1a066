"""Calls the center makes (click-to-call): Originate the agent's phone into the shipped cc-outbound
context, which dials the customer over the trunk; the simulated customers answer, are busy, do not
answer or do not exist. The tracker reads the result as it would from Asterisk (h-originate-*)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk.render import load_dialplan
from callcenter.settings import Settings
from callcenter.simulator.actions import Actions
from callcenter.simulator.clock import VirtualClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentBehaviour, CustomerBehaviour, People, Span
from cti.events import CallEnded
from cti.tracker import Tracker

SHIPPED = Path("config/asterisk/extensions.conf")


def _click_to_call(number: str) -> tuple[list[dict[str, Any]], list[CallEnded], People]:
    clock = VirtualClock()
    pbx = Pbx(load_dialplan(Settings(), SHIPPED), clock)
    events: list[dict[str, Any]] = []
    ended: list[CallEnded] = []
    tracker = Tracker()

    def listen(event: dict[str, Any]) -> None:  # the tracker reads each event when it happens
        events.append(event)
        ended.extend(d for d in tracker.feed(event, clock.now()) if isinstance(d, CallEnded))

    pbx.listeners.append(listen)
    people = People(pbx, random.Random(2))
    people.add_trunk(behaviour=CustomerBehaviour(answer_after=Span(3, 3), talk=Span(20, 20)))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(600, 600)))
    reply = Actions(pbx).answer({"Action": "Originate", "ActionID": "c2c", "Channel": "PJSIP/agent1001",
                                 "Context": "cc-outbound", "Exten": number, "Priority": "1", "Async": "true",
                                 "CallerID": f'"Customer" <{number}>', "Timeout": "20000"})
    assert reply[0]["Message"] == "Originate successfully queued"
    clock.advance(90)
    return events, ended, people


def test_a_customer_who_answers_talks_to_the_agent() -> None:
    events, ended, people = _click_to_call("5557777")
    dial = next(e for e in events if e["Event"] == "DialBegin" and e.get("DialString") == "5557777@cc-trunk")
    assert dial["DestChannel"].startswith("PJSIP/cc-trunk-") and dial["DestCallerIDNum"] == "5557777"
    assert [e["DialStatus"] for e in events if e["Event"] == "DialEnd"] == ["ANSWER", "ANSWER"]  # agent, customer
    [call] = ended
    record = call.record
    assert (record.direction.value, record.dnis, record.outcome.value) == ("outbound", "5557777", "answered")
    assert 19.5 < record.talk_seconds < 20.5  # the customer hangs up after 20 s
    assert people.stats.outbound_answered == 1


@pytest.mark.parametrize(("number", "status"), [("5550000", "BUSY"), ("5550002", "CONGESTION")])
def test_a_busy_or_unknown_number(number: str, status: str) -> None:
    events, ended, _ = _click_to_call(number)
    to_customer = [e for e in events if e["Event"] == "DialEnd" and e.get("DestChannel", "").startswith("PJSIP/cc-")]
    assert [e["DialStatus"] for e in to_customer] == [status]
    [call] = ended
    assert call.record.outcome.value == "failed"


def test_a_customer_who_does_not_answer_rings_out() -> None:
    events, ended, _ = _click_to_call("5550001")
    to_customer = [e for e in events if e["Event"] == "DialEnd" and e.get("DestChannel", "").startswith("PJSIP/cc-")]
    assert [e["DialStatus"] for e in to_customer] == ["NOANSWER"]  # CC_OUTBOUND_TIMEOUT (45 s)
    assert ended[0].record.outcome.value == "failed"
