"""Overflow and skill relaxation through the simulated PBX on the shipped dialplan: a caller the first
queue cannot serve is answered by the overflow queue's agent after `overflow_after`, and a caller no agent
has the skill level for is answered once its requirement is relaxed; never before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waiting import until

from acd.events import CallOffered, CallOverflowed, CallRelaxed
from callcenter.routing.config import AcdFile
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, Span
from cti import contract

ACD = AcdFile.model_validate({
    "queues": {
        "sales": {"skills": {"sales": 1}, "overflow_to": "support", "overflow_after": 8},
        "support": {"skills": {"support": 50}, "relaxation": [{"after": 6, "lower_by": 30}]},
    },
    "agents": {"agent1001": {"skills": {"support": 30}, "queues": ["support"], "login": "auto"}},
})


def _caller() -> CallerBehaviour:
    return CallerBehaviour("8005550100", 0, Span(600, 600), Span(3, 3))


async def test_a_sales_caller_overflows_to_support_and_is_answered_there(make_rig: Callable[[AcdFile], Any]) -> None:
    async with make_rig(ACD) as rig:
        rig.people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(3, 3)))
        rig.pbx.setvar(None, contract.VAR_DEFAULT_QUEUE, "sales")  # no IVR here: callers wait in sales
        caller = rig.people.call(_caller())
        await until(lambda: bool(rig.ended), within=20)
        [overflowed] = rig.of(CallOverflowed)
        assert (overflowed.from_queue, overflowed.to_queue) == ("sales", "support")
        [offered] = rig.of(CallOffered)
        assert offered.agent_id == "agent1001" and offered.queue == "support"
        [ended] = rig.ended
        assert ended.record.call_id == caller.linkedid
        assert ended.record.queue == "support"  # CC_QUEUE follows the overflow: reports and restarts see it
        assert (ended.record.outcome.value, ended.record.agent) == ("answered", "agent1001")
        # the support agent (support 30, below support's 50) is only good enough once relaxed, which
        # counts from the overflow: at least 8 s in sales and 6 s in support
        assert rig.of(CallRelaxed)
        assert ended.record.wait_seconds >= 14


async def test_a_support_caller_waits_for_the_relaxation(make_rig: Callable[[AcdFile], Any]) -> None:
    async with make_rig(ACD) as rig:
        rig.people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(3, 3)))
        rig.pbx.setvar(None, contract.VAR_DEFAULT_QUEUE, "support")
        rig.people.call(_caller())
        await until(lambda: bool(rig.ended), within=20)
        [relaxed] = rig.of(CallRelaxed)
        [offered] = rig.of(CallOffered)
        assert offered.at >= relaxed.at and relaxed.stage == 1
        [ended] = rig.ended
        assert ended.record.outcome.value == "answered" and 6 <= ended.record.wait_seconds < 12
