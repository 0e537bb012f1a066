"""Supervisor listen / whisper / barge in the simulated PBX: an Originate to the supervisor's phone into
the shipped cc-supervisor context, ChanSpy on the agent's channel. Events as g-chanspy shows them, and
the tracker sees the spy join the call and leave it."""

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
from callcenter.simulator.people import AgentBehaviour, People, Span
from cti.events import CallEnded, DomainEvent, SpyStarted, SpyStopped
from cti.tracker import Tracker

SHIPPED = Path("config/asterisk/extensions.conf")


@pytest.mark.parametrize("prefix", ["spy-", "whisper-", "barge-"])
def test_a_supervisor_listens_until_the_agent_hangs_up(prefix: str) -> None:
    clock = VirtualClock()
    pbx = Pbx(load_dialplan(Settings(), SHIPPED), clock)
    events: list[dict[str, Any]] = []
    domain: list[DomainEvent] = []
    tracker = Tracker()

    def listen(event: dict[str, Any]) -> None:
        events.append(event)
        domain.extend(tracker.feed(event, clock.now()))

    pbx.listeners.append(listen)
    people = People(pbx, random.Random(3))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(30, 30)))
    people.add_supervisor("sup2001", "2001", "Sue Supervisor")
    caller = pbx.inbound_call("8005550100", "5552001", "Mia")
    actions = Actions(pbx)
    clock.advance(1)
    actions.answer({"Action": "Redirect", "Channel": caller.name, "Context": "cc-connect", "Exten": "agent1001",
                    "Priority": "1"})
    clock.advance(5)  # talking
    actions.answer({"Action": "Originate", "Channel": "PJSIP/sup2001", "Context": "cc-supervisor",
                    "Exten": f"{prefix}agent1001", "Priority": "1", "Async": "true", "CallerID": '"Spy" <2001>'})
    clock.advance(60)
    names = [e["Event"] for e in events]
    start, stop = names.index("ChanSpyStart"), names.index("ChanSpyStop")
    agent_hangup = next(i for i, e in enumerate(events)
                        if e["Event"] == "Hangup" and e["Channel"].startswith("PJSIP/agent1001"))
    spyer_hangup = next(i for i, e in enumerate(events)
                        if e["Event"] == "Hangup" and e["Channel"].startswith("PJSIP/sup2001"))
    assert start < stop < agent_hangup < spyer_hangup  # g: Stop before the spyee's Hangup
    assert events[start]["SpyeeChannel"].startswith("PJSIP/agent1001-")
    assert events[start]["SpyerChannel"].startswith("PJSIP/sup2001-")
    spied = [e for e in domain if isinstance(e, SpyStarted)]
    assert len(spied) == 1 and spied[0].call_id == caller.uniqueid and spied[0].agent == "agent1001"
    assert any(isinstance(e, SpyStopped) for e in domain)
    ended = [e for e in domain if isinstance(e, CallEnded) and e.record.call_id == caller.uniqueid]
    assert ended and ended[0].record.outcome.value == "answered"


def test_a_spy_waits_for_the_agent_to_be_on_a_call() -> None:
    clock = VirtualClock()
    pbx = Pbx(load_dialplan(Settings(), SHIPPED), clock)
    events: list[dict[str, Any]] = []
    pbx.listeners.append(events.append)
    people = People(pbx, random.Random(3))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(30, 30)))
    people.add_supervisor("sup2001", "2001", "Sue Supervisor")
    actions = Actions(pbx)
    actions.answer({"Action": "Originate", "Channel": "PJSIP/sup2001", "Context": "cc-supervisor",
                    "Exten": "spy-agent1001", "Priority": "1", "Async": "true"})
    clock.advance(10)
    assert "ChanSpyStart" not in [e["Event"] for e in events]  # nobody to listen to yet
    caller = pbx.inbound_call("8005550100", "5552001", "Mia")
    clock.advance(1)
    actions.answer({"Action": "Redirect", "Channel": caller.name, "Context": "cc-connect", "Exten": "agent1001",
                    "Priority": "1"})
    clock.advance(5)
    assert "ChanSpyStart" in [e["Event"] for e in events]
