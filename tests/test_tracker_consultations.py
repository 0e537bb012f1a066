"""The tracker on attended transfers made by the simulated PBX with the shipped dialplan (cc-connect's Dial
with `t`, Atxfer into cc-consult with the desktop's `#`): the full ordered list of the high-level domain events
for a consultation that ends in a transfer, one cancelled, one the target never answers, and one whose
caller hangs up meanwhile. The trace e-atxfer's own replay is tests/test_traces.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.asterisk.render import load_dialplan
from callcenter.settings import Settings
from callcenter.simulator.actions import Actions
from callcenter.simulator.channels import Channel
from callcenter.simulator.clock import VirtualClock
from callcenter.simulator.pbx import Endpoint, Pbx
from cti import contract
from cti.events import (
    AgentDisconnected,
    CallConnected,
    CallEnded,
    CallHeld,
    CallOffered,
    CallResumed,
    CallTransferred,
    ConsultationAnswered,
    ConsultationEnded,
    ConsultationStarted,
    DomainEvent,
    OfferUnanswered,
)
from cti.tracker import Tracker

SHIPPED = Path(__file__).parent.parent / "config" / "asterisk" / "extensions.conf"
SHOWN = (CallOffered, OfferUnanswered, CallConnected, AgentDisconnected, CallHeld, CallResumed, CallTransferred,
         ConsultationStarted, ConsultationAnswered, ConsultationEnded, CallEnded)


class Phone:
    def ringing(self, pbx: Pbx, channel: Channel) -> None:
        pass

    def stopped_ringing(self, pbx: Pbx, channel: Channel) -> None:
        pass


class Center:
    """The shipped dialplan on the simulator, its events through a tracker, a caller talking to agent1001."""

    def __init__(self) -> None:
        settings = Settings.model_validate({"asterisk": {"fastagi_port": 1, "ring_timeout": 15}})
        self.clock = VirtualClock()
        self.pbx = Pbx(load_dialplan(settings, SHIPPED), self.clock)
        self.pbx.agi_connector = None
        for number in ("1001", "1003"):
            self.pbx.endpoints[f"agent{number}"] = Endpoint(f"agent{number}", "agents", number, f"Agent {number}",
                                                            Phone())
        self.tracker = Tracker()
        self.events: list[DomainEvent] = []
        self.pbx.listeners.append(lambda event: self.events.extend(self.tracker.feed(event, self.clock.now())))
        self.actions = Actions(self.pbx)
        self.caller = self.pbx.inbound_call("8005550100", "5551007", "Grace Caller")
        self.run(1)
        self.act("Redirect", Channel=self.caller.name, Context=contract.CONNECT_CONTEXT, Exten="agent1001",
                 Priority="1")
        self.run(1)
        self.agent = self.leg("agent1001")
        self.pbx.answer(self.agent)
        self.run(1)

    def run(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def act(self, action: str, **headers: str) -> dict[str, Any]:
        [answer] = self.actions.answer({"Action": action, **headers})
        assert answer["Response"] == "Success", answer
        return answer

    def leg(self, endpoint: str) -> Channel:
        return next(c for c in self.pbx.channels.values() if c.endpoint == endpoint and not c.gone)

    def consult(self, target: str = "agent1003") -> None:
        self.act("Atxfer", Channel=self.agent.name, Exten=target + contract.CONSULT_END,
                 Context=contract.CONSULT_CONTEXT)
        self.run(1)

    def shown(self) -> list[tuple[Any, ...]]:
        """The events that say who talks to whom, from the consultation on, with what matters in each."""
        out: list[tuple[Any, ...]] = []
        start = next(i for i, e in enumerate(self.events) if isinstance(e, CallHeld))
        for event in self.events[start:]:
            if not isinstance(event, SHOWN):
                continue
            detail: tuple[Any, ...] = ()
            if isinstance(event, CallOffered | CallConnected | OfferUnanswered | AgentDisconnected):
                detail = (event.agent,)
            if isinstance(event, AgentDisconnected):
                detail = (event.agent, event.reason.value)
            if isinstance(event, ConsultationStarted):
                detail = (event.agent, event.to)
            if isinstance(event, ConsultationAnswered):
                detail = (event.agent, event.target_agent)
            if isinstance(event, ConsultationEnded):
                detail = (event.agent, event.outcome.value, event.target_agent)
            if isinstance(event, CallTransferred):
                detail = (event.kind.value, event.to, event.by_agent)
            if isinstance(event, CallEnded):
                detail = (event.record.agent, event.record.outcome.value)
            out.append((type(event).__name__, *detail))
        return out


@pytest.fixture
def center() -> Iterator[Center]:
    yield Center()


def test_consult_then_transfer_by_hanging_up(center: Center) -> None:
    center.consult()
    target = center.leg("agent1003")
    center.pbx.answer(target)
    center.run(2)
    center.act("Hangup", Channel=center.agent.name, Cause="16")  # the desktop's "complete transfer"
    center.run(2)
    center.pbx.remote_hangup(target)
    center.run(5)
    assert center.shown() == [
        ("CallHeld",), ("ConsultationStarted", "agent1001", "agent1003"),
        ("AgentDisconnected", "agent1001", "moved"), ("CallOffered", "agent1003"),
        ("ConsultationAnswered", "agent1001", "agent1003"),
        ("CallConnected", "agent1003"), ("CallResumed",), ("CallTransferred", "attended", "agent1003", "agent1001"),
        ("ConsultationEnded", "agent1001", "transferred", "agent1003"),
        ("AgentDisconnected", "agent1003", "agent_hangup"), ("CallEnded", "agent1003", "transferred")]


def test_cancel_gives_the_caller_back_to_the_agent(center: Center) -> None:
    center.consult()
    center.pbx.answer(center.leg("agent1003"))
    center.run(2)
    assert center.act("CancelAtxfer", Channel=center.agent.name)["Message"] == "CancelAtxfer successfully queued"
    center.run(1)
    assert center.shown() == [
        ("CallHeld",), ("ConsultationStarted", "agent1001", "agent1003"),
        ("AgentDisconnected", "agent1001", "moved"), ("CallOffered", "agent1003"),
        ("ConsultationAnswered", "agent1001", "agent1003"),
        ("CallConnected", "agent1001"), ("ConsultationEnded", "agent1001", "returned", "agent1003"),
        ("CallResumed",)]  # Unhold: the caller's music stops once the agent is back
    assert center.tracker.live_calls()[0].agents == ("agent1001",)


def test_a_target_that_does_not_answer_gives_the_caller_back(center: Center) -> None:
    center.consult()
    center.run(16)  # the Dial's ring time (CC_RING_TIMEOUT 15 s) ends it, as atxfernoanswertimeout would
    assert center.shown() == [
        ("CallHeld",), ("ConsultationStarted", "agent1001", "agent1003"),
        ("AgentDisconnected", "agent1001", "moved"), ("CallOffered", "agent1003"), ("OfferUnanswered", "agent1003"),
        ("CallConnected", "agent1001"), ("ConsultationEnded", "agent1001", "returned", "agent1003"),
        ("CallResumed",)]


def test_the_caller_hanging_up_while_consulting_ends_the_consultation_with_the_agent(center: Center) -> None:
    center.consult()
    target = center.leg("agent1003")
    center.pbx.answer(target)
    center.run(2)
    center.pbx.remote_hangup(center.caller)
    center.run(2)
    [live] = center.tracker.live_calls()  # the agents still talk on the caller's call
    assert (live.state, live.agents) == ("other", ())
    center.pbx.remote_hangup(center.agent)
    center.run(2)
    assert center.shown() == [
        ("CallHeld",), ("ConsultationStarted", "agent1001", "agent1003"),
        ("AgentDisconnected", "agent1001", "moved"), ("CallOffered", "agent1003"),
        ("ConsultationAnswered", "agent1001", "agent1003"),
        ("CallResumed",),  # the caller's music stops as it hangs up; the agents go on talking
        ("ConsultationEnded", "agent1001", "ended", "agent1003"), ("CallEnded", "agent1001", "answered")]
