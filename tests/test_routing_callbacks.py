"""Callbacks end to end: a waiting caller asks to be called back, leaves the line (cc-exit,callback) and
keeps its place; when an agent is free the agent is reserved, its phone rings first (Originate into
cc-outbound), then the customer's number is dialled over the trunk. Through the simulated PBX over AMI,
on the shipped dialplan, with the tracker and the ACD as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from routing_rig import RecordingAmi, Rig
from waiting import until as _until

from acd.events import CallAnswered, CallbackDialled, CallbackFailed, CallbackRequested
from acd.model import AgentState
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, CustomerBehaviour, Span
from cti.events import CallEnded, CallStarted
from cti.records import CallOutcome, CallRecord, Direction

ACD = AcdFile.model_validate({
    "queues": {"support": {"callback": {"dial_timeout": 20, "retry_after": 30, "max_attempts": 2}}},
    "agents": {"agent1001": {"queues": ["support"], "login": "auto"}},
})


@asynccontextmanager
async def rig(make_rig: Callable[[AcdFile], Any]) -> AsyncIterator[Rig]:
    """agent1001 answers after a second and talks 10 s; the trunk's customers answer after 2 s."""
    async with make_rig(ACD) as the_rig:
        the_rig.people.add_trunk(behaviour=CustomerBehaviour(answer_after=Span(2, 2), talk=Span(600, 600)))
        the_rig.people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(10, 10)))
        the_rig.routing.pause("agent1001", "break")  # nobody free: the caller waits
        yield the_rig


async def _waiting_caller(r: Rig, number: str) -> str:
    caller = r.people.call(CallerBehaviour("8005550100", 0, Span(600, 600), Span(600, 600), numbers=(number,)))
    await _until(lambda: len(r.routing.router.waiting_calls("support")) == 1)
    return caller.linkedid


async def test_a_callback_rings_the_agent_then_the_customer(make_rig: Callable[[AcdFile], Any]) -> None:
    async with rig(make_rig) as r:
        call_id = await _waiting_caller(r, "5557777")
        out = r.routing.request_callback(call_id)
        assert [type(e).__name__ for e in out] == ["CallbackRequested"]
        # the caller hears it will be called back and leaves the line; its place stays
        await _until(lambda: any(e.record.call_id == call_id for e in r.ended))
        exits = [e for e in r.ami_events if e["Event"] == "Newexten" and e["Context"] == "cc-exit"]
        assert exits and exits[0]["Exten"] == "callback"
        assert r.routing.router.waiting_calls("support") == [call_id]
        r.routing.resume("agent1001")  # the agent is free: reserved for the callback, its phone rings first
        await _until(lambda: bool(r.of(CallAnswered)))
        [dialled] = r.of(CallbackDialled)
        assert (dialled.call_id, dialled.agent_id, dialled.number, dialled.attempt) == (
            call_id, "agent1001", "5557777", 1)
        [answered] = r.of(CallAnswered)
        assert answered.callback and answered.call_id == call_id
        assert r.routing.agent_states()["agent1001"] == AgentState.ON_CALL
        # the agent hangs up after 10 s: the callback is over
        await _until(lambda: r.routing.agent_states()["agent1001"] != AgentState.ON_CALL)
        [callback_call] = [e for e in r.ended if e.record.call_id == f"cb-{call_id}-1"]
        assert (callback_call.record.direction.value, callback_call.record.outcome.value,
                callback_call.record.dnis) == ("outbound", "answered", "5557777")
        assert r.of(CallbackRequested) and r.routing.router.call(call_id) is None


async def test_a_busy_number_is_tried_again_then_given_up(make_rig: Callable[[AcdFile], Any]) -> None:
    async with rig(make_rig) as r:
        call_id = await _waiting_caller(r, "5550000")  # busy (the simulated customers' rule)
        r.routing.request_callback(call_id)
        r.routing.resume("agent1001")
        await _until(lambda: len(r.of(CallbackFailed)) == 2, within=15)
        first, last = r.of(CallbackFailed)
        assert first.retry_at is not None and last.retry_at is None  # max_attempts 2: routing ends here
        assert [d.attempt for d in r.of(CallbackDialled)] == [1, 2]
        assert not r.of(CallAnswered)
        assert r.routing.router.call(call_id) is None


async def test_a_callback_taken_by_the_ivr_joins_the_queue_once_the_call_is_over() -> None:
    """The IVR notes the request during the call; the ACD takes it at CallEnded (the caller's line is free
    then), reserves the agent and dials; a call an agent answered after all is not called back."""
    ami = RecordingAmi()
    service = RoutingService(build(ACD, Path("acd.yaml")), ami, lambda: 1000.0)
    service.restore([], 1000.0)
    service.pause("agent1001", "break")
    for call_id in ("ivr-cb", "answered-cb"):
        service.handle(CallStarted(990.0, call_id, Direction.INBOUND, "5551001", None, "8005550100",
                                   f"PJSIP/cc-trunk-{call_id}"))
        service.note_ivr_callback(call_id, "support", "5550123")
    assert service.router.call("ivr-cb") is None  # nothing before the call is over
    service.handle(CallEnded(1000.0, "answered-cb", _record("answered-cb", CallOutcome.ANSWERED)))
    service.handle(CallEnded(1000.0, "ivr-cb", _record("ivr-cb", CallOutcome.ABANDONED)))
    view = service.router.call("ivr-cb")
    assert view is not None and view.callback_number == "5550123" and view.queue == "support"
    assert service.router.call("answered-cb") is None
    service.resume("agent1001")
    await service.drain()
    [originate] = [a for a in ami.sent if a["Action"] == "Originate"]
    assert originate["ChannelId"] == "cb-ivr-cb-1" and originate["Exten"] == "5550123"
    assert service.router.agent_state("agent1001") is AgentState.RESERVED


def _record(call_id: str, outcome: CallOutcome) -> CallRecord:
    return CallRecord(call_id, Direction.INBOUND, "5551001", "8005550100", "support", None, (), outcome,
                      990.0, None, 1000.0, 10.0, 0.0, 0.0)
