"""Attended transfers and the ACD, on the shipped dialplan through the simulated PBX over AMI: the agent who
consults stays on the call while the caller holds; the agent consulted is busy from the moment their phone
rings; when the transfer completes the call is the consulted agent's (with the queue's wrap-up at its end) and
the transferring agent goes to wrap-up as after any call; a consultation without a transfer frees the
consulted agent and leaves the first one talking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waiting import until

from acd.events import CallOffered
from acd.model import AgentState
from callcenter.routing.config import AcdFile
from callcenter.simulator.channels import Channel
from callcenter.simulator.people import CallerBehaviour, ManualPhone, Span
from cti import contract

ON_CALL, WRAP_UP, AVAILABLE = AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.AVAILABLE
ACD = AcdFile.model_validate({
    "queues": {"support": {"wrap_up": 30, "ring_timeout": 30}},
    "agents": {"agent1001": {"queues": ["support"], "login": "auto"},
               "agent1003": {"queues": ["support"], "login": "auto"}},
})


class Desk:
    """Two people's phones (answered by the test), a caller routed to agent1001 and answered."""

    def __init__(self, rig: Any) -> None:
        self.rig = rig
        self.phones: dict[str, ManualPhone] = {}
        for endpoint, number in (("agent1001", "1001"), ("agent1003", "1003")):
            phone = rig.people.add_agent(endpoint, number, endpoint, None).phone
            assert isinstance(phone, ManualPhone)
            self.phones[endpoint] = phone

    def state(self, agent: str) -> AgentState:
        return self.rig.routing.agent_states()[agent]

    def leg(self, agent: str) -> Channel:
        return next(c for c in self.rig.pbx.channels.values() if c.endpoint == agent and not c.gone)

    async def answer(self, agent: str) -> None:
        await until(lambda: self.phones[agent].ringing_channel is not None)
        assert self.phones[agent].answer(self.rig.pbx)

    async def talking(self) -> Channel:
        caller = self.rig.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(600, 600)))
        await until(lambda: bool(self.rig.of(CallOffered)))
        assert self.rig.of(CallOffered)[0].agent_id == "agent1001"
        await self.answer("agent1001")
        await until(lambda: self.state("agent1001") is ON_CALL)
        return caller  # type: ignore[no-any-return]

    async def consult(self, target: str) -> None:
        reply = await self.rig.routing.send({"Action": "Atxfer", "Channel": self.leg("agent1001").name,
                                             "Exten": target + contract.CONSULT_END,
                                             "Context": contract.CONSULT_CONTEXT})
        assert reply["Response"] == "Success", reply


async def test_the_consulted_agent_gets_the_call_and_the_transferring_agent_wraps_up(
        make_rig: Callable[[AcdFile], Any]) -> None:
    async with make_rig(ACD) as rig:
        desk = Desk(rig)
        caller = await desk.talking()
        await desk.consult("agent1003")
        await until(lambda: desk.state("agent1003") is ON_CALL)  # from the moment the phone rings
        assert desk.phones["agent1003"].ringing_channel is not None
        assert desk.state("agent1001") is ON_CALL  # consulting, the caller on hold: still on the call
        await desk.answer("agent1003")
        await until(lambda: desk.leg("agent1003").bridge is not None)
        assert (desk.state("agent1001"), desk.state("agent1003")) == (ON_CALL, ON_CALL)
        rig.pbx.remote_hangup(desk.leg("agent1001"))  # the transferring agent hangs up: the transfer completes
        await until(lambda: desk.state("agent1001") is WRAP_UP)
        assert desk.state("agent1003") is ON_CALL
        view = rig.routing.router.call(caller.linkedid)
        assert view is not None and view.agent_id == "agent1003"  # the call is agent1003's now
        rig.pbx.remote_hangup(desk.leg("agent1003"))
        await until(lambda: desk.state("agent1003") is WRAP_UP)  # the queue's wrap-up, as for any of its calls
        assert rig.routing.router.call(caller.linkedid) is None
        await until(lambda: bool(rig.ended))  # the caller hears goodbye, then the call is over
        [ended] = rig.ended
        assert (ended.record.agent, ended.record.outcome.value, [t.kind.value for t in ended.record.transfers]) == (
            "agent1003", "transferred", ["attended"])


async def test_a_cancelled_consultation_frees_the_consulted_agent(make_rig: Callable[[AcdFile], Any]) -> None:
    async with make_rig(ACD) as rig:
        desk = Desk(rig)
        caller = await desk.talking()
        await desk.consult("agent1003")
        await desk.answer("agent1003")
        await until(lambda: desk.leg("agent1003").bridge is not None)
        reply = await rig.routing.send({"Action": "CancelAtxfer", "Channel": desk.leg("agent1001").name})
        assert reply["Message"] == "CancelAtxfer successfully queued"
        await until(lambda: desk.state("agent1003") is AVAILABLE)  # no wrap-up: not a call of theirs
        assert desk.state("agent1001") is ON_CALL
        assert desk.leg("agent1001").bridge is caller.bridge  # talking to the caller again
        view = rig.routing.router.call(caller.linkedid)
        assert view is not None and view.agent_id == "agent1001"


async def test_a_number_consulted_then_transferred_to_ends_the_agents_call(make_rig: Callable[[AcdFile], Any]) -> None:
    """Over the trunk: the simulated customer 5551234 answers; the agent hangs up; the caller is the
    customer's now and the agent wraps up."""
    async with make_rig(ACD) as rig:
        rig.people.add_trunk()
        desk = Desk(rig)
        caller = await desk.talking()
        await desk.consult("5551234")
        await until(lambda: any(c.endpoint == contract.TRUNK_ENDPOINT and c is not caller and c.bridge is not None
                                for c in rig.pbx.channels.values()), within=20)
        rig.pbx.remote_hangup(desk.leg("agent1001"))
        await until(lambda: desk.state("agent1001") is WRAP_UP)
        assert rig.routing.router.call(caller.linkedid) is None
        assert desk.state("agent1003") is AVAILABLE
