"""The IVR's chosen agent (CC_PREFERRED_AGENT): left on the caller's channel, read by the tracker from the
VarSet, carried on CallQueued to the router, which offers that agent first when free. On the shipped
dialplan through the simulated PBX."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waiting import until

from acd.events import CallOffered
from callcenter.routing.config import AcdFile
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, Span
from cti import contract

ACD = AcdFile.model_validate({
    "queues": {"support": {"ring_timeout": 10}},  # longest idle first
    "agents": {"agent1001": {"queues": ["support"], "login": "auto"},
               "agent1002": {"queues": ["support"], "login": "auto"}},
})


async def test_the_agent_the_ivr_chose_is_offered_first(make_rig: Callable[[AcdFile], Any]) -> None:
    async with make_rig(ACD) as rig:
        for endpoint, number in (("agent1001", "1001"), ("agent1002", "1002")):
            rig.people.add_agent(endpoint, number, endpoint, AgentBehaviour(Span(1, 1), 0.0, Span(30, 30)))
        caller = rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(30, 30)))
        rig.pbx.var_set(caller, contract.IVR_VAR_PREFERRED_AGENT, "agent1002")  # as the IVR's SET VARIABLE
        await until(lambda: bool(rig.of(CallOffered)))
        [offered] = rig.of(CallOffered)
        assert (offered.call_id, offered.agent_id) == (caller.linkedid, "agent1002")
        # without a preference the queue's policy applies: the agent idle longest
        other = rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(30, 30)))
        await until(lambda: len(rig.of(CallOffered)) == 2)
        assert (rig.of(CallOffered)[1].call_id, rig.of(CallOffered)[1].agent_id) == (other.linkedid, "agent1001")
