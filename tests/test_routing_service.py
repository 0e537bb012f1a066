"""The ACD wired to Asterisk: the simulated PBX over AMI, the tracker, the router, its decisions.

Everything between the caller and the agent's phone is the production path: the simulator speaks AMI
over TCP, the tracker turns its events into domain events, the routing service feeds the router and
redirects callers into the connect context, the bots answer or not.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sim_harness import LAB
from waiting import until as _until

from acd.events import AcdEvent, AgentStateChanged, CallAnswered, RingNoAnswer
from acd.events import CallAbandoned as AcdCallAbandoned
from acd.model import AgentState
from callcenter.asterisk.dialplan import read_dialplan
from callcenter.routing.config import AcdFile, build
from callcenter.routing.service import RoutingService
from callcenter.simulator.ami_server import AmiServer
from callcenter.simulator.clock import LoopClock
from callcenter.simulator.pbx import Pbx
from callcenter.simulator.people import AgentBehaviour, CallerBehaviour, People, Span
from cti.connection import AmiConnection
from cti.events import CallEnded, DomainEvent
from cti.pipeline import CtiPipeline
from cti.tracker import Tracker

SPEED = 20.0

ACD = AcdFile.model_validate({
    "queues": {"support": {"skills": {"support": 1}, "wrap_up": 2, "ring_timeout": 6}},
    "agents": {
        "agent1001": {"skills": {"support": 50}, "queues": ["support"], "login": "auto"},
        "agent1002": {"skills": {"support": 50}, "queues": ["support"], "login": "auto"},
        "agent1004": {"skills": {"support": 90}, "queues": ["support"], "login": "auto"},
    },
})



@dataclass
class Center:
    pbx: Pbx
    people: People
    routing: RoutingService
    tracker_events: list[DomainEvent] = field(default_factory=list)
    acd_events: list[AcdEvent] = field(default_factory=list)

    def ended(self) -> list[CallEnded]:
        return [e for e in self.tracker_events if isinstance(e, CallEnded)]

    def acd(self, kind: type) -> list[AcdEvent]:
        return [e for e in self.acd_events if isinstance(e, kind)]


@pytest.fixture
async def center() -> AsyncIterator[Center]:
    pbx = Pbx(read_dialplan(LAB / "extensions.conf"), LoopClock(SPEED))
    people = People(pbx, random.Random(5))
    answers = AgentBehaviour(Span(1.0, 1.0), 0.0, Span(4, 4))
    people.add_agent("agent1001", "1001", "Agent One", answers)
    people.add_agent("agent1002", "1002", "Agent Two", answers)
    people.add_agent("agent1004", "1004", "Agent Four", AgentBehaviour(Span(1, 1), 1.0, Span(4, 4)))  # never
    server = AmiServer(pbx, port=0, username="cc", secret="ccsecret")
    await server.start()
    center = Center(pbx, people, None)  # type: ignore[arg-type]
    config = build(ACD, Path("acd.yaml"))

    def publish(events: list[DomainEvent]) -> None:
        center.tracker_events.extend(events)
        for event in events:
            center.routing.handle(event)

    pipeline = CtiPipeline(Tracker(), publish, clock=pbx.clock.now)
    connection = AmiConnection("127.0.0.1", server.port, "cc", "ccsecret", on_event=pipeline.on_event,
                               on_ready=pipeline.on_ready, on_down=pipeline.on_down)
    center.routing = RoutingService(config, connection.send, pbx.clock.now, center.acd_events.extend, speed=SPEED)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(connection.run()), loop.create_task(center.routing.run())]
    try:
        await _until(lambda: connection.ready and pipeline.stats.resyncs > 0)
        center.routing.restore(pipeline.tracker.live_calls(), pbx.clock.now())
        yield center
    finally:
        await connection.close()
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()


def _caller(number: str, patience: float = 120, talk: float = 3) -> CallerBehaviour:
    return CallerBehaviour("8005550100", 0, Span(patience, patience), Span(talk, talk), numbers=(number,))


async def test_callers_are_routed_to_free_agents_and_answered(center: Center) -> None:
    assert center.routing.agent_states() == {"agent1001": AgentState.AVAILABLE, "agent1002": AgentState.AVAILABLE,
                                             "agent1004": AgentState.AVAILABLE}
    for number in ("5550001", "5550002"):
        center.people.call(_caller(number))
    await _until(lambda: len(center.ended()) == 2)
    outcomes = sorted((e.record.caller, e.record.outcome.value) for e in center.ended())
    assert outcomes == [("5550001", "answered"), ("5550002", "answered")]
    answered = center.acd(CallAnswered)
    assert len(answered) == 2 and all(isinstance(a, CallAnswered) for a in answered)
    # agent1004 never answers: if it was offered a caller, it missed it and is not ready now
    missed = [e for e in center.acd(RingNoAnswer) if isinstance(e, RingNoAnswer)]
    assert all(m.agent_id == "agent1004" for m in missed)
    if missed:
        assert center.routing.agent_states()["agent1004"] == AgentState.NOT_READY
    # every answering agent went through wrap-up (2 s) and is available again
    await _until(lambda: all(s in (AgentState.AVAILABLE, AgentState.NOT_READY)
                             for s in center.routing.agent_states().values()))
    wrap_ups = [e for e in center.acd(AgentStateChanged) if isinstance(e, AgentStateChanged)
                and e.state == AgentState.WRAP_UP]
    assert {w.agent_id for w in wrap_ups} == {a.agent_id for a in answered if isinstance(a, CallAnswered)}


async def test_a_ring_no_answer_puts_the_caller_back_and_another_agent_answers(center: Center) -> None:
    """agent1004 rings and does not answer (Dial's ring timeout): the caller keeps its place, the
    agent is set not ready (ring-no-answer), and the caller goes to an agent who answers."""
    for agent in ("agent1001", "agent1002"):
        center.routing.pause(agent, "break")
    center.people.call(_caller("5550003"))
    await _until(lambda: bool(center.acd(RingNoAnswer)))
    [miss] = center.acd(RingNoAnswer)
    assert isinstance(miss, RingNoAnswer) and miss.agent_id == "agent1004"
    assert center.routing.agent_states()["agent1004"] == AgentState.NOT_READY
    center.routing.resume("agent1001")
    await _until(lambda: bool(center.ended()))
    [ended] = center.ended()
    assert (ended.record.outcome.value, ended.record.agent) == ("answered", "agent1001")
    assert ended.record.agents_rung == ("agent1004", "agent1001")


async def test_a_caller_who_hangs_up_while_waiting_is_abandoned(center: Center) -> None:
    for agent in ("agent1001", "agent1002", "agent1004"):
        center.routing.pause(agent, "lunch")
    center.people.call(_caller("5550004", patience=3))
    await _until(lambda: bool(center.acd(AcdCallAbandoned)))
    [abandoned] = center.acd(AcdCallAbandoned)
    assert isinstance(abandoned, AcdCallAbandoned) and abandoned.queue == "support"
    assert 2.5 < abandoned.wait_seconds < 6


async def test_a_caller_who_hangs_up_while_an_agent_rings_is_abandoned_and_the_agent_is_free(center: Center) -> None:
    """The agent did not miss the call: no ring-no-answer is counted, the agent is ready again at once,
    and the abandon names the agent that was ringing."""
    for agent in ("agent1001", "agent1002"):
        center.routing.pause(agent, "lunch")
    center.people.call(_caller("5550006", patience=3))  # agent1004 never answers; ring_timeout is 6 s
    await _until(lambda: center.routing.agent_states()["agent1004"] == AgentState.RESERVED)
    await _until(lambda: bool(center.acd(AcdCallAbandoned)))
    [abandoned] = center.acd(AcdCallAbandoned)
    assert isinstance(abandoned, AcdCallAbandoned)
    assert (abandoned.queue, abandoned.agent_id) == ("support", "agent1004")
    await _until(lambda: bool(center.ended()))
    [ended] = center.ended()
    assert ended.record.outcome.value == "abandoned" and ended.record.agents_rung == ("agent1004",)
    assert center.routing.agent_states()["agent1004"] == AgentState.AVAILABLE
    assert not center.acd(RingNoAnswer)


async def test_an_agent_logging_out_while_ringing_hands_the_caller_back(center: Center) -> None:
    """The offer is withdrawn: the caller leaves the ringing Dial for the waiting room, keeps its place,
    and goes to another agent; the agent is logged out; no ring-no-answer is counted."""
    for agent in ("agent1001", "agent1002"):
        center.routing.pause(agent, "break")
    center.people.call(_caller("5550005"))
    await _until(lambda: center.routing.agent_states()["agent1004"] == AgentState.RESERVED)
    center.routing.resume("agent1002")  # busy agents only: agent1004 rings, agent1002 is free again
    withdrawn = center.routing.log_out("agent1004")
    assert [type(e).__name__ for e in withdrawn][:1] == ["OfferWithdrawn"]
    await _until(lambda: bool(center.ended()))
    [ended] = center.ended()
    assert (ended.record.outcome.value, ended.record.agent) == ("answered", "agent1002")
    assert ended.record.agents_rung == ("agent1004", "agent1002")
    assert center.routing.agent_states()["agent1004"] == AgentState.LOGGED_OUT
    assert not center.acd(RingNoAnswer)


async def test_a_restarted_server_takes_the_calls_back_without_offering_any_twice() -> None:
    """Our server restarts mid-queue: caller A waits, caller B talks to agent1001. The new tracker and
    router learn both from the resync: A keeps its place and is offered once, B stays with agent1001."""
    pbx = Pbx(read_dialplan(LAB / "extensions.conf"), LoopClock(SPEED))
    people = People(pbx, random.Random(9))
    people.add_agent("agent1001", "1001", "Agent One", AgentBehaviour(Span(1, 1), 0.0, Span(600, 600)))
    people.add_agent("agent1002", "1002", "Agent Two", AgentBehaviour(Span(1, 1), 0.0, Span(600, 600)))
    people.add_agent("agent1004", "1004", "Agent Four", AgentBehaviour(Span(1, 1), 1.0, Span(600, 600)))
    server = AmiServer(pbx, port=0, username="cc", secret="ccsecret")
    await server.start()
    config = build(ACD, Path("acd.yaml"))

    async def start_server() -> tuple[AmiConnection, RoutingService, list[AcdEvent], list[asyncio.Task[None]]]:
        acd_events: list[AcdEvent] = []
        tracker = Tracker()
        routing = RoutingService(config, lambda action: connection.send(action), pbx.clock.now, acd_events.extend,
                                 speed=SPEED)

        def publish(events: list[DomainEvent]) -> None:
            for event in events:
                routing.handle(event)

        pipeline = CtiPipeline(tracker, publish, clock=pbx.clock.now)

        async def ready(link: AmiConnection) -> None:
            await pipeline.on_ready(link)
            routing.restore(tracker.live_calls(), pbx.clock.now())

        connection = AmiConnection("127.0.0.1", server.port, "cc", "ccsecret", on_event=pipeline.on_event,
                                   on_ready=ready, on_down=pipeline.on_down)
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(connection.run()), loop.create_task(routing.run())]
        await _until(lambda: pipeline.stats.resyncs > 0
                     and routing.agent_states()["agent1001"] != AgentState.LOGGED_OUT)
        return connection, routing, acd_events, tasks

    async def stop_server(connection: AmiConnection, tasks: list[asyncio.Task[None]]) -> None:
        await connection.close()
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        connection, routing, events, tasks = await start_server()
        await _until(lambda: routing.agent_states()["agent1001"] == AgentState.AVAILABLE)
        for agent in ("agent1002", "agent1004"):
            routing.pause(agent, "break")
        people.call(_caller("5550010", patience=600, talk=600))  # B: agent1001 answers
        await _until(lambda: routing.agent_states()["agent1001"] == AgentState.ON_CALL)
        routing.pause("agent1001", "break")  # deferred: it ends with the call
        people.call(_caller("5550011", patience=600, talk=5))  # A: nobody free, waits
        await _until(lambda: len(routing.router.waiting_calls("support")) == 1)
        waiting_since = routing.router.call(routing.router.waiting_calls("support")[0])
        assert waiting_since is not None
        await stop_server(connection, tasks)

        # the new server: every agent logs in again (auto), A is offered to agent1002 (free), B stays
        connection, routing, events, tasks = await start_server()
        await _until(lambda: any(isinstance(e, CallAnswered) for e in events))
        offered = [e for e in events if type(e).__name__ == "CallOffered"]
        assert len(offered) == 1 and offered[0].call_id == waiting_since.call_id  # type: ignore[attr-defined]
        assert offered[0].agent_id in ("agent1002", "agent1004")  # type: ignore[attr-defined]
        a = routing.router.call(waiting_since.call_id)
        assert a is not None and a.arrived_at == pytest.approx(waiting_since.arrived_at, abs=0.5)
        assert routing.agent_states()["agent1001"] == AgentState.ON_CALL  # still talking to B
        await stop_server(connection, tasks)
    finally:
        await server.stop()
